//! How records live in Automerge documents.
//!
//! One record is one small Automerge document (docs/design.md: constant cost per edit and per sync).
//! Its root map holds:
//! - `schema` (uint): the schema version that created it ([`SCHEMA_VERSION`]);
//! - `type` (str): the [`RecordKind`](crate::model::RecordKind);
//! - the record's metadata: `created_at` (ms since the epoch), `created_by`, `owner`, `book`,
//!   `deleted_at` (soft deletion: the map is never removed, so a concurrent edit survives);
//! - one key per field of that kind, as [`fields`] describes: scalars for plain values, a text
//!   object for notes (merged character by character), a map used as a set for tags, a list of
//!   `{label, value}` maps for e-mails and phones, a map from id to role for links, a list of maps
//!   for the stage history.
//!
//! Every change carries its author (user, device, whether made offline) as JSON in the change
//! message, and its time; the actor id is the device's.
//!
//! Compatibility: readers ignore keys they do not know and report values of an unexpected shape
//! instead of failing ([`Record::problems`]), so an older client reads a newer record and a newer
//! client reads an older one.

mod author;
mod book;
mod company;
mod conflicts;
mod consistency;
mod distinct;
mod fields;
mod history;
mod mailing;
mod merge;
mod merge_log;
mod price_list;
mod read;
mod settings;
mod unmerge;
mod versions;
mod write;

pub use author::ChangeAuthor;
pub use book::{book_of_document, BOOK_KEY, CATALOGUE_BOOK};
pub use company::{Company, CompanyEdit, LogoFormat, MAX_LOGO_BYTES};
pub use conflicts::{conflicts, ConflictValue, FieldConflict};
pub use consistency::{attention, case_attention};
pub use distinct::{distinct_from, distinct_key, is_distinct_key};
pub use fields::{field, fields, FieldSpec, FieldType, LabelKind, DEMO_FIELD, EXTERNAL_IDS_FIELD};
pub use history::{history, HistoryEntry};
pub use mailing::{
    create_mailing, edit_mailing, read_schedule, read_send_log, schedule_id, send_log_id,
    MailingEdit, Schedule, SendLog, SendState, Sent,
};
pub use merge::{
    is_log_key, last_edits, merge_logs, plan_merge, LoggedMerge, LoggedValue, MergeError, MergeLog,
    Plan, Source, Take, MERGED_INTO,
};
pub use price_list::{is_price_list_id, price_list_id};
pub use read::{read_record, FieldValue, Labelled, ReadError, Record, StageChange};
pub use settings::{
    create_settings, edit_settings, read_settings, settings_id, valid_step_key, Settings,
    SettingsEdit, Step,
};
pub use unmerge::{linked_ids, plan_unmerge, to_undo};
pub use versions::{handover_edits, versions, HandoverEdit, Version};
pub use write::{
    apply_edits, apply_edits_and_commit, create_record, Edit, NewRecord, Scalar, WriteError,
};

/// The version of this schema. A record whose `schema` is higher was written by a newer client.
pub const SCHEMA_VERSION: u64 = 1;

#[cfg(test)]
mod tests;
