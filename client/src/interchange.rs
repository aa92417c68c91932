//! Records coming in from, and going out to, other products' files: CSV, vCard and iCalendar.
//!
//! Readers turn a file into [`Incoming`] items (one per row, card or calendar component, each
//! with the line it starts on) plus the [`Problem`]s of what they could not read; writers turn
//! records into a file. Neither touches the store: `commands/import.rs` matches and writes.

pub mod csv_in;
pub mod csv_out;
pub mod ical_in;
pub mod ical_out;
mod ical_series;
mod recurrence;
pub mod text;
pub mod vcard_in;
pub mod vcard_out;
pub mod vtimezone;

use std::fmt;

/// The file formats `crm import` reads and `crm export` writes (besides JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Vcard,
    Ical,
}

impl Format {
    /// The format of a file: from its first non-blank text (`BEGIN:VCARD`, `BEGIN:VCALENDAR`),
    /// else its extension, else CSV.
    pub fn detect(path: &std::path::Path, text: &str) -> Format {
        let head = text.trim_start_matches('\u{feff}').trim_start();
        let upper = head.get(..16).unwrap_or(head).to_ascii_uppercase();
        if upper.starts_with("BEGIN:VCARD") {
            return Format::Vcard;
        }
        if upper.starts_with("BEGIN:VCALENDAR") {
            return Format::Ical;
        }
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("vcf" | "vcard") => Format::Vcard,
            Some("ics" | "ical" | "ifb") => Format::Ical,
            _ => Format::Csv,
        }
    }
}

/// Something the reader could not read, at a line of the file (1-based).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A labelled e-mail or phone as it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelledIn {
    pub label: String,
    pub value: String,
}

/// A person as read from a row or a card.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactIn {
    /// The file's own id for the person (vCard UID, a CSV id column).
    pub uid: Option<String>,
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub emails: Vec<LabelledIn>,
    pub phones: Vec<LabelledIn>,
    pub address: Option<String>,
    /// Organization names (vCard ORG, CSV Company), created or linked by name.
    pub orgs: Vec<String>,
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub source: Option<String>,
    pub do_not_call: Option<bool>,
    /// RELATED: (relationship kind, the other card's UID or a record id).
    pub related: Vec<(String, String)>,
}

/// An organization as read from a card (`KIND:org`) or a row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgIn {
    pub uid: Option<String>,
    pub name: String,
    pub industry: Option<String>,
    pub kind: Option<String>,
    pub website: Option<String>,
    pub emails: Vec<LabelledIn>,
    pub phones: Vec<LabelledIn>,
    pub address: Option<String>,
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    /// Relationships as a contact's; (`parent`, its UID) for the parent organization.
    pub related: Vec<(String, String)>,
}

/// An appointment or a task as read from a calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityIn {
    pub uid: Option<String>,
    /// One of the activity kinds (`meeting`, `task`, ...).
    pub kind: String,
    pub subject: String,
    /// Local date-times, `YYYY-MM-DDTHH:MM`.
    pub start: Option<String>,
    pub end: Option<String>,
    pub due: Option<String>,
    pub status: Option<String>,
    pub location: Option<String>,
    /// Minutes before the start (or due time).
    pub remind: Option<i64>,
    pub attendees: Vec<String>,
    pub notes: Option<String>,
    /// (`case`, `contact` or `org`, that record's id in the file) of our own export.
    pub related: Vec<(String, String)>,
    /// An occurrence of a recurring event or task: the series' key in the file (its UID).
    pub series: Option<String>,
    /// How the series repeats (`RRULE:...`).
    pub repeat: Option<String>,
}

/// One record read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Contact(ContactIn),
    Org(OrgIn),
    Activity(ActivityIn),
}

impl Incoming {
    pub fn uid(&self) -> Option<&str> {
        match self {
            Incoming::Contact(c) => c.uid.as_deref(),
            Incoming::Org(o) => o.uid.as_deref(),
            Incoming::Activity(a) => a.uid.as_deref(),
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Incoming::Contact(c) => &c.name,
            Incoming::Org(o) => &o.name,
            Incoming::Activity(a) => &a.subject,
        }
    }
}

/// What a reader made of a file: the records with the line each starts on, and what it could not
/// read. `fatal` problems (a truncated card, a missing header) mean the file is refused whole.
#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<(usize, Incoming)>,
    pub skipped: Vec<Problem>,
    /// Read, but not all of it (a value left out, a time zone not known).
    pub warnings: Vec<Problem>,
    pub fatal: Vec<Problem>,
}

/// Text with runs of blank lines and trailing spaces trimmed; `None` when nothing is left.
pub fn clean(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The relationship kind a vCard RELATED type or a CSV relation names (`co-worker` is a
/// colleague; ours are written as `x-crm-KIND`).
pub fn relation_kind(text: &str) -> Option<&'static str> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_prefix("x-crm-").unwrap_or(&t);
    match t {
        "colleague" | "co-worker" | "coworker" => Some("colleague"),
        "referred-by" => Some("referred-by"),
        "reports-to" | "manager" => Some("reports-to"),
        "subsidiary-of" | "parent" => Some("subsidiary-of"),
        "competitor-of" => Some("competitor-of"),
        _ => None,
    }
}
