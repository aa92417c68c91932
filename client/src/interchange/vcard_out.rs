//! Contacts and organizations as vCard 4.0 (RFC 6350): UID is the record id, REV its last
//! change, CATEGORIES its tags, RELATED its relationships (`TYPE=colleague`, or `x-crm-KIND`
//! for kinds vCard does not name), ORG its organizations. Lines are folded at 75 octets.

use crm_shared::schema::Record;
use crm_shared::RecordKind;
use std::collections::HashMap;

/// Escapes a text value (RFC 6350 3.4).
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded at 75 octets on character boundaries.
pub fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// A label as a TYPE parameter value (`mobile` is vCard's `cell`).
fn type_of(label: &str) -> String {
    let l = label.trim().to_lowercase();
    let l = match l.as_str() {
        "mobile" => "cell".to_string(),
        other => other
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect(),
    };
    if l.is_empty() {
        "work".into()
    } else {
        l
    }
}

/// Writes a contact or an organization as one card. `names` gives records' titles by id;
/// `related` the (kind, other record id) of its relationships; `rev` the last change (ms).
pub fn card(
    out: &mut String,
    r: &Record,
    names: &HashMap<String, String>,
    related: &[(String, String)],
    rev: Option<i64>,
) {
    line(out, "BEGIN:VCARD");
    line(out, "VERSION:4.0");
    line(out, &format!("UID:{}", r.id));
    let org = r.kind == RecordKind::Organization;
    line(out, if org { "KIND:org" } else { "KIND:individual" });
    line(out, &format!("FN:{}", escape(r.title())));
    if !org {
        line(
            out,
            &format!(
                "N:{};{};;;",
                escape(r.str("family_name").unwrap_or("")),
                escape(r.str("given_name").unwrap_or(""))
            ),
        );
        let dept = r.str("department").map(escape).unwrap_or_default();
        let mut orgs: Vec<&str> = r
            .links("orgs")
            .map(|m| {
                m.keys()
                    .filter_map(|id| names.get(id).map(String::as_str))
                    .collect()
            })
            .unwrap_or_default();
        orgs.sort();
        if orgs.is_empty() && !dept.is_empty() {
            line(out, &format!("ORG:;{dept}"));
        }
        for (i, o) in orgs.iter().enumerate() {
            let d = if i == 0 && !dept.is_empty() {
                format!(";{dept}")
            } else {
                String::new()
            };
            line(out, &format!("ORG:{}{d}", escape(o)));
        }
        if let Some(t) = r.str("title") {
            line(out, &format!("TITLE:{}", escape(t)));
        }
    } else {
        line(out, &format!("ORG:{}", escape(r.title())));
        if let Some(w) = r.str("website") {
            line(out, &format!("URL:{w}"));
        }
        for (field, prop) in [
            ("industry", "X-CRM-INDUSTRY"),
            ("kind", "X-CRM-ORG-KIND"),
            ("parent", "X-CRM-PARENT"),
        ] {
            if let Some(v) = r.str(field) {
                line(out, &format!("{prop}:{}", escape(v)));
            }
        }
    }
    for (i, e) in r.labelled("emails").iter().enumerate() {
        let pref = if i == 0 { ";PREF=1" } else { "" };
        line(
            out,
            &format!(
                "EMAIL;TYPE={}{pref}:{}",
                type_of(&e.label),
                escape(&e.value)
            ),
        );
    }
    for (i, p) in r.labelled("phones").iter().enumerate() {
        let pref = if i == 0 { ";PREF=1" } else { "" };
        line(
            out,
            &format!(
                "TEL;VALUE=text;TYPE={}{pref}:{}",
                type_of(&p.label),
                escape(&p.value)
            ),
        );
    }
    if let Some(a) = r.str("address") {
        line(out, &format!("ADR:;;{};;;;", escape(a)));
    }
    let tags = r.set("tags");
    if !tags.is_empty() {
        let t: Vec<String> = tags.iter().map(|t| escape(t)).collect();
        line(out, &format!("CATEGORIES:{}", t.join(",")));
    }
    if let Some(n) = r.str("notes").filter(|n| !n.is_empty()) {
        line(out, &format!("NOTE:{}", escape(n)));
    }
    for (field, prop) in [("region", "X-CRM-REGION"), ("source", "X-CRM-SOURCE")] {
        if let Some(v) = r.str(field) {
            line(out, &format!("{prop}:{}", escape(v)));
        }
    }
    if let Some(b) = r.bool("do_not_call") {
        line(out, &format!("X-CRM-DO-NOT-CALL:{b}"));
    }
    for (kind, to) in related {
        let t = if kind == "colleague" {
            "colleague".to_string()
        } else {
            format!("x-crm-{kind}")
        };
        line(out, &format!("RELATED;TYPE={t};VALUE=text:{to}"));
    }
    if let Some(ms) = rev {
        if let Some(t) = chrono::DateTime::from_timestamp_millis(ms) {
            line(out, &format!("REV:{}", t.format("%Y%m%dT%H%M%SZ")));
        }
    }
    line(out, "PRODID:-//crm//offline CRM//EN");
    line(out, "END:VCARD");
}
