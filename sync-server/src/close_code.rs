//! The WebSocket close codes the server sends (RFC 6455, section 7.4.1), in one place: the
//! engine's own (re-exported from [`crm_shared::engine::close_code`]) and those the server's shell
//! decides.

pub use crm_shared::engine::close_code::{INVALID_DATA, NORMAL, PROTOCOL_ERROR, REPLACED};

/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// Data the server does not accept (a chunk kind sync never sends).
pub const UNSUPPORTED: u16 = 1003;
/// A policy violation: no join in time, a revoked token, a send queue left full.
pub const POLICY: u16 = 1008;
/// A message too big to process (a frame over the limit, changes that inflate too far).
pub const TOO_BIG: u16 = 1009;
/// The server failed (storage).
pub const INTERNAL: u16 = 1011;
