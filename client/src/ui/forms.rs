//! The fields of the contact, organization, case and activity forms, their current values, and the edits
//! they make: the form's values go into the same flag structs the CLI parses
//! (`ContactFields`, ...) and through the same edit builders, so the validation and its
//! messages are the CLI's; each changed field is also checked alone, to put its error beside it.

use crate::cli::{ActivityFields, CaseFields, ContactFields, OrgFields};
use crate::commands::shared::{
    activity_edits, activity_needs_a_time, case_add_edits, case_edits, contact_edits, org_edits,
};
use crate::store::Store;
use anyhow::Result;
use crm_shared::model::{ACTIVITY_KINDS, GRADES, ORG_KINDS};
use crm_shared::schema::{Edit, Record};
use crm_shared::values::{format_amount, format_datetime, parse_duration_minutes, Currency};
use crm_shared::RecordKind;
use std::collections::BTreeMap;

/// How a field is typed in.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    Text,
    Email,
    Tel,
    Date,
    Area,
    Choice(&'static [&'static str]),
}

/// One field of a form: its name (the CLI's flag without `--`), its label and its input.
#[derive(Debug, Clone, Copy)]
pub struct FormField {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
}

const fn f(name: &'static str, label: &'static str, input: Input) -> FormField {
    FormField { name, label, input }
}

const CONTACT: &[FormField] = &[
    f("name", "Name", Input::Text),
    f("title", "Job title", Input::Text),
    f("department", "Department", Input::Text),
    f("email", "E-mail", Input::Email),
    f("phone", "Phone", Input::Tel),
    f("address", "Address", Input::Area),
    f("region", "Region", Input::Text),
    f("source", "Source", Input::Text),
    f("notes", "Notes", Input::Area),
];
const ORG: &[FormField] = &[
    f("name", "Name", Input::Text),
    f("industry", "Industry", Input::Text),
    f("kind", "Kind", Input::Choice(ORG_KINDS)),
    f("website", "Website", Input::Text),
    f("email", "E-mail", Input::Email),
    f("phone", "Phone", Input::Tel),
    f("address", "Address", Input::Area),
    f("region", "Region", Input::Text),
    f("notes", "Notes", Input::Area),
];
const CASE: &[FormField] = &[
    f("title", "Title", Input::Text),
    f("org", "Organization (id)", Input::Text),
    f("amount", "Amount", Input::Text),
    f("currency", "Currency", Input::Text),
    f("probability", "Probability (%)", Input::Text),
    f("grade", "Grade", Input::Choice(GRADES)),
    f("close_date", "Close date", Input::Date),
    f("region", "Region", Input::Text),
    f("source", "Source", Input::Text),
    f("notes", "Notes", Input::Area),
];
// Times are typed as the CLI takes them (`tomorrow 10:00`, `monday 14:30`, `2026-12-01T10:00`);
// the duration sets the end (`--end`), as `30m`, `1h`, `1d`.
const ACTIVITY: &[FormField] = &[
    f("kind", "Kind", Input::Choice(ACTIVITY_KINDS)),
    f("subject", "Subject", Input::Text),
    f("at", "When (e.g. tomorrow 10:00)", Input::Text),
    f("duration", "Duration (e.g. 1h)", Input::Text),
    f("due", "Due, for a task", Input::Text),
    f("remind", "Remind before (e.g. 30m)", Input::Text),
    f("location", "Location", Input::Text),
    f("contact", "Contact (id)", Input::Text),
    f("org", "Organization (id)", Input::Text),
    f("case", "Case (id)", Input::Text),
    f("notes", "Notes", Input::Area),
];

/// The kinds with a form, by the name in their address.
pub fn kind_of(name: &str) -> Option<RecordKind> {
    match name {
        "contact" => Some(RecordKind::Contact),
        "organization" => Some(RecordKind::Organization),
        "case" => Some(RecordKind::Case),
        "activity" => Some(RecordKind::Activity),
        _ => None,
    }
}

pub fn fields_of(kind: RecordKind) -> &'static [FormField] {
    match kind {
        RecordKind::Contact => CONTACT,
        RecordKind::Organization => ORG,
        RecordKind::Activity => ACTIVITY,
        _ => CASE,
    }
}

/// The value a field's input starts with: as `edit` takes it (amounts as decimals).
pub fn current(r: Option<&Record>, name: &str) -> String {
    let Some(r) = r else { return String::new() };
    match name {
        "email" => r.labelled("emails").first().map(|l| l.value.clone()),
        "phone" => r.labelled("phones").first().map(|l| l.value.clone()),
        "amount" | "budget" => r.int(name).map(|m| {
            let c = r
                .str("currency")
                .and_then(|c| Currency::parse(c).ok())
                .unwrap_or(Currency::EUR);
            format_amount(m, c)
        }),
        "probability" | "remind" => r.int(name).map(|p| p.to_string()),
        "at" if r.kind == RecordKind::Activity => r.str("start").map(str::to_string),
        _ => r.str(name).map(str::to_string),
    }
    .unwrap_or_default()
}

/// The edits of the given field values (name to text) for a record of `kind`, as the CLI's
/// `add` (`existing` None) or `edit` makes them.
pub fn edits(
    store: &Store,
    kind: RecordKind,
    values: &BTreeMap<String, String>,
    existing: Option<&Record>,
) -> Result<Vec<Edit>> {
    let get = |n: &str| values.get(n).cloned();
    let list = |n: &str| values.get(n).map(|v| vec![v.clone()]).unwrap_or_default();
    let adding = existing.is_none();
    match kind {
        RecordKind::Contact => {
            let f = ContactFields {
                name: get("name"),
                title: get("title"),
                department: get("department"),
                emails: list("email"),
                phones: list("phone"),
                address: get("address"),
                region: get("region"),
                source: get("source"),
                notes: get("notes"),
                ..ContactFields::default()
            };
            contact_edits(store, &f, existing, adding)
        }
        RecordKind::Organization => {
            let f = OrgFields {
                name: get("name"),
                industry: get("industry"),
                kind: get("kind"),
                website: get("website"),
                emails: list("email"),
                phones: list("phone"),
                address: get("address"),
                region: get("region"),
                notes: get("notes"),
                ..OrgFields::default()
            };
            org_edits(store, &f, existing, adding)
        }
        RecordKind::Activity => activity_edits(store, &activity_fields(store, values)?, existing),
        _ => case_edits(store, &case_fields(values), existing),
    }
}

/// The case flags of a form's values.
fn case_fields(values: &BTreeMap<String, String>) -> CaseFields {
    let get = |n: &str| values.get(n).cloned();
    CaseFields {
        title: get("title"),
        org: get("org"),
        amount: get("amount"),
        currency: get("currency"),
        probability: get("probability"),
        grade: get("grade"),
        close_date: get("close_date"),
        region: get("region"),
        source: get("source"),
        notes: get("notes"),
        ..CaseFields::default()
    }
}

/// The activity flags of a form's values; a duration sets the end after the start.
fn activity_fields(store: &Store, values: &BTreeMap<String, String>) -> Result<ActivityFields> {
    let get = |n: &str| values.get(n).cloned().filter(|v| !v.trim().is_empty());
    let end = match (get("duration"), get("at")) {
        (Some(d), at) => {
            let minutes = parse_duration_minutes(&d)
                .map_err(|e| anyhow::anyhow!("{e} (a duration is e.g. 45m, 1h or 1d)"))?;
            // Alone (checking the field by itself), only its form can be checked.
            match at {
                Some(at) => {
                    let start = store.dates.moment(&at)?;
                    Some(format_datetime(start + chrono::Duration::minutes(minutes)))
                }
                None => None,
            }
        }
        (None, _) => None,
    };
    Ok(ActivityFields {
        kind: get("kind"),
        subject: get("subject"),
        at: get("at"),
        end,
        due: get("due"),
        case: get("case"),
        contact: get("contact"),
        org: get("org"),
        location: get("location"),
        remind: get("remind"),
        notes: get("notes"),
        ..ActivityFields::default()
    })
}

/// The edits of a new record: as [`edits`] makes them, and for a case as `crm case add` does
/// (its first stage and the stage change that starts its history), for an activity as
/// `crm activity add` does (it needs a time).
pub fn new_edits(
    store: &Store,
    kind: RecordKind,
    values: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<Vec<Edit>> {
    match kind {
        RecordKind::Case => case_add_edits(store, &case_fields(values), now_ms),
        RecordKind::Activity => {
            let f = activity_fields(store, values)?;
            activity_needs_a_time(&f)?;
            activity_edits(store, &f, None)
        }
        _ => edits(store, kind, values, None),
    }
}

/// What a submitted form changes: the fields whose value differs from the one the form was
/// shown with (so a field someone else changed meanwhile is not written back), and for each
/// changed field that the CLI would refuse, its error.
pub fn changes(
    store: &Store,
    kind: RecordKind,
    submitted: &BTreeMap<String, String>,
    existing: Option<&Record>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut changed = BTreeMap::new();
    for field in fields_of(kind) {
        let value = submitted
            .get(field.name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        let shown = submitted
            .get(&format!("shown_{}", field.name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        // A new record takes its non-empty fields.
        if (existing.is_some() && value != shown) || (existing.is_none() && !value.is_empty()) {
            changed.insert(field.name.to_string(), value);
        }
    }
    let mut errors = BTreeMap::new();
    for (name, value) in &changed {
        let one = BTreeMap::from([(name.clone(), value.clone())]);
        if let Err(e) = edits(store, kind, &one, existing) {
            errors.insert(name.clone(), e.to_string());
        }
    }
    (changed, errors)
}
