//! The pure core of the offline CRM: domain model, Automerge schema, sync protocol and engine.
//!
//! Architecture invariant: nothing in this crate opens a file or a socket, reads the clock, draws
//! random numbers or keeps global state: time and randomness are passed in by the caller. The
//! exceptions (the random actor id `Automerge::new()` draws, two per-thread caches of document
//! ids) are listed with their reasons in `tests/tidy.rs`, which enforces the rule.

pub mod automerge_format;
pub mod dates;
pub mod document_id;
pub mod engine;
pub mod heads;
pub mod model;
pub mod price_lists;
pub mod pricing;
pub mod protocol;
pub mod quantity;
pub mod quote_rules;
pub mod rates;
pub mod schema;
pub mod values;

pub use document_id::{DocumentId, DocumentIdError};
pub use model::{RecordKind, Stage};
