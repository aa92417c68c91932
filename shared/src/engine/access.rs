//! The access-control hook of the engine.

use crate::document_id::DocumentId;
use crate::protocol::{PeerId, PeerMetadata};

use super::api::ConnectionId;

/// Who is asking: the connection (the shell maps it to an authenticated user), the peer id and what
/// the peer said about itself in the handshake.
#[derive(Debug, Clone, Copy)]
pub struct PeerContext<'a> {
    pub conn: ConnectionId,
    pub peer_id: &'a PeerId,
    pub metadata: &'a PeerMetadata,
}

/// Decides which peer may read and write which document (books/territories plug in here).
///
/// Architecture invariant: a denied read is answered exactly like a request for an unknown document
/// (`doc-unavailable`), so a peer cannot learn that a document exists. A denied write makes the
/// peer's (peer, document) sync state read-only: its changes are not applied, ours still flow to it.
pub trait AccessPolicy: Send + Sync {
    fn may_read(&self, _peer: PeerContext<'_>, _doc: &DocumentId) -> bool {
        true
    }
    fn may_write(&self, _peer: PeerContext<'_>, _doc: &DocumentId) -> bool {
        true
    }
}

/// The default policy: every peer may read and write every document.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {}

/// A policy from two closures, handy in tests and small shells.
pub struct FnPolicy<R, W> {
    pub read: R,
    pub write: W,
}

impl<R, W> AccessPolicy for FnPolicy<R, W>
where
    R: Fn(PeerContext<'_>, &DocumentId) -> bool + Send + Sync,
    W: Fn(PeerContext<'_>, &DocumentId) -> bool + Send + Sync,
{
    fn may_read(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        (self.read)(peer, doc)
    }
    fn may_write(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        (self.write)(peer, doc)
    }
}
