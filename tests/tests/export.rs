//! `crm export`: complete files in each format, and round trips: what one data dir exports,
//! an empty one imports as the same records, compared field by field.

use crm_tests::{rows, Crm};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Runs `crm ARGS` in Berlin time (calendar times are converted through UTC and back).
fn run(crm: &Crm, args: &[&str]) -> String {
    let out = crm
        .command()
        .env("TZ", "Europe/Berlin")
        .args(args)
        .output()
        .expect("crm runs");
    crm_tests::expect_ok(args, out)
}

/// Every record as `export all --format json` gives it, with what differs between two data
/// dirs by design taken out (ids, creation, owner, the ids kept from the file) and references
/// to other records replaced by those records' titles.
fn book(crm: &Crm) -> BTreeMap<String, Vec<Value>> {
    let all: Value =
        serde_json::from_str(&run(crm, &["export", "all", "--format", "json"])).expect("JSON");
    let mut titles = BTreeMap::new();
    for list in all.as_object().expect("an object").values() {
        for r in list.as_array().expect("a list") {
            let t = ["name", "title", "subject"]
                .iter()
                .find_map(|k| r[*k].as_str())
                .unwrap_or("")
                .to_string();
            titles.insert(r["id"].as_str().unwrap_or("").to_string(), t);
        }
    }
    let name = |id: &Value| {
        titles
            .get(id.as_str().unwrap_or(""))
            .cloned()
            .unwrap_or_else(|| format!("missing {id}"))
    };
    let mut out = BTreeMap::new();
    for (kind, list) in all.as_object().expect("an object") {
        if kind == "cases" {
            continue;
        }
        let mut records: Vec<Value> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|r| {
                let mut r: Map<String, Value> = r.as_object().expect("a record").clone();
                for k in [
                    "id",
                    "created_at",
                    "created_by",
                    "owner",
                    "book",
                    "external_ids",
                    "schema",
                ] {
                    r.remove(k);
                }
                for k in ["from", "to", "parent", "contact", "org"] {
                    if let Some(v) = r.get(k).cloned() {
                        r.insert(k.into(), Value::String(name(&v)));
                    }
                }
                if let Some(Value::Object(m)) = r.get("orgs").cloned() {
                    let mut n: Vec<String> = m
                        .keys()
                        .map(|id| name(&Value::String(id.clone())))
                        .collect();
                    n.sort();
                    r.insert("orgs".into(), serde_json::json!(n));
                }
                Value::Object(r)
            })
            .collect();
        records.sort_by_key(|r| r.to_string());
        out.insert(kind.clone(), records);
    }
    out
}

/// Compares two books record by record and field by field, naming the first difference.
fn assert_same_books(a: &BTreeMap<String, Vec<Value>>, b: &BTreeMap<String, Vec<Value>>) {
    for (kind, list) in a {
        let other = b.get(kind).cloned().unwrap_or_default();
        assert_eq!(list.len(), other.len(), "{kind}: {list:#?}\nvs\n{other:#?}");
        for (x, y) in list.iter().zip(&other) {
            let keys: std::collections::BTreeSet<&String> = x
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .chain(y.as_object().into_iter().flat_map(|m| m.keys()))
                .collect();
            for k in keys {
                assert_eq!(x.get(k), y.get(k), "{kind} field {k}:\n{x:#}\nvs\n{y:#}");
            }
        }
    }
}

/// A book with every field the round trip carries.
fn sample_book() -> Crm {
    let crm = Crm::init("ana");
    let parent = crm.add(&["org", "add", "--name", "Acme Holding"]);
    let acme = crm.add(&[
        "org",
        "add",
        "--name",
        "Acme, Inc.",
        "--industry",
        "Steel",
        "--kind",
        "customer",
        "--website",
        "https://acme.example",
        "--region",
        "North",
        "--parent",
        &parent,
        "--email",
        "info@acme.example",
        "--phone",
        "+49 30 1000",
        "--tag",
        "key",
        "--notes",
        "Big; old",
    ]);
    let zoe = crm.add(&[
        "contact",
        "add",
        "--name",
        "Zoë Álvarez",
        "--given-name",
        "Zoë",
        "--family-name",
        "Álvarez",
        "--email",
        "zoe@acme.example",
        "--email",
        "home=zoe@home.example",
        "--phone",
        "+49 30 1234567",
        "--phone",
        "mobile=0170-555",
        "--org",
        &acme,
        "--title",
        "Head; of Buying",
        "--department",
        "Ops",
        "--region",
        "North",
        "--tag",
        "vip",
        "--tag",
        "a,b",
        "--notes",
        "line1\nline2, with comma\\",
        "--address",
        "1 Main St, Springfield",
        "--source",
        "fair",
        "--do-not-call",
        "yes",
    ]);
    let bob = crm.add(&[
        "contact",
        "add",
        "--name",
        "Bob Brown",
        "--email",
        "bob@x.example",
    ]);
    crm.add(&["relate", &zoe, &bob, "--as", "reports-to"]);
    crm.add(&["relate", &zoe, &bob, "--as", "colleague"]);
    crm.add(&["relate", &acme, &parent, "--as", "subsidiary-of"]);
    run(
        &crm,
        &[
            "activity",
            "add",
            "--kind",
            "visit",
            "--subject",
            "Visit Acme",
            "--at",
            "2026-12-01T10:00",
            "--end",
            "2026-12-01T11:30",
            "--remind",
            "30m",
            "--contact",
            &zoe,
            "--org",
            &acme,
            "--location",
            "Berlin, Hall 2",
            "--notes",
            "Bring samples",
        ],
    );
    run(
        &crm,
        &[
            "activity",
            "add",
            "--kind",
            "task",
            "--subject",
            "Send offer",
            "--due",
            "2026-03-29T02:30",
        ],
    );
    crm
}

fn export_to(crm: &Crm, what: &str, format: &str, extra: &[&str]) -> String {
    let file = crm
        .scratch()
        .join(format!("{what}-{}.{format}", extra.join("-")));
    let f = file.display().to_string();
    let mut args = vec!["export", what, "--format", format, "--out", &f];
    args.extend_from_slice(extra);
    run(crm, &args);
    f
}

#[test]
fn vcard_and_icalendar_exports_import_into_an_empty_data_dir_as_the_same_records() {
    let from = sample_book();
    let cards = export_to(&from, "all", "vcard", &[]);
    let calendar = export_to(&from, "activities", "ical", &[]);
    let text = std::fs::read_to_string(&cards).expect("the file");
    for want in [
        "VERSION:4.0",
        "UID:",
        "REV:",
        "CATEGORIES:a\\,b,vip",
        "RELATED;TYPE=colleague",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    let ics = std::fs::read_to_string(&calendar).expect("the file");
    for want in [
        "BEGIN:VEVENT",
        "BEGIN:VTODO",
        "SEQUENCE:0",
        "TRIGGER:-PT30M",
    ] {
        assert!(ics.contains(want), "{want} in\n{ics}");
    }
    let to = Crm::init("bea");
    run(&to, &["import", &cards]);
    run(&to, &["import", &calendar]);
    assert_same_books(&book(&from), &book(&to));
    // And back again: nothing new.
    let again = run(&to, &["--json", "import", &cards]);
    assert!(again.contains("\"created\": []"), "{again}");
}

#[test]
fn csv_in_our_layout_imports_back_as_the_same_contacts() {
    let from = sample_book();
    let file = export_to(&from, "contacts", "csv", &[]);
    let to = Crm::init("bea");
    run(&to, &["import", &file]);
    let contacts = |c: &Crm| book(c).remove("contacts").unwrap_or_default();
    assert_same_books(
        &BTreeMap::from([("contacts".to_string(), contacts(&from))]),
        &BTreeMap::from([("contacts".to_string(), contacts(&to))]),
    );
}

/// A person as a phone's address book keeps them: name, e-mails, phones, organizations, title.
type Person = (String, Vec<String>, Vec<String>, String, String);

#[test]
fn google_and_outlook_layouts_import_back_as_the_same_people() {
    let from = sample_book();
    for layout in ["google", "outlook"] {
        let file = export_to(&from, "contacts", "csv", &["--layout", layout]);
        let head = std::fs::read_to_string(&file).expect("the file");
        let first = head.lines().next().unwrap_or("");
        match layout {
            "google" => assert!(
                first.starts_with("First Name,Middle Name,Last Name,Organization Name"),
                "{first}"
            ),
            _ => assert!(
                first.starts_with("\u{feff}First Name,Middle Name,Last Name,Company"),
                "{first}"
            ),
        }
        let to = Crm::init("bea");
        run(&to, &["import", &file]);
        let people = |c: &Crm| -> Vec<Person> {
            let mut v: Vec<_> = book(c)
                .remove("contacts")
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    let values = |f: &str| -> Vec<String> {
                        r[f].as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|l| l["value"].as_str().unwrap_or("").to_string())
                                    .collect()
                            })
                            .unwrap_or_default()
                    };
                    (
                        r["name"].as_str().unwrap_or("").to_string(),
                        values("emails"),
                        values("phones"),
                        r["orgs"].to_string(),
                        r["title"].to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(people(&from), people(&to), "{layout}");
    }
}

#[test]
fn an_export_holds_every_record_and_takes_the_filters_of_list() {
    let crm = Crm::init("ana");
    let mut cards = String::new();
    for i in 0..250 {
        let region = if i % 5 == 0 { "South" } else { "North" };
        cards.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {i:03}\r\nEMAIL:p{i}@example.com\r\nX-CRM-REGION:{region}\r\nEND:VCARD\r\n"
        ));
    }
    let file = crm.scratch().join("many.vcf");
    std::fs::write(&file, cards).expect("write");
    run(&crm, &["import", &file.display().to_string()]);
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 250);
    let all = run(&crm, &["export", "contacts", "--format", "vcard"]);
    assert_eq!(
        all.matches("BEGIN:VCARD").count(),
        250,
        "no cap on an export"
    );
    let south = run(
        &crm,
        &["export", "contacts", "--format", "csv", "--region", "south"],
    );
    assert_eq!(south.lines().count(), 1 + 50, "{south}");
    let found = run(
        &crm,
        &[
            "export",
            "contacts",
            "--format",
            "json",
            "--search",
            "Person 017",
        ],
    );
    let found: Value = serde_json::from_str(&found).expect("JSON");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let err = crm.fail(&["export", "cases", "--format", "vcard"]);
    assert!(err.contains("vCard holds contacts"), "{err}");
}

#[test]
fn an_activity_edited_after_export_has_a_higher_sequence() {
    let crm = Crm::init("ana");
    let id = crm.add(&[
        "activity",
        "add",
        "--kind",
        "meeting",
        "--subject",
        "Kickoff",
        "--at",
        "2026-12-02T09:00",
    ]);
    let first = run(&crm, &["export", "activities", "--format", "ical"]);
    assert!(
        first.contains(&format!("UID:{id}")) && first.contains("SEQUENCE:0"),
        "{first}"
    );
    crm.ok(&["activity", "edit", &id, "--subject", "Kick-off"]);
    let second = run(&crm, &["export", "activities", "--format", "ical"]);
    assert!(
        second.contains("SEQUENCE:1") && second.contains("SUMMARY:Kick-off"),
        "{second}"
    );
    // Importing the later file into a data dir holding the earlier state updates the same
    // activity instead of adding one.
    let file = export_to(&crm, "activities", "ical", &[]);
    crm.ok(&["activity", "edit", &id, "--subject", "Kickoff again"]);
    run(&crm, &["import", &file]);
    let list = crm.json(&["activity", "list"]);
    assert_eq!(rows(&list).len(), 1, "{list}");
    assert_eq!(rows(&list)[0]["subject"], "Kick-off");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]

    /// Random small books: export as vCard, import into an empty data dir, same records.
    #[test]
    fn a_random_small_book_survives_a_vcard_round_trip(
        people in prop::collection::vec(
            ("[A-Za-zÀ-ÿ][a-zà-ÿ]{1,8}( [A-Z][a-z]{1,8})?", "[a-z]{1,6}", prop::option::of("[a-z ,;]{1,12}"), prop::collection::btree_set("[a-z]{1,5}", 0..3)),
            1..6,
        )
    ) {
        let from = Crm::init("ana");
        for (i, (name, mail, title, tags)) in people.iter().enumerate() {
            let email = format!("{mail}{i}@example.com");
            let mut args = vec!["contact", "add", "--name", name.as_str(), "--email", email.as_str()];
            if let Some(t) = title.as_deref().filter(|t| !t.trim().is_empty()) {
                args.extend(["--title", t]);
            }
            for t in tags {
                args.extend(["--tag", t.as_str()]);
            }
            from.add(&args);
        }
        let cards = export_to(&from, "contacts", "vcard", &[]);
        let to = Crm::init("bea");
        run(&to, &["import", &cards]);
        assert_same_books(&book(&from), &book(&to));
    }
}
