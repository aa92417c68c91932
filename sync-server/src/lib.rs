//! The sync server of the offline CRM: axum WebSocket shell around the sans-IO sync engine of
//! `crm-shared`, with an embedded SQLite store.

pub mod access;
pub mod admin;
pub mod backup;
pub mod close_code;
pub mod config;
pub mod data_dir;
pub mod directory;
pub mod hub;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod server;
pub mod storage;
pub mod tls;
