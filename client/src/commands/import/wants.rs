//! The values a record read from a file gives a record here ([`Want`]s), before they are
//! compared with what the record holds.

use crate::interchange::{ActivityIn, LabelledIn, OrgIn, Problem};
use crm_shared::values::{Email, Phone};
use crm_shared::DocumentId;

/// E-mails and phones that are not valid as such are kept as lines of the notes, not lost.
pub(super) fn keep_unusable_in_notes(
    line: usize,
    wants: Vec<Want>,
    warnings: &mut Vec<Problem>,
) -> Vec<Want> {
    let mut kept = Vec::new();
    let mut extra = Vec::new();
    for want in wants {
        match &want {
            Want::Labelled(field, l) if valid(field, &l.value).is_err() => {
                let what = if *field == "emails" {
                    "E-mail"
                } else {
                    "Phone"
                };
                warnings.push(Problem {
                    line,
                    reason: format!(
                        "{what} `{}` is not valid as one: kept in the notes",
                        l.value
                    ),
                });
                extra.push(format!("{what} ({}): {}", l.label, l.value));
            }
            _ => kept.push(want),
        }
    }
    if !extra.is_empty() {
        let mut notes = None;
        kept.retain(|w| match w {
            Want::Notes(n) => {
                notes = Some(n.clone());
                false
            }
            _ => true,
        });
        let mut text: Vec<String> = notes.into_iter().collect();
        text.extend(extra);
        kept.push(Want::Notes(text.join("\n")));
    }
    kept
}

pub(super) fn valid(field: &str, value: &str) -> Result<String, crm_shared::values::ValueError> {
    if field == "emails" {
        Email::parse(value).map(|e| e.as_str().to_string())
    } else {
        Phone::parse(value).map(|p| p.as_str().to_string())
    }
}

/// A value the file gives a record.
pub(super) enum Want {
    Scalar(&'static str, String),
    Minutes(&'static str, i64),
    Labelled(&'static str, LabelledIn),
    Set(&'static str, String),
    Link(&'static str, DocumentId),
    Notes(String),
}

pub(super) fn scalar(wants: &mut Vec<Want>, field: &'static str, v: Option<&String>) {
    if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
        wants.push(Want::Scalar(field, v.clone()));
    }
}

pub(super) fn labelled(wants: &mut Vec<Want>, field: &'static str, items: &[LabelledIn]) {
    wants.extend(items.iter().map(|l| Want::Labelled(field, l.clone())));
}

pub(super) fn org_wants(o: &OrgIn, wants: &mut Vec<Want>) {
    scalar(wants, "name", Some(&o.name));
    scalar(wants, "industry", o.industry.as_ref());
    scalar(wants, "kind", o.kind.as_ref());
    scalar(wants, "website", o.website.as_ref());
    scalar(wants, "address", o.address.as_ref());
    scalar(wants, "region", o.region.as_ref());
    labelled(wants, "emails", &o.emails);
    labelled(wants, "phones", &o.phones);
    wants.extend(o.tags.iter().map(|t| Want::Set("tags", t.clone())));
    if let Some(n) = &o.notes {
        wants.push(Want::Notes(n.clone()));
    }
}

pub(super) fn activity_wants(a: &ActivityIn, wants: &mut Vec<Want>) {
    scalar(wants, "kind", Some(&a.kind));
    scalar(wants, "subject", Some(&a.subject));
    scalar(wants, "start", a.start.as_ref());
    scalar(wants, "end", a.end.as_ref());
    scalar(wants, "due", a.due.as_ref());
    scalar(wants, "status", a.status.as_ref());
    scalar(wants, "location", a.location.as_ref());
    scalar(wants, "repeat", a.repeat.as_ref());
    if let Some(m) = a.remind {
        wants.push(Want::Minutes("remind", m));
    }
    wants.extend(
        a.attendees
            .iter()
            .map(|t| Want::Set("attendees", t.clone())),
    );
    if let Some(n) = &a.notes {
        wants.push(Want::Notes(n.clone()));
    }
}
