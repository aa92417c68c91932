//! `crm import`: files written by real products (../shared/fixtures/interchange, see its
//! SOURCES.md) and files of the shapes they lack, written here from the published formats
//! (tests/fixtures/interchange): Google and Outlook CSV, Apple, phone and RFC 6350 vCards,
//! calendars with zones, recurrences, alarms and tasks, and broken files.

use crm_tests::{contact_names, rows, wait_for, Crm, SyncServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod calendar;
mod vcard;

/// A fixture written here.
fn ours(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/interchange")
        .join(name)
        .display()
        .to_string()
}

/// A file written by a real product (shared fixtures).
fn real(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/interchange")
        .join(sub)
}

fn real_file(sub: &str) -> String {
    real(sub).display().to_string()
}

/// Runs `crm --json import ARGS` in Berlin time (calendars are converted to local time).
fn import(crm: &Crm, args: &[&str]) -> Value {
    let mut all = vec!["--json", "import"];
    all.extend_from_slice(args);
    let out = crm
        .command()
        .env("TZ", "Europe/Berlin")
        .args(&all)
        .output()
        .expect("crm runs");
    let text = crm_tests::expect_ok(&all, out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn titles(v: &Value, what: &str) -> Vec<String> {
    let mut t: Vec<String> = v[what]
        .as_array()
        .unwrap_or_else(|| panic!("no {what} in {v}"))
        .iter()
        .map(|r| r["title"].as_str().unwrap_or("").to_string())
        .collect();
    t.sort();
    t
}

/// The contact called `name`, as `contact show --json` gives it.
fn contact(crm: &Crm, name: &str) -> Value {
    let list = crm.json(&["contact", "list", "--all"]);
    let row = rows(&list)
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no contact {name:?} in {list}"));
    crm.json(&["contact", "show", row["id"].as_str().unwrap_or("")])
}

fn labelled(v: &Value, field: &str) -> Vec<(String, String)> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["label"].as_str().unwrap_or("").to_string(),
                        l["value"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The names of the organizations a contact is linked to.
fn org_names(crm: &Crm, c: &Value) -> Vec<String> {
    let mut names: Vec<String> = c["orgs"]
        .as_object()
        .map(|m| {
            m.keys()
                .map(|id| {
                    crm.json(&["org", "show", id])["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn google_contacts_csv_in_the_current_layout_imports_people_with_labels_and_organizations() {
    let crm = Crm::init("ana");
    let out = import(&crm, &[&ours("google-contacts-current.csv")]);
    assert_eq!(out["format"], "Google Contacts CSV");
    assert_eq!(
        titles(&out, "created"),
        [
            "Aiko Tanaka",
            "Dr. Marta Nowak",
            "Jonas Berg",
            "Nowak Logistics",
            "Tanaka Foods"
        ]
    );
    let marta = contact(&crm, "Dr. Marta Nowak");
    assert_eq!(
        labelled(&marta, "emails"),
        pairs(&[
            ("work", "marta@nowak-logistics.example"),
            ("home", "marta.nowak@mail.example")
        ])
    );
    assert_eq!(
        labelled(&marta, "phones"),
        pairs(&[("mobile", "+48 601 234 567"), ("work", "+48 61 555 0100")])
    );
    assert_eq!(marta["given_name"], "Marta");
    assert_eq!(marta["family_name"], "Nowak");
    assert_eq!(marta["title"], "Head of Purchasing");
    assert_eq!(marta["department"], "Procurement");
    assert_eq!(
        strings(&marta["tags"]),
        ["Fair 2026"],
        "myContacts is Google's, not a tag"
    );
    assert_eq!(marta["address"], "ul. Główna 5\n61-001 Poznań\nPoland");
    assert_eq!(marta["notes"], "Met at the Poznań fair.\nPrefers calls.");
    assert_eq!(org_names(&crm, &marta), ["Nowak Logistics"]);
    let jonas = contact(&crm, "Jonas Berg");
    assert_eq!(
        labelled(&jonas, "emails"),
        pairs(&[("work", "jonas.berg@mail.example")])
    );
}

#[test]
fn google_contacts_legacy_export_imports_and_keeps_unusable_phones_in_the_notes() {
    let crm = Crm::init("ana");
    let out = import(
        &crm,
        &[&real_file("csv/google-contacts-legacy-export-2014.csv")],
    );
    assert_eq!(out["format"], "Google Contacts CSV (legacy layout)");
    let c = contact(&crm, "test contact");
    assert_eq!(
        labelled(&c, "emails"),
        pairs(&[
            ("home", "homeemail@home.com"),
            ("work", "workemail@work.com"),
            ("custom email", "customemail@custom.com")
        ])
    );
    assert_eq!(c["title"], "titledata");
    assert_eq!(org_names(&crm, &c), ["company-name"]);
    let notes = c["notes"].as_str().unwrap_or("");
    assert!(
        notes.starts_with("notes data") && notes.contains("mobilephone 123-234-2433"),
        "the phone that is not a number is kept in the notes: {notes:?}"
    );
    assert!(
        out["warnings"].to_string().contains("kept in the notes"),
        "{out}"
    );
}

#[test]
fn outlook_csv_in_windows_1252_and_in_utf16_with_a_mark_reads_the_same_people() {
    let crm = Crm::init("ana");
    let ansi = import(&crm, &[&ours("outlook-ansi-windows-1252.csv")]);
    assert_eq!(ansi["format"], "Outlook CSV");
    assert_eq!(ansi["encoding"], "windows-1252");
    assert_eq!(
        titles(&ansi, "created"),
        ["Café Zürich AG", "Mr. René Müller", "Ms. Chloé Dubois"]
    );
    let rene = contact(&crm, "Mr. René Müller");
    assert_eq!(
        rene["title"], "Einkaufsleiter",
        "Outlook's Title is the salutation"
    );
    assert_eq!(rene["department"], "Einkauf");
    assert_eq!(
        rene["address"],
        "Bahnhofstraße 1, 8001 Zürich ZH, Switzerland"
    );
    assert_eq!(strings(&rene["tags"]), ["Kunden", "VIP"]);
    assert_eq!(
        labelled(&rene, "phones"),
        pairs(&[("work", "+41 44 123 45 67"), ("mobile", "+41 79 765 43 21")])
    );
    // The same people in Outlook's Unicode export are found again; only the new one is created.
    let unicode = import(&crm, &[&ours("outlook-unicode-utf16le-bom.csv")]);
    assert_eq!(unicode["encoding"], "UTF-16LE");
    assert_eq!(
        titles(&unicode, "created"),
        ["Mr. Øystein Ås", "Nordlys AS"]
    );
    assert_eq!(
        titles(&unicode, "unchanged"),
        ["Mr. René Müller", "Ms. Chloé Dubois"]
    );
}

#[test]
fn outlook_classic_and_web_exports_and_a_csv_with_a_byte_order_mark_import() {
    let crm = Crm::init("ana");
    import(&crm, &[&real_file("csv/outlook-classic-export.csv")]);
    import(&crm, &[&real_file("csv/outlook-web-export-2016.csv")]);
    import(
        &crm,
        &[&real_file("csv/roundcube-fields-utf8-bom-constructed.csv")],
    );
    let names = contact_names(&crm);
    for want in [
        "Firman Wandayandi",
        "test name",
        "test name2",
        "Display Name",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let firman = contact(&crm, "Firman Wandayandi");
    assert_eq!(firman["notes"], "It's\nmultiline\nmemo.");
}

#[test]
fn importing_the_same_files_again_creates_nothing_new() {
    let crm = Crm::init("ana");
    let files = [
        ours("google-contacts-current.csv"),
        ours("outlook-ansi-windows-1252.csv"),
        ours("apple-contacts-vcard30-ablabel-photo.vcf"),
        ours("vcard40-related.vcf"),
        ours("calendar-vtimezone-rrule-vtodo.ics"),
        real_file("csv/google-contacts-legacy-export-2014.csv"),
        real_file("vcard/fullcontact-vcard40.vcf"),
        real_file("ics/thunderbird-vtodo-valarm-recurring.ics"),
    ];
    for f in &files {
        import(&crm, &[f]);
    }
    let before = crm.snapshot();
    for f in &files {
        let again = import(&crm, &[f]);
        assert_eq!(again["created"], serde_json::json!([]), "{f}: {again}");
        assert_eq!(again["updated"], serde_json::json!([]), "{f}: {again}");
    }
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn a_dry_run_lists_what_it_would_do_with_lines_and_changes_nothing() {
    let crm = Crm::init("ana");
    crm.add(&[
        "contact",
        "add",
        "--name",
        "Jonas Berg",
        "--email",
        "jonas.berg@mail.example",
    ]);
    let before = crm.snapshot();
    let out = crm.ok(&["import", &ours("google-contacts-current.csv"), "--dry-run"]);
    assert!(
        out.contains("line     2: would create contact \"Dr. Marta Nowak\""),
        "{out}"
    );
    // Jonas is on line 6: Marta's quoted notes and address span lines 2 to 5.
    assert!(
        out.contains("line     6: would update contact \"Jonas Berg\""),
        "{out}"
    );
    assert!(
        out.contains("Nothing changed (--dry-run): 4 to create, 1 to update, 0 already up to date"),
        "{out}"
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn broken_files_are_refused_whole_with_their_line_and_change_nothing() {
    let crm = Crm::init("ana");
    let before = crm.snapshot();
    for (file, line) in [
        ("broken-truncated.vcf", "line 6"),
        ("broken-bad-encoding.csv", "line 4"),
        ("broken-no-header.csv", "line 1"),
    ] {
        let err = crm.fail(&["import", &ours(file)]);
        assert!(
            err.contains(line) && err.contains("nothing changed"),
            "{file}: {err}"
        );
    }
    let err = crm.fail(&[
        "import",
        &ours("outlook-ansi-windows-1252.csv"),
        "--encoding",
        "utf-8",
    ]);
    assert!(
        err.contains("line 2") && err.contains("not UTF-8 text"),
        "{err}"
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn a_row_that_cannot_be_read_is_skipped_with_its_line_and_the_rest_is_saved() {
    let crm = Crm::init("ana");
    let file = crm.scratch().join("leads.csv");
    std::fs::write(
        &file,
        "Name,Email,Notes\nAnn Lee,ann@lee.example,\n,,only a note\nBo Kim,bo@kim.example,\n",
    )
    .expect("write");
    let out = import(&crm, &[&file.display().to_string()]);
    assert_eq!(out["skipped"][0]["line"], 3, "{out}");
    assert_eq!(contact_names(&crm), ["Ann Lee", "Bo Kim"]);
}

#[test]
fn map_reads_a_column_as_the_field_it_names() {
    let crm = Crm::init("ana");
    let file = crm.scratch().join("fair.csv");
    std::fs::write(
        &file,
        "Wer,Mail,Firma\nUte Lange,ute@lange.example,Lange GmbH\n",
    )
    .expect("write");
    let err = crm.fail(&["import", &file.display().to_string()]);
    assert!(err.contains("--map"), "{err}");
    import(
        &crm,
        &[
            &file.display().to_string(),
            "--map",
            "Wer=name",
            "--map",
            "Mail=email",
            "--map",
            "Firma=org",
        ],
    );
    let ute = contact(&crm, "Ute Lange");
    assert_eq!(
        labelled(&ute, "emails"),
        pairs(&[("work", "ute@lange.example")])
    );
    assert_eq!(org_names(&crm, &ute), ["Lange GmbH"]);
}

#[test]
fn a_person_already_here_is_found_by_email_or_phone_and_only_completed() {
    let crm = Crm::init("ana");
    let id = crm.add(&[
        "contact",
        "add",
        "--name",
        "Aiko T.",
        "--phone",
        "+81 3-1234-5678",
        "--notes",
        "Mine",
    ]);
    let out = import(&crm, &[&ours("google-contacts-current.csv")]);
    assert_eq!(titles(&out, "updated"), ["Aiko Tanaka"]);
    let aiko = crm.json(&["contact", "show", &id]);
    assert_eq!(aiko["name"], "Aiko Tanaka", "the file's name is taken");
    assert_eq!(
        labelled(&aiko, "emails"),
        pairs(&[("work", "aiko@tanaka-foods.example")])
    );
    assert_eq!(aiko["notes"], "Mine", "notes already written are kept");
    assert_eq!(contact_names(&crm).len(), 3);
}

#[test]
fn a_rep_imports_a_vcard_offline_and_the_manager_sees_the_contacts_after_sync() {
    let server = SyncServer::start();
    for args in [
        &["user", "add", "ana"][..],
        &["user", "add", "max", "--role", "manager"],
        &["book", "add", "north"],
        &["grant", "ana", "north"],
    ] {
        server.admin(args);
    }
    let ana = server.device("ana", "north", &server.token("ana"));
    let max = server.device("max", "north", &server.token("max"));
    // Offline: the import is saved on ana's laptop only.
    import(&ana, &[&ours("apple-contacts-vcard30-ablabel-photo.vcf")]);
    import(&ana, &[&ours("vcard40-related.vcf")]);
    assert!(contact_names(&max).is_empty());
    ana.ok(&["sync"]);
    let want = [
        "Lars Eriksson",
        "Priya Raman",
        "Sofia Lindqvist",
        "Tom Hughes",
    ];
    assert!(
        wait_for(Duration::from_secs(20), || {
            max.ok(&["sync"]);
            contact_names(&max) == want
        }),
        "the manager sees the imported contacts: {:?}\n{}",
        contact_names(&max),
        server.log()
    );
    let priya = contact(&max, "Priya Raman");
    assert_eq!(
        priya["relationships"].as_array().map(Vec::len),
        Some(2),
        "{priya}"
    );
    // Importing the file again on the manager's laptop finds them: nothing new to sync.
    let again = import(&max, &[&ours("apple-contacts-vcard30-ablabel-photo.vcf")]);
    assert_eq!(again["created"], serde_json::json!([]), "{again}");
}
