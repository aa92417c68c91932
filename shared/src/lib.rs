//! The pure core of the offline CRM: domain model, Automerge schema, sync protocol and engine.
//!
//! Architecture invariant: nothing in this crate opens a file or a socket, reads the clock or draws
//! random numbers. Time and randomness are passed in by the caller.

pub mod dates;
pub mod document_id;
pub mod heads;
pub mod model;
pub mod protocol;
pub mod rates;
pub mod schema;
pub mod sync;
pub mod values;

pub use document_id::{DocumentId, DocumentIdError};
pub use model::{RecordKind, Stage};
