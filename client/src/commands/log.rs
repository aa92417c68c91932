//! `crm log call|visit|email|meeting|note --contact ID ...`: an activity that already happened,
//! saved done in one line (at now unless `--at` says when).

use super::activity::edits;
use super::{record, Ctx};
use crate::cli::{ActivityFields, LogArgs, LogKind};
use anyhow::Result;
use crm_shared::values::{format_datetime, parse_duration_minutes};
use crm_shared::RecordKind;

pub fn run(ctx: &Ctx, a: LogArgs) -> Result<()> {
    let kind = match a.kind {
        LogKind::Call => "call",
        LogKind::Visit => "visit",
        LogKind::Email => "email",
        LogKind::Meeting => "meeting",
        LogKind::Note => "note",
    };
    record::add(ctx, RecordKind::Activity, |store| {
        let contact = match &a.contact {
            Some(c) => Some(store.resolve(c, Some(RecordKind::Contact))?.0),
            None => None,
        };
        let org = match (&a.org, contact) {
            (Some(o), _) => Some(o.clone()),
            (None, Some(c)) => store
                .conn()
                .query_row(
                    "SELECT org_id FROM rm_contact_orgs WHERE contact_id = ?1 ORDER BY org_id LIMIT 1",
                    [c.to_string()],
                    |r| r.get::<_, String>(0),
                )
                .ok(),
            (None, None) => None,
        };
        let with = match (contact, &org, &a.case) {
            (Some(c), _, _) => store.record(c)?.title().to_string(),
            (None, Some(o), _) => store
                .record(store.resolve(o, Some(RecordKind::Organization))?.0)?
                .title()
                .to_string(),
            (None, None, Some(c)) => store
                .record(store.resolve(c, Some(RecordKind::Case))?.0)?
                .title()
                .to_string(),
            (None, None, None) if a.subject.is_some() => String::new(),
            (None, None, None) => anyhow::bail!(
                "say who it was with: --contact ID (or --org, --case), or give a --subject"
            ),
        };
        let subject = a.subject.clone().unwrap_or_else(|| match a.kind {
            LogKind::Call => format!("Call with {with}"),
            LogKind::Visit => format!("Visit to {with}"),
            LogKind::Email => format!("E-mail with {with}"),
            LogKind::Meeting => format!("Meeting with {with}"),
            LogKind::Note => format!("Note on {with}"),
        });
        let at = store.dates.moment(a.at.as_deref().unwrap_or("now"))?;
        if let Some(typed) = &a.at {
            let iso = format_datetime(at);
            super::edits::echo("at", typed, &iso, &crm_shared::dates::describe_moment(at));
        }
        let end = match &a.duration {
            Some(d) => Some(format_datetime(
                at + chrono::Duration::minutes(parse_duration_minutes(d)?),
            )),
            None => None,
        };
        let fields = ActivityFields {
            kind: Some(kind.to_string()),
            subject: Some(subject),
            at: Some(format_datetime(at)),
            end,
            status: Some("done".into()),
            case: a.case.clone(),
            contact: contact.map(|c| c.to_string()),
            org,
            location: a.location.clone(),
            notes: a.notes.clone(),
            outcome: a.outcome.clone(),
            ..Default::default()
        };
        edits(store, &fields, None)
    })
}
