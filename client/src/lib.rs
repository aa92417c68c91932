//! The `crm` client: command line, local store and read model of the offline CRM.

pub mod cli;
pub mod commands;
pub mod error;
pub mod interchange;
pub mod live;
pub mod mail;
pub mod output;
pub mod pdf;
pub mod replace_file;
pub mod session;
pub mod store;
pub mod ui;

pub use error::StoreError;
pub use store::{Identity, Store};
