//! Records as CSV: our own layout (one column per field, read back by `crm import`), or, for
//! contacts, Google Contacts' or Outlook's import layout.

use crm_shared::schema::{fields, FieldType, FieldValue, Record, DEMO_FIELD, EXTERNAL_IDS_FIELD};
use crm_shared::values::{format_amount, Currency};
use crm_shared::RecordKind;
use std::collections::HashMap;

/// The separator of several values in one cell, as Google Contacts writes it.
pub const MULTI: &str = " ::: ";

/// The columns of our own layout for a kind of record.
pub fn crm_header(kind: RecordKind) -> Vec<&'static str> {
    let mut h = vec!["id"];
    h.extend(
        fields(kind)
            .iter()
            .filter(|f| !matches!(f.ty, FieldType::StageHistory))
            .filter(|f| {
                f.name != DEMO_FIELD && f.name != EXTERNAL_IDS_FIELD && f.name != "steps_done"
            })
            .map(|f| f.name),
    );
    h.extend(["owner", "book"]);
    h
}

/// One record's cells in our layout. `names` gives records' titles by id (a contact's
/// organizations are written by name, so the file reads well and imports back).
pub fn crm_row(r: &Record, names: &HashMap<String, String>) -> Vec<String> {
    let currency = r
        .str("currency")
        .and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::EUR);
    crm_header(r.kind)
        .into_iter()
        .map(|col| match col {
            "id" => r.id.to_string(),
            "owner" => r.owner.clone(),
            "book" => r.book.clone(),
            name => {
                let ty = fields(r.kind).iter().find(|f| f.name == name).map(|f| f.ty);
                match (ty, r.fields.get(name)) {
                    (Some(FieldType::Money), Some(FieldValue::Int(m))) => {
                        format_amount(*m, currency)
                    }
                    (_, Some(FieldValue::Str(s))) => s.clone(),
                    (_, Some(FieldValue::Int(i))) => i.to_string(),
                    (_, Some(FieldValue::Bool(b))) => if *b { "yes" } else { "no" }.into(),
                    (_, Some(FieldValue::Set(items))) => items.join(MULTI),
                    (_, Some(FieldValue::Labelled(items))) => items
                        .iter()
                        .map(|l| format!("{}={}", l.label, l.value))
                        .collect::<Vec<_>>()
                        .join(MULTI),
                    (_, Some(FieldValue::Links(m))) if r.kind == RecordKind::Contact => {
                        let mut n: Vec<&str> = m
                            .keys()
                            .filter_map(|id| names.get(id).map(String::as_str))
                            .collect();
                        n.sort();
                        n.join(MULTI)
                    }
                    (_, Some(FieldValue::Links(m))) => m
                        .iter()
                        .map(|(id, role)| {
                            if role.is_empty() {
                                id.clone()
                            } else {
                                format!("{id}={role}")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(MULTI),
                    _ => String::new(),
                }
            }
        })
        .collect()
}

fn org_names(r: &Record, names: &HashMap<String, String>) -> Vec<String> {
    let mut n: Vec<String> = r
        .links("orgs")
        .map(|m| m.keys().filter_map(|id| names.get(id).cloned()).collect())
        .unwrap_or_default();
    n.sort();
    n
}

/// Given and family names: the record's, else the name split at its last space.
fn split_name(r: &Record) -> (String, String) {
    match (r.str("given_name"), r.str("family_name")) {
        (None, None) => match r.title().rsplit_once(' ') {
            Some((g, f)) => (g.to_string(), f.to_string()),
            None => (r.title().to_string(), String::new()),
        },
        (g, f) => (g.unwrap_or("").to_string(), f.unwrap_or("").to_string()),
    }
}

/// Google Contacts' header, with as many e-mail and phone pairs as the book needs.
pub fn google_header(emails: usize, phones: usize) -> Vec<String> {
    let mut h: Vec<String> = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Organization Name",
        "Organization Title",
        "Organization Department",
        "Notes",
        "Labels",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 1..=emails.max(1) {
        h.push(format!("E-mail {i} - Label"));
        h.push(format!("E-mail {i} - Value"));
    }
    for i in 1..=phones.max(1) {
        h.push(format!("Phone {i} - Label"));
        h.push(format!("Phone {i} - Value"));
    }
    h.push("Address 1 - Label".into());
    h.push("Address 1 - Formatted".into());
    h
}

fn google_label(label: &str) -> String {
    let mut c = label.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => "Work".into(),
    }
}

pub fn google_row(
    r: &Record,
    names: &HashMap<String, String>,
    emails: usize,
    phones: usize,
) -> Vec<String> {
    let (given, family) = split_name(r);
    let mut labels = vec!["* myContacts".to_string()];
    labels.extend(r.set("tags").iter().cloned());
    let mut row = vec![
        given,
        String::new(),
        family,
        org_names(r, names).join(MULTI),
        r.str("title").unwrap_or("").into(),
        r.str("department").unwrap_or("").into(),
        r.str("notes").unwrap_or("").into(),
        labels.join(MULTI),
    ];
    for (list, n) in [
        (r.labelled("emails"), emails.max(1)),
        (r.labelled("phones"), phones.max(1)),
    ] {
        for i in 0..n {
            match list.get(i) {
                Some(l) => {
                    row.push(google_label(&l.label));
                    row.push(l.value.clone());
                }
                None => row.extend([String::new(), String::new()]),
            }
        }
    }
    let address = r.str("address").unwrap_or("").to_string();
    row.push(if address.is_empty() {
        String::new()
    } else {
        "Work".into()
    });
    row.push(address);
    row
}

/// Outlook's import header (the columns a CRM contact fills).
pub const OUTLOOK_HEADER: &[&str] = &[
    "First Name",
    "Middle Name",
    "Last Name",
    "Company",
    "Department",
    "Job Title",
    "Business Street",
    "Business Phone",
    "Home Phone",
    "Mobile Phone",
    "Other Phone",
    "Business Fax",
    "E-mail Address",
    "E-mail 2 Address",
    "E-mail 3 Address",
    "Notes",
    "Categories",
];

pub fn outlook_row(r: &Record, names: &HashMap<String, String>) -> Vec<String> {
    let (given, family) = split_name(r);
    let phone = |want: &[&str]| -> String {
        r.labelled("phones")
            .iter()
            .filter(|p| want.contains(&p.label.to_lowercase().as_str()))
            .map(|p| p.value.clone())
            .collect::<Vec<_>>()
            .join(MULTI)
    };
    let (work, home, mobile, fax) = (
        phone(&["work", "main", "business"]),
        phone(&["home"]),
        phone(&["mobile", "cell"]),
        phone(&["fax", "work fax", "business fax"]),
    );
    let other = r
        .labelled("phones")
        .iter()
        .filter(|p| {
            ![
                "work",
                "main",
                "business",
                "home",
                "mobile",
                "cell",
                "fax",
                "work fax",
                "business fax",
            ]
            .contains(&p.label.to_lowercase().as_str())
        })
        .map(|p| p.value.clone())
        .collect::<Vec<_>>()
        .join(MULTI);
    let emails = r.labelled("emails");
    let email = |i: usize| -> String {
        if i == 2 {
            emails
                .iter()
                .skip(2)
                .map(|e| e.value.clone())
                .collect::<Vec<_>>()
                .join(MULTI)
        } else {
            emails.get(i).map(|e| e.value.clone()).unwrap_or_default()
        }
    };
    vec![
        given,
        String::new(),
        family,
        org_names(r, names).join(MULTI),
        r.str("department").unwrap_or("").into(),
        r.str("title").unwrap_or("").into(),
        r.str("address").unwrap_or("").into(),
        work,
        home,
        mobile,
        other,
        fax,
        email(0),
        email(1),
        email(2),
        r.str("notes").unwrap_or("").into(),
        r.set("tags").join(MULTI),
    ]
}
