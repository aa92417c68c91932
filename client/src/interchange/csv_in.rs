//! Contacts from CSV: Google Contacts (current and legacy exports), Outlook (desktop and web),
//! our own export, and any CSV with a header, each column mapped by its name or by `--map`.

use super::{clean, ContactIn, Incoming, LabelledIn, OrgIn, Parsed, Problem};
use std::collections::BTreeMap;

/// Which product wrote the file, as its header tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    GoogleCurrent,
    GoogleLegacy,
    Outlook,
    Crm,
    Generic,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::GoogleCurrent => "Google Contacts CSV",
            Layout::GoogleLegacy => "Google Contacts CSV (legacy layout)",
            Layout::Outlook => "Outlook CSV",
            Layout::Crm => "crm CSV",
            Layout::Generic => "CSV",
        }
    }
}

/// The address part a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Formatted,
    Street,
    PoBox,
    Extended,
    City,
    Region,
    Postal,
    Country,
    Label,
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Col {
    Name,
    Given,
    Middle,
    Family,
    Prefix,
    Suffix,
    Title,
    Department,
    Org,
    Email(String),
    Phone(String),
    /// Google's numbered pairs: `E-mail 1 - Label` / `E-mail 1 - Value`.
    EmailLabel(String),
    EmailValue(String),
    PhoneLabel(String),
    PhoneValue(String),
    /// Our own export: `label=value ::: label=value`.
    EmailList,
    PhoneList,
    Address(String, Part),
    Notes,
    Tags,
    Region,
    Uid,
    Source,
    DoNotCall,
    Ignore,
}

/// The fields `--map COLUMN=FIELD` may name.
pub const MAP_FIELDS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "title",
    "department",
    "org",
    "email",
    "phone",
    "address",
    "region",
    "tags",
    "notes",
    "source",
    "do_not_call",
    "id",
    "ignore",
];

fn col_of_field(field: &str) -> Option<Col> {
    Some(
        match field.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "name" => Col::Name,
            "given_name" | "first_name" => Col::Given,
            "family_name" | "last_name" => Col::Family,
            "title" => Col::Title,
            "department" => Col::Department,
            "org" | "organization" | "company" => Col::Org,
            "email" | "emails" => Col::Email("work".into()),
            "phone" | "phones" => Col::Phone("work".into()),
            "address" => Col::Address("address".into(), Part::Formatted),
            "region" => Col::Region,
            "tags" => Col::Tags,
            "notes" => Col::Notes,
            "source" => Col::Source,
            "do_not_call" => Col::DoNotCall,
            "id" | "uid" => Col::Uid,
            "ignore" => Col::Ignore,
            _ => return None,
        },
    )
}

/// Parses `--map` values (`COLUMN=FIELD`).
pub fn parse_maps(maps: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for m in maps {
        let (col, field) = m.split_once('=').ok_or_else(|| {
            format!("--map {m}: give COLUMN=FIELD, e.g. --map \"Full Name=name\"")
        })?;
        if col_of_field(field).is_none() {
            return Err(format!(
                "--map {m}: `{field}` is not a field; use one of {}",
                MAP_FIELDS.join(", ")
            ));
        }
        out.insert(col.trim().to_lowercase(), field.trim().to_string());
    }
    Ok(out)
}

fn layout_of(headers: &[String]) -> Layout {
    let has = |h: &str| headers.iter().any(|x| x == h);
    if has("e-mail 1 - label") || has("phone 1 - label") || has("labels") && has("first name") {
        Layout::GoogleCurrent
    } else if has("given name") && (has("e-mail 1 - type") || has("group membership")) {
        Layout::GoogleLegacy
    } else if has("e-mail address") || has("business phone") || has("job title") {
        Layout::Outlook
    } else if has("given_name") || has("family_name") || has("emails") && has("name") {
        Layout::Crm
    } else {
        Layout::Generic
    }
}

/// `E-mail 1 - Value` -> ("e-mail", "1", "value").
fn numbered(h: &str) -> Option<(&str, &str, &str)> {
    let (left, what) = h.split_once(" - ")?;
    let (thing, n) = left.rsplit_once(' ')?;
    n.chars()
        .all(|c| c.is_ascii_digit())
        .then_some((thing, n, what))
}

fn part_of(word: &str) -> Option<Part> {
    Some(match word {
        "formatted" | "address" => Part::Formatted,
        "street" | "street 2" | "street 3" => Part::Street,
        "po box" | "pobox" => Part::PoBox,
        "extended address" => Part::Extended,
        "city" => Part::City,
        "region" | "state" => Part::Region,
        "postal code" | "zip" | "zip code" => Part::Postal,
        "country" | "country/region" => Part::Country,
        "label" | "type" => Part::Label,
        _ => return None,
    })
}

fn col_of(h: &str, layout: Layout) -> Col {
    if let Some((thing, n, what)) = numbered(h) {
        return match (thing, what) {
            ("e-mail", "label" | "type") => Col::EmailLabel(n.into()),
            ("e-mail", "value") => Col::EmailValue(n.into()),
            ("phone", "label" | "type") => Col::PhoneLabel(n.into()),
            ("phone", "value") => Col::PhoneValue(n.into()),
            ("address", w) => part_of(w)
                .map(|p| Col::Address(format!("address {n}"), p))
                .unwrap_or(Col::Ignore),
            ("organization", "name") if n == "1" => Col::Org,
            ("organization", "title") if n == "1" => Col::Title,
            ("organization", "department") if n == "1" => Col::Department,
            _ => Col::Ignore,
        };
    }
    match h {
        "name" | "full name" | "display name" | "fn" => Col::Name,
        "first name" | "given name" | "given_name" | "firstname" => Col::Given,
        "middle name" | "additional name" => Col::Middle,
        "last name" | "family name" | "family_name" | "surname" | "lastname" => Col::Family,
        "name prefix" => Col::Prefix,
        "suffix" | "name suffix" => Col::Suffix,
        "title" if layout == Layout::Outlook => Col::Prefix,
        "title" | "job title" | "organization title" | "position" => Col::Title,
        "department" | "organization department" => Col::Department,
        "company" | "organization" | "organization name" | "org" | "orgs" | "account" => Col::Org,
        "e-mail address" | "email" | "e-mail" | "email address" | "mail" => {
            Col::Email("work".into())
        }
        "e-mail 2 address" | "e-mail 3 address" => Col::Email("other".into()),
        "emails" => Col::EmailList,
        "phones" => Col::PhoneList,
        "phone" | "telephone" => Col::Phone("work".into()),
        "notes" | "note" | "description" => Col::Notes,
        "labels" | "group membership" | "categories" | "tags" => Col::Tags,
        "region" if layout != Layout::GoogleCurrent => Col::Region,
        "id" | "uid" => Col::Uid,
        "source" => Col::Source,
        "do_not_call" | "do not call" => Col::DoNotCall,
        "address" => Col::Address("address".into(), Part::Formatted),
        _ => {
            if let Some((label, _)) = h
                .rsplit_once(" phone")
                .filter(|(_, r)| r.trim().parse::<u8>().is_ok() || r.is_empty())
            {
                return Col::Phone(phone_label(label).into());
            }
            if h == "mobile phone" || h == "mobile" || h == "cell" {
                return Col::Phone("mobile".into());
            }
            if let Some(label) = h.strip_suffix(" fax") {
                return Col::Phone(if label.is_empty() {
                    "fax".into()
                } else {
                    format!("{label} fax")
                });
            }
            if let Some(label) = h
                .strip_prefix("email ")
                .or_else(|| h.strip_prefix("e-mail "))
            {
                if ["home", "work", "other", "business", "personal", "private"].contains(&label) {
                    return Col::Email(label.to_string());
                }
                return Col::Ignore;
            }
            if let Some(label) = h.strip_prefix("phone ") {
                return Col::Phone(phone_label(label).into());
            }
            for group in ["business", "home", "other", "work"] {
                if let Some(rest) = h.strip_prefix(group).map(str::trim) {
                    if let Some(p) = part_of(rest) {
                        return Col::Address(group.into(), p);
                    }
                }
            }
            Col::Ignore
        }
    }
}

fn phone_label(label: &str) -> &str {
    match label.trim() {
        "business" | "company main" | "primary" | "" => "work",
        "mobile" | "cell" | "car" => "mobile",
        l => l,
    }
}

/// Splits Google's ` ::: ` multi-values.
fn multi(v: &str) -> Vec<String> {
    v.split(":::")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A Google label: `* Work` is the primary "work".
fn label_text(l: &str) -> String {
    let t = l.trim().trim_start_matches('*').trim().to_lowercase();
    if t.is_empty() {
        "work".into()
    } else {
        t
    }
}

/// Reads a CSV file's text. `maps` are `--map` choices (lower-case column -> field).
pub fn read(text: &str, maps: &BTreeMap<String, String>) -> (Parsed, Layout) {
    let mut parsed = Parsed::default();
    let body = text.trim_start_matches('\u{feff}');
    // A record's line, from its byte offset (the reader's own line count is off by one after
    // CRLF line ends), counted on from the previous record's.
    let mut counted = (0usize, 1usize);
    let mut line_at = |byte: u64| {
        let bytes = body.as_bytes();
        let mut at = (byte as usize).min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        let (from, line) = if at >= counted.0 { counted } else { (0, 1) };
        let line = line + bytes[from..at].iter().filter(|b| **b == b'\n').count();
        counted = (at, line);
        line
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(body.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_lowercase()).collect(),
        Err(e) => {
            parsed.fatal.push(Problem {
                line: 1,
                reason: format!("the header cannot be read as CSV: {e}"),
            });
            return (parsed, Layout::Generic);
        }
    };
    let layout = layout_of(&headers);
    let cols: Vec<Col> = headers
        .iter()
        .map(|h| match maps.get(h) {
            Some(f) => col_of_field(f).unwrap_or(Col::Ignore),
            None => col_of(h, layout),
        })
        .collect();
    for m in maps.keys() {
        if !headers.contains(m) {
            parsed.fatal.push(Problem {
                line: 1,
                reason: format!("--map names a column `{m}` the header does not have"),
            });
        }
    }
    let names = cols
        .iter()
        .any(|c| matches!(c, Col::Name | Col::Given | Col::Family | Col::Org));
    if !names {
        parsed.fatal.push(Problem {
            line: 1,
            reason: format!(
                "the first line is not a header naming a contact's name (it reads `{}`): add a header line, or map a column with --map COLUMN=name",
                headers.join(",").chars().take(80).collect::<String>()
            ),
        });
    }
    if !parsed.fatal.is_empty() {
        return (parsed, layout);
    }
    for result in reader.records() {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                parsed.fatal.push(Problem {
                    line,
                    reason: format!("not readable as CSV ({e}): check its quotes"),
                });
                break;
            }
        };
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match row(&cols, &record) {
            Ok(item) => parsed.items.push((line, item)),
            Err(reason) => parsed.skipped.push(Problem { line, reason }),
        }
    }
    (parsed, layout)
}

fn row(cols: &[Col], record: &csv::StringRecord) -> Result<Incoming, String> {
    let mut c = ContactIn::default();
    let (mut given, mut middle, mut family, mut prefix, mut suffix) =
        (None, None, None, None, None);
    let mut name = None;
    let mut email_labels: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut email_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut phone_labels: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut phone_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut address: BTreeMap<(&str, Part), String> = BTreeMap::new();
    let mut notes = Vec::new();
    for (col, value) in cols.iter().zip(record.iter()) {
        let Some(v) = clean(value) else { continue };
        match col {
            Col::Name => name = Some(v),
            Col::Given => given = Some(v),
            Col::Middle => middle = Some(v),
            Col::Family => family = Some(v),
            Col::Prefix => prefix = Some(v),
            Col::Suffix => suffix = Some(v),
            Col::Title => c.title = Some(v),
            Col::Department => c.department = Some(v),
            Col::Org => c.orgs.extend(multi(&v)),
            Col::Email(label) => c
                .emails
                .extend(multi(&v).into_iter().map(|value| LabelledIn {
                    label: label.clone(),
                    value,
                })),
            Col::Phone(label) => c
                .phones
                .extend(multi(&v).into_iter().map(|value| LabelledIn {
                    label: label.clone(),
                    value,
                })),
            Col::EmailLabel(n) => {
                email_labels.insert(n, multi(&v));
            }
            Col::EmailValue(n) => {
                email_values.insert(n, multi(&v));
            }
            Col::PhoneLabel(n) => {
                phone_labels.insert(n, multi(&v));
            }
            Col::PhoneValue(n) => {
                phone_values.insert(n, multi(&v));
            }
            Col::EmailList => c.emails.extend(pairs(&v)),
            Col::PhoneList => c.phones.extend(pairs(&v)),
            Col::Address(group, part) => {
                address.insert((group.as_str(), *part), v);
            }
            Col::Notes => notes.push(v),
            // Google joins labels with ` ::: `, Outlook categories with `;`.
            Col::Tags => c.tags.extend(
                multi(&v)
                    .iter()
                    .flat_map(|t| t.split(';'))
                    .map(str::to_string)
                    .map(|t| t.trim_start_matches('*').trim().to_string())
                    .filter(|t| {
                        !t.is_empty()
                            && !t.eq_ignore_ascii_case("mycontacts")
                            && !t.eq_ignore_ascii_case("my contacts")
                    }),
            ),
            Col::Region => c.region = Some(v),
            Col::Uid => c.uid = Some(v),
            Col::Source => c.source = Some(v),
            Col::DoNotCall => {
                c.do_not_call = Some(matches!(
                    v.to_ascii_lowercase().as_str(),
                    "yes" | "true" | "1" | "y"
                ))
            }
            Col::Ignore => {}
        }
    }
    for (n, values) in email_values {
        let labels = email_labels.get(n).cloned().unwrap_or_default();
        for (i, value) in values.into_iter().enumerate() {
            let label = labels.get(i).or(labels.first()).map(|l| label_text(l));
            c.emails.push(LabelledIn {
                label: label.unwrap_or_else(|| "work".into()),
                value,
            });
        }
    }
    for (n, values) in phone_values {
        let labels = phone_labels.get(n).cloned().unwrap_or_default();
        for (i, value) in values.into_iter().enumerate() {
            let label = labels.get(i).or(labels.first()).map(|l| label_text(l));
            c.phones.push(LabelledIn {
                label: label.unwrap_or_else(|| "work".into()),
                value,
            });
        }
    }
    c.address = first_address(&address);
    c.notes = (!notes.is_empty()).then(|| notes.join("\n"));
    c.given_name = given.clone();
    c.family_name = family.clone();
    let composed: Vec<String> = [prefix, given, middle, family, suffix]
        .into_iter()
        .flatten()
        .collect();
    c.name = match name {
        Some(n) => n,
        None if !composed.is_empty() => composed.join(" "),
        None => match (c.orgs.first(), c.emails.first()) {
            // A row that names only a company is the company.
            (Some(org), _) => {
                return Ok(Incoming::Org(OrgIn {
                    name: org.clone(),
                    emails: c.emails,
                    phones: c.phones,
                    address: c.address,
                    tags: c.tags,
                    notes: c.notes,
                    region: c.region,
                    uid: c.uid,
                    ..OrgIn::default()
                }))
            }
            (None, Some(e)) => e.value.clone(),
            (None, None) => return Err("no name, organization or e-mail: nothing to import".into()),
        },
    };
    Ok(Incoming::Contact(c))
}

/// `label=value ::: label=value` (our export) or plain values.
fn pairs(v: &str) -> Vec<LabelledIn> {
    multi(v)
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((l, val)) if !l.contains('@') => LabelledIn {
                label: l.trim().to_string(),
                value: val.trim().to_string(),
            },
            _ => LabelledIn {
                label: "work".into(),
                value: item,
            },
        })
        .collect()
}

/// The first address group's formatted text, or its parts joined.
fn first_address(parts: &BTreeMap<(&str, Part), String>) -> Option<String> {
    let mut groups: Vec<&str> = parts.keys().map(|(g, _)| *g).collect();
    groups.dedup();
    for g in groups {
        if let Some(f) = parts.get(&(g, Part::Formatted)) {
            return Some(f.clone());
        }
        let get = |p| parts.get(&(g, p)).cloned();
        let city_line: Vec<String> = [get(Part::Postal), get(Part::City), get(Part::Region)]
            .into_iter()
            .flatten()
            .collect();
        let lines: Vec<String> = [
            get(Part::Street),
            get(Part::Extended),
            get(Part::PoBox),
            (!city_line.is_empty()).then(|| city_line.join(" ")),
            get(Part::Country),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !lines.is_empty() {
            return Some(lines.join(", "));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        for text in [
            "Name,Email\r\nAnn,ann@x.com\r\n\"Bob\nBrown\",bob@x.com\r\nCy,cy@x.com\r\n",
            "Name,Email\nAnn,ann@x.com\n\"Bob\nBrown\",bob@x.com\nCy,cy@x.com",
        ] {
            let (parsed, _) = read(text, &BTreeMap::new());
            let lines: Vec<usize> = parsed.items.iter().map(|(l, _)| *l).collect();
            assert_eq!(lines, vec![2, 3, 5], "{text:?}");
        }
    }
}
