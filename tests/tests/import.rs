//! `crm import`: files written by real products (../shared/fixtures/interchange, see its
//! SOURCES.md) and files of the shapes they lack, written here from the published formats
//! (tests/fixtures/interchange): Google and Outlook CSV, Apple, phone and RFC 6350 vCards,
//! calendars with zones, recurrences, alarms and tasks, and broken files.

use crm_tests::{contact_names, rows, wait_for, Crm, SyncServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
fn every_real_vcard_export_imports_without_failing() {
    let crm = Crm::init("ana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(real("vcard"))
        .expect("the shared vCard fixtures")
        .map(|e| e.expect("a file").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8);
    for f in &files {
        let out = import(&crm, &[&f.display().to_string()]);
        let read = out["created"].as_array().map(Vec::len).unwrap_or(0)
            + out["updated"].as_array().map(Vec::len).unwrap_or(0)
            + out["unchanged"].as_array().map(Vec::len).unwrap_or(0);
        assert!(read > 0, "{} gives records: {out}", f.display());
        assert_eq!(out["skipped"], serde_json::json!([]), "{}", f.display());
    }
    // The iPhone card: its photo (587 folded lines, CR CR LF) does not get in the way.
    let john = contact(&crm, "Mr. John Richter James Doe Sr.");
    assert!(
        labelled(&john, "emails").contains(&("work".into(), "john.doe@ibm.com".into())),
        "{john}"
    );
    assert!(org_names(&crm, &john).contains(&"IBM".to_string()));
    // The Outlook 2.1 card's quoted-printable address label does not break it either; the
    // folded Evolution card keeps its e-mail whole.
    let names = contact_names(&crm);
    assert!(
        names.iter().any(|n| n.starts_with("Piotr Iksi")),
        "The Bat!'s card: {names:?}"
    );
    let google = contact(&crm, "VCard Test");
    assert!(!labelled(&google, "emails").is_empty(), "{google}");
}

#[test]
fn apple_contacts_labels_photo_and_company_card_are_read() {
    let crm = Crm::init("ana");
    let out = import(&crm, &[&ours("apple-contacts-vcard30-ablabel-photo.vcf")]);
    assert_eq!(
        titles(&out, "created"),
        ["Lars Eriksson", "Nordic Paper AB", "Sofia Lindqvist"]
    );
    assert_eq!(
        titles(&out, "updated"),
        ["Nordic Paper AB"],
        "the company card fills in the organization"
    );
    let sofia = contact(&crm, "Sofia Lindqvist");
    assert_eq!(
        labelled(&sofia, "emails"),
        pairs(&[
            ("work", "sofia.lindqvist@nordicpaper.example"),
            ("other", "sofia@private.example")
        ])
    );
    assert_eq!(
        labelled(&sofia, "phones"),
        pairs(&[
            ("mobile", "+46 70 123 45 67"),
            ("switchboard", "+46 8 555 010 00")
        ])
    );
    assert_eq!(sofia["address"], "Kungsgatan 12, Stockholm, 111 43, Sweden");
    assert_eq!(sofia["department"], "Sales");
    assert_eq!(strings(&sofia["tags"]), ["Customers", "Paper"]);
    assert_eq!(
        sofia["notes"],
        "Decides on paper orders over 50 t.\nAsk about the Gävle mill."
    );
    let orgs = crm.json(&["org", "list"]);
    let org = &rows(&orgs)[0];
    assert_eq!(org["name"], "Nordic Paper AB");
    assert_eq!(org["phone"], "+46 8 555 010 00");
    let org = crm.json(&["org", "show", org["id"].as_str().unwrap_or("")]);
    assert_eq!(org["website"], "https://nordicpaper.example");
}

#[test]
fn a_phones_vcard_21_with_quoted_printable_and_charsets_reads_non_latin_names() {
    let crm = Crm::init("ana");
    import(&crm, &[&ours("phone-vcard21-qp-charset.vcf")]);
    let m = contact(&crm, "Małgorzata Wiśniewska");
    assert_eq!(m["family_name"], "Wiśniewska");
    assert_eq!(
        m["notes"], "Spotkanie w Łodzi, dostawa w środę.",
        "a soft line break joins"
    );
    assert_eq!(
        labelled(&m, "phones"),
        pairs(&[("mobile", "+48601111222"), ("work", "+48225550101")])
    );
    let j = contact(&crm, "João Gonçalves");
    assert_eq!(org_names(&crm, &j), ["Vinhos do Porto Lda"]);
    assert_eq!(
        labelled(&j, "phones"),
        pairs(&[("home", "+351 22 123 4567")])
    );
}

#[test]
fn vcard_40_related_becomes_relationships_between_the_cards() {
    let crm = Crm::init("ana");
    import(&crm, &[&ours("vcard40-related.vcf")]);
    let priya = contact(&crm, "Priya Raman");
    let mut texts: Vec<String> = priya["relationships"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["kind"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    texts.sort();
    assert_eq!(texts, ["colleague", "reports-to"], "{priya}");
    let tom = contact(&crm, "Tom Hughes");
    assert!(
        priya["relationships"]
            .to_string()
            .contains(tom["id"].as_str().unwrap_or("?")),
        "{priya}"
    );
    assert_eq!(
        labelled(&priya, "phones"),
        pairs(&[("work", "+44-20-7946-0018")])
    );
}

/// The activity whose subject is `subject` (of a recurring one, the first occurrence).
fn activity(crm: &Crm, subject: &str) -> Value {
    let list = crm.json(&["activity", "list", "--all"]);
    let row = rows(&list)
        .iter()
        .filter(|r| r["subject"] == subject)
        .min_by_key(|r| r["at"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no activity {subject:?} in {list}"));
    crm.json(&["activity", "show", row["id"].as_str().unwrap_or("")])
}

#[test]
fn calendar_times_are_converted_from_their_zones_and_a_recurring_event_keeps_its_rule() {
    let crm = Crm::init("ana");
    let out = import(&crm, &[&ours("calendar-vtimezone-rrule-vtodo.ics")]);
    // Four single ones, and the weekly call's ten occurrences (COUNT=10).
    assert_eq!(
        out["created"].as_array().map(Vec::len),
        Some(4 + 10),
        "{out}"
    );
    // A Windows zone name (with its VTIMEZONE) at 09:30 is 09:30 in Berlin.
    let weekly = activity(&crm, "Weekly pipeline call");
    assert_eq!(weekly["kind"], "meeting");
    assert_eq!(weekly["start"], "2026-07-07T09:30");
    assert_eq!(weekly["end"], "2026-07-07T09:45");
    assert_eq!(weekly["remind"], 15);
    assert_eq!(weekly["location"], "Room 4");
    assert_eq!(strings(&weekly["attendees"]), ["ana.ruiz@example.com"]);
    assert_eq!(weekly["notes"], "Go through the open cases.");
    assert_eq!(weekly["repeat"], "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=TU");
    // 14:00 in New York in January is 20:00 in Berlin; DURATION gives the end.
    let visit = activity(&crm, "Visit at Hudson Freight");
    assert_eq!(visit["start"], "2026-01-15T20:00");
    assert_eq!(visit["end"], "2026-01-15T21:30");
    assert_eq!(visit["location"], "12 Pier St, New York");
    // UTC.
    let call = activity(&crm, "Call with Oslo office");
    assert_eq!(call["start"], "2026-11-20T17:00");
    assert_eq!(call["status"], "cancelled");
    // Tasks: a due time and an alarm an hour before it; a completed one.
    let offer = activity(&crm, "Send the revised offer");
    assert_eq!(offer["kind"], "task");
    assert_eq!(offer["due"], "2026-07-10T17:00");
    assert_eq!(offer["remind"], 60);
    assert_eq!(
        activity(&crm, "Book the trade fair stand")["status"],
        "done"
    );
}

#[test]
fn real_calendar_exports_import_with_their_moved_occurrences_in_place() {
    let crm = Crm::init("ana");
    let thunderbird = import(
        &crm,
        &[&real_file("ics/thunderbird-vtodo-valarm-recurring.ics")],
    );
    // The moved occurrences (RECURRENCE-ID) are imported in place of those they move.
    assert_eq!(
        thunderbird["skipped"],
        serde_json::json!([]),
        "{thunderbird}"
    );
    let todo = activity(&crm, "todo with alarm");
    assert_eq!(todo["kind"], "task");
    assert_eq!(
        todo["repeat"], "RRULE:FREQ=DAILY;UNTIL=20231223T090000Z",
        "{todo}"
    );
    for f in [
        "ics/google-calendar-export-valarm.ics",
        "ics/google-calendar-recurring-exdate-override.ics",
        "ics/outlook-2010-meeting-request.ics",
        "ics/exchange-2010-recurring-overrides.ics",
        "ics/exchange-cdo-meeting-request-quirky-rrule.ics",
    ] {
        let out = import(&crm, &[&real_file(f)]);
        assert!(
            !out["created"].as_array().map(Vec::is_empty).unwrap_or(true),
            "{f}: {out}"
        );
    }
    // Outlook's "Eastern Standard Time" at 12:00 on 2013-06-10 (daylight time) is 18:00 in Berlin.
    let meeting = activity(&crm, "Team Meeting");
    assert_eq!(meeting["start"], "2013-06-10T18:00", "{meeting}");
    assert_eq!(meeting["end"], "2013-06-10T19:00", "{meeting}");
    let google = activity(&crm, "event with alarms");
    assert_eq!(google["remind"], 10, "{google}");
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

#[test]
fn a_zone_the_file_defines_under_an_unknown_name_is_converted_by_its_own_rules() {
    let crm = Crm::init("ana");
    // Exchange's `GMT +0100 (Standard) / GMT +0200 (Daylight)`: 10:00 on 3 July is summer time,
    // 08:00 UTC.
    let file = real_file("ics/exchange-cdo-meeting-request-quirky-rrule.ics");
    let args = ["--json", "import", file.as_str()];
    let out = crm
        .command()
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm runs");
    let out: Value = serde_json::from_str(&crm_tests::expect_ok(&args, out)).expect("JSON");
    assert_eq!(out["warnings"], serde_json::json!([]), "{out}");
    let standup = activity(&crm, "Sprint 25 Daily Standup");
    assert_eq!(standup["start"], "2015-07-03T08:00", "{standup}");
    assert_eq!(standup["end"], "2015-07-03T08:30", "{standup}");
}
