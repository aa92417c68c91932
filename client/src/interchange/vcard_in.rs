//! Contacts and organizations from vCard 2.1, 3.0 and 4.0 files (every card of the file).
//!
//! The file is cut into cards here, so each card's line is known and a card with no
//! `END:VCARD` is caught; `calcard` reads each card (folding, QUOTED-PRINTABLE and CHARSET,
//! escapes, 2.1's bare types). Apple's `itemN.X-ABLabel` names the label of its group's
//! e-mail or phone. PHOTO and the properties the CRM has no field for are left out.

use super::{clean, relation_kind, ContactIn, Incoming, LabelledIn, OrgIn, Parsed, Problem};
use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue,
};
use calcard::{Entry, Parser};
use std::collections::HashMap;

/// Reads every card of a vCard file's text.
pub fn read(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut card: Option<(usize, Vec<&str>)> = None;
    let mut last = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        last = n;
        let line = raw.trim_end_matches('\r');
        let head = line.trim().trim_start_matches('\u{feff}');
        if head.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some((start, _)) = card.take() {
                parsed.fatal.push(Problem {
                    line: start,
                    reason: format!(
                        "the card begun here has no END:VCARD before the next card (line {n}): the file is cut short or damaged"
                    ),
                });
            }
            card = Some((n, vec![line]));
        } else if head.eq_ignore_ascii_case("END:VCARD") {
            match card.take() {
                Some((start, mut lines)) => {
                    lines.push(line);
                    match read_card(&lines.join("\r\n")) {
                        Ok(item) => parsed.items.push((start, item)),
                        Err(reason) => parsed.skipped.push(Problem {
                            line: start,
                            reason,
                        }),
                    }
                }
                None => parsed.fatal.push(Problem {
                    line: n,
                    reason: "END:VCARD without a BEGIN:VCARD before it".into(),
                }),
            }
        } else if let Some((_, lines)) = card.as_mut() {
            lines.push(line);
        } else if !head.is_empty() {
            parsed.fatal.push(Problem {
                line: n,
                reason: format!(
                    "text outside any card (`{}`): a vCard file holds BEGIN:VCARD ... END:VCARD blocks",
                    head.chars().take(40).collect::<String>()
                ),
            });
            break;
        }
    }
    if let Some((start, _)) = card {
        parsed.fatal.push(Problem {
            line: start,
            reason: format!(
                "the card begun here has no END:VCARD (the file ends at line {last}): the file is cut short"
            ),
        });
    }
    if parsed.items.is_empty() && parsed.skipped.is_empty() && parsed.fatal.is_empty() {
        parsed.fatal.push(Problem {
            line: 1,
            reason: "no BEGIN:VCARD in the file: it is not a vCard file".into(),
        });
    }
    parsed
}

fn read_card(text: &str) -> Result<Incoming, String> {
    match Parser::new(text).entry() {
        Entry::VCard(card) => Ok(convert(&card)),
        Entry::InvalidLine(l) => Err(format!(
            "not a readable card (at `{}`)",
            l.chars().take(40).collect::<String>()
        )),
        _ => Err("not a readable card".into()),
    }
}

/// The texts of a property's values (components joined by commas).
fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .map(|v| match v {
            VCardValue::Component(parts) => parts.join(","),
            other => other.as_text().unwrap_or_default().to_string(),
        })
        .collect()
}

fn text(e: &VCardEntry) -> String {
    texts(e).join(",")
}

/// The TYPE parameters of a property, lower-case.
fn types(e: &VCardEntry) -> Vec<String> {
    e.params
        .iter()
        .filter(|p| p.name == VCardParameterName::Type)
        .filter_map(|p| match &p.value {
            VCardParameterValue::Text(t) => Some(t.to_lowercase()),
            VCardParameterValue::Type(t) => Some(format!("{t:?}").to_lowercase()),
            _ => None,
        })
        .collect()
}

/// An Apple label (`_$!<Mobile>!$_`) or a custom one, as our label.
fn apple_label(l: &str) -> String {
    l.trim()
        .trim_start_matches("_$!<")
        .trim_end_matches(">!$_")
        .to_lowercase()
}

fn label_of(e: &VCardEntry, labels: &HashMap<String, String>) -> String {
    if let Some(l) = e.group.as_ref().and_then(|g| labels.get(&g.to_lowercase())) {
        return l.clone();
    }
    let t = types(e);
    for (want, label) in [
        ("cell", "mobile"),
        ("fax", "fax"),
        ("pager", "pager"),
        ("home", "home"),
        ("work", "work"),
        ("main", "main"),
        ("mainnumber", "main"),
        ("other", "other"),
        ("iphone", "mobile"),
    ] {
        if t.iter().any(|x| x == want) {
            return label.to_string();
        }
    }
    t.into_iter()
        .find(|x| !["pref", "internet", "voice", "x400", "text", "msg"].contains(&x.as_str()))
        .unwrap_or_else(|| "work".into())
}

fn convert(card: &VCard) -> Incoming {
    let labels: HashMap<String, String> = card
        .entries
        .iter()
        .filter(
            |e| matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ABLABEL")),
        )
        .filter_map(|e| Some((e.group.as_ref()?.to_lowercase(), apple_label(&text(e)))))
        .collect();
    let mut c = ContactIn::default();
    let mut fname = None;
    let mut n_name = None;
    let mut is_org = false;
    let mut notes = Vec::new();
    let mut org_extra = OrgIn::default();
    for e in &card.entries {
        match &e.name {
            VCardProperty::Fn => fname = clean(&text(e)),
            VCardProperty::N => {
                let parts = texts(e);
                let get = |i: usize| parts.get(i).and_then(|p| clean(&p.replace(',', " ")));
                c.family_name = get(0);
                c.given_name = get(1);
                let full: Vec<String> = [get(3), get(1), get(2), get(0), get(4)]
                    .into_iter()
                    .flatten()
                    .collect();
                n_name = (!full.is_empty()).then(|| full.join(" "));
            }
            VCardProperty::Kind => {
                is_org = matches!(e.values.first(), Some(VCardValue::Kind(VCardKind::Org)))
                    || text(e).eq_ignore_ascii_case("org")
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ABSHOWAS") => {
                is_org |= text(e).eq_ignore_ascii_case("COMPANY")
            }
            VCardProperty::Org => {
                let parts = texts(e);
                if let Some(org) = parts.first().and_then(|p| clean(p)) {
                    if !c.orgs.contains(&org) {
                        c.orgs.push(org);
                    }
                }
                if c.department.is_none() {
                    c.department = parts.get(1).and_then(|p| clean(p));
                }
            }
            VCardProperty::Title => c.title = c.title.take().or_else(|| clean(&text(e))),
            VCardProperty::Email => {
                if let Some(v) = clean(&text(e)) {
                    c.emails.push(LabelledIn {
                        label: label_of(e, &labels),
                        value: v.trim_start_matches("mailto:").to_string(),
                    });
                }
            }
            VCardProperty::Tel => {
                if let Some(v) = clean(&text(e)) {
                    c.phones.push(LabelledIn {
                        label: label_of(e, &labels),
                        value: v.trim_start_matches("tel:").to_string(),
                    });
                }
            }
            VCardProperty::Adr if c.address.is_none() => {
                let parts: Vec<String> = texts(e)
                    .iter()
                    .flat_map(|p| p.split('\n'))
                    .filter_map(|p| clean(p.trim().trim_matches(',')))
                    .collect();
                c.address = (!parts.is_empty()).then(|| parts.join(", "));
            }
            VCardProperty::Note => notes.extend(clean(&text(e))),
            VCardProperty::Categories => {
                let items = e.values.iter().flat_map(|v| match v {
                    VCardValue::Component(parts) => parts.clone(),
                    other => other.as_text().map(str::to_string).into_iter().collect(),
                });
                for t in items {
                    if let Some(t) = clean(&t) {
                        if !c.tags.contains(&t) {
                            c.tags.push(t);
                        }
                    }
                }
            }
            VCardProperty::Uid => c.uid = clean(&text(e)),
            VCardProperty::Related => {
                let kind = types(e).iter().find_map(|t| relation_kind(t));
                if let (Some(kind), Some(target)) = (kind, clean(&text(e))) {
                    c.related.push((kind.to_string(), target));
                }
            }
            VCardProperty::Url if org_extra.website.is_none() => {
                org_extra.website = clean(&text(e))
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-INDUSTRY") => {
                org_extra.industry = clean(&text(e))
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-PARENT") => {
                if let Some(p) = clean(&text(e)) {
                    c.related.push(("parent".into(), p));
                }
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-ORG-KIND") => {
                org_extra.kind = clean(&text(e))
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-REGION") => {
                c.region = clean(&text(e))
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-SOURCE") => {
                c.source = clean(&text(e))
            }
            VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-CRM-DO-NOT-CALL") => {
                c.do_not_call = Some(text(e).eq_ignore_ascii_case("true"))
            }
            _ => {}
        }
    }
    c.notes = (!notes.is_empty()).then(|| notes.join("\n"));
    let name = fname.clone().or(n_name.clone());
    if is_org || (name.is_none() && !c.orgs.is_empty()) {
        let org_name = c
            .orgs
            .first()
            .cloned()
            .or(name)
            .unwrap_or_else(|| "(no name)".into());
        return Incoming::Org(OrgIn {
            uid: c.uid,
            name: org_name,
            emails: c.emails,
            phones: c.phones,
            address: c.address,
            region: c.region,
            tags: c.tags,
            notes: c.notes,
            related: c.related,
            ..org_extra
        });
    }
    c.name = name
        .or_else(|| c.emails.first().map(|e| e.value.clone()))
        .or_else(|| c.phones.first().map(|p| p.value.clone()))
        .unwrap_or_else(|| "(no name)".into());
    Incoming::Contact(c)
}
