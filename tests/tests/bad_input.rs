//! Bad input never breaks `crm`: every mistake exits non-zero with one line naming the problem
//! (or clap's usage error), and leaves the store exactly as it was.

use crm_tests::{message, rows, Crm};
use std::path::Path;

/// A data dir with one record of each kind.
struct Book {
    crm: Crm,
    org: String,
    contact: String,
    case: String,
    activity: String,
}

fn book() -> Book {
    let crm = Crm::init("ana");
    let org = crm.add(&["org", "add", "--name", "Acme Corp"]);
    let contact = crm.add(&["contact", "add", "--name", "Bruno Costa", "--org", &org]);
    let case = crm.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--contact",
        &contact,
    ]);
    let activity = crm.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Intro call",
        "--at",
        "2026-12-01T10:00",
    ]);
    Book {
        crm,
        org,
        contact,
        case,
        activity,
    }
}

/// The store file and any WAL beside it, byte for byte.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() {
                out.push((name, std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// Runs a command that must fail cleanly, with a message containing each of `wants`, and must
/// leave the data dir's files byte for byte as they were. Returns the message.
fn refused(crm: &Crm, args: &[&str], wants: &[&str]) -> String {
    let before = files(crm.dir());
    let err = crm.fail(args);
    let msg = message(&err).to_string();
    for want in wants {
        assert!(
            msg.contains(want),
            "crm {args:?}: the error should mention {want:?}: {err}"
        );
    }
    assert!(
        files(crm.dir()) == before,
        "crm {args:?} failed but changed the data dir"
    );
    msg
}

#[test]
fn malformed_dates_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    for bad in [
        "2026-02-30",
        "31/12/2026",
        "someday",
        "2026-12-31T10:00",
        "",
        "2026-1-1x",
    ] {
        refused(
            crm,
            &["case", "add", "--title", "X", "--close-date", bad],
            &["not a date"],
        );
        refused(
            crm,
            &["case", "edit", &b.case, "--close-date", bad],
            &["not a date"],
        );
        refused(crm, &["agenda", "--date", bad], &["not a date"]);
        refused(
            crm,
            &["case", "list", "--closing-before", bad],
            &["not a date"],
        );
        refused(crm, &["activity", "list", "--from", bad], &["not a date"]);
    }
    for bad in [
        "2026-12-01T25:00",
        "2026-12-01T10:61",
        "01.12.2026 10:00",
        "noon",
        "",
    ] {
        refused(
            crm,
            &[
                "activity",
                "add",
                "--kind",
                "call",
                "--subject",
                "X",
                "--at",
                bad,
            ],
            &["not a date and time"],
        );
        refused(
            crm,
            &["activity", "edit", &b.activity, "--due", bad],
            &["not a date and time"],
        );
    }
    refused(
        crm,
        &["case", "add", "--title", "X", "--close-date", "2026-02-30"],
        &["2026-02-30"],
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn malformed_emails_and_phones_are_refused() {
    let b = book();
    let crm = &b.crm;
    for bad in [
        "ana",
        "ana@",
        "@example.com",
        "a b@example.com",
        "a@example",
        "a@@example.com",
        "work=",
    ] {
        refused(
            crm,
            &["contact", "add", "--name", "X", "--email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["contact", "edit", &b.contact, "--email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["contact", "edit", &b.contact, "--add-email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["org", "add", "--name", "X", "--email", bad],
            &["not an e-mail address"],
        );
    }
    refused(
        crm,
        &["contact", "add", "--name", "X", "--email", "home=ana"],
        &["`ana`"],
    );
    for bad in ["call me", "12", "+351 912 abc", "mobile="] {
        refused(
            crm,
            &["contact", "add", "--name", "X", "--phone", bad],
            &["not a phone number"],
        );
        refused(
            crm,
            &["org", "edit", &b.org, "--add-phone", bad],
            &["not a phone number"],
        );
    }
}

#[test]
fn malformed_amounts_are_refused() {
    let b = book();
    let crm = &b.crm;
    for bad in [
        "12,50", "1e5", "12.345", "", ".", "-", "abc", "12.5.0", "€12", "0x10", "1 000", "+5",
    ] {
        let msg = refused(
            crm,
            &["case", "add", "--title", "X", "--amount", bad],
            &["not an amount"],
        );
        assert!(msg.contains(&format!("`{bad}`")), "{msg}");
        refused(
            crm,
            &["case", "edit", &b.case, "--amount", bad],
            &["not an amount"],
        );
        refused(
            crm,
            &["case", "edit", &b.case, "--budget", bad],
            &["not an amount"],
        );
    }
    for big in [
        "99999999999999999999",
        "90071992547409.92",
        "-99999999999999999999",
    ] {
        let flag = format!("--amount={big}");
        refused(crm, &["case", "add", "--title", "X", &flag], &["too large"]);
    }
    refused(
        crm,
        &[
            "case",
            "add",
            "--title",
            "X",
            "--currency",
            "JPY",
            "--amount",
            "1500.5",
        ],
        &["not an amount", "at most 0 decimals"],
    );
    for bad in ["EURO", "E1R", "", "€"] {
        refused(
            crm,
            &["case", "add", "--title", "X", "--currency", bad],
            &["not a currency"],
        );
    }
}

#[test]
fn unknown_stages_grades_kinds_and_other_choices_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    for args in [
        vec!["case", "add", "--title", "X", "--stage", "closing"],
        vec!["case", "add", "--title", "X", "--stage", ""],
        vec!["case", "move", &b.case, "--stage", "closing"],
        vec!["case", "list", "--stage", "closing"],
    ] {
        refused(crm, &args, &["not a valid stage", "needs-analysis"]);
    }
    refused(
        crm,
        &["case", "add", "--title", "X", "--grade", "D"],
        &["`D`", "grade", "A, B, C"],
    );
    refused(crm, &["case", "edit", &b.case, "--grade", "AA"], &["grade"]);
    refused(
        crm,
        &["org", "add", "--name", "X", "--kind", "friend"],
        &["`friend`", "kind", "prospect"],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--kind",
            "party",
            "--subject",
            "X",
            "--at",
            "2026-12-01T10:00",
        ],
        &["`party`", "kind", "meeting"],
    );
    refused(
        crm,
        &["activity", "edit", &b.activity, "--status", "maybe"],
        &["status", "planned"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.org, "--as", "friend-of"],
        &["`friend-of`", "referred-by"],
    );
    refused(
        crm,
        &[
            "case",
            "edit",
            &b.case,
            "--contact",
            &format!("{}=boss", b.contact),
        ],
        &["`boss`", "role"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--interest", "6"],
        &["interest", "1 to 5"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--probability", "101"],
        &["probability", "0 to 100"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--probability", "lots"],
        &["probability"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--do-not-call", "maybe"],
        &["`maybe`", "do_not_call"],
    );
    refused(
        crm,
        &["activity", "edit", &b.activity, "--remind", "soon"],
        &["`soon`", "not a duration"],
    );
    refused(
        crm,
        &[
            "activity",
            "edit",
            &b.activity,
            "--remind",
            "99999999999999d",
        ],
        &["not a duration"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--owner", "Bruno Costa"],
        &["not a user name"],
    );
    refused(crm, &["agenda", "--user", "ANA"], &["not a user name"]);
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn unknown_flags_and_commands_get_a_usage_error() {
    let b = book();
    let crm = &b.crm;
    for args in [
        vec!["contact", "add", "--nmae", "X"],
        vec!["--frobnicate", "contact", "list"],
        vec!["contacts", "list"],
        vec!["contact"],
        vec![],
        vec!["case", "move", &b.case],
        vec!["contact", "list", "--limit", "-1"],
        vec!["contact", "list", "--limit", "many"],
        vec!["demo-data", "--contacts", "abc"],
        vec!["agenda", "--day", "--week"],
        vec!["init"],
        vec!["resolve", &b.contact, "title"],
    ] {
        let err = refused(crm, &args, &[]);
        assert!(
            err.starts_with("error:") || err.contains("Usage: crm"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unknown_ambiguous_and_wrong_kind_ids_are_refused() {
    let b = book();
    let crm = &b.crm;
    let unknown = "zzzzzzzzzzzz";
    for kind in ["org", "contact", "case", "activity"] {
        refused(
            crm,
            &[kind, "show", unknown],
            &[
                unknown,
                &format!("no {}", if kind == "org" { "organization" } else { kind }),
            ],
        );
        refused(crm, &[kind, "rm", unknown], &[unknown]);
        refused(crm, &[kind, "rm", "--restore", unknown], &[unknown]);
    }
    refused(
        crm,
        &["contact", "edit", unknown, "--title", "X"],
        &[unknown],
    );
    refused(
        crm,
        &["case", "move", unknown, "--stage", "won"],
        &[unknown],
    );
    refused(crm, &["history", unknown], &[unknown]);
    refused(crm, &["resolve", unknown, "title", "X"], &[unknown]);
    refused(
        crm,
        &["contact", "add", "--name", "X", "--org", unknown],
        &[unknown],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--org", unknown],
        &[unknown],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--contact", unknown],
        &[unknown],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--kind",
            "note",
            "--subject",
            "X",
            "--case",
            unknown,
        ],
        &[unknown],
    );
    refused(crm, &["contact", "list", "--org", unknown], &[unknown]);
    refused(
        crm,
        &["relate", &b.contact, unknown, "--as", "colleague"],
        &[unknown],
    );
    // Too short, bad characters, wrong kind.
    refused(crm, &["contact", "show", "abc"], &["`abc`", "at least 4"]);
    refused(crm, &["contact", "show", ""], &["at least 4"]);
    refused(crm, &["contact", "show", "abcd efgh"], &["abcd efgh"]);
    refused(crm, &["contact", "show", "abcd%"], &["abcd%"]);
    refused(
        crm,
        &["contact", "show", "'; DROP TABLE documents; --"],
        &["DROP TABLE"],
    );
    refused(
        crm,
        &["org", "show", &b.contact],
        &["is a contact", "not a organization"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--org", &b.contact],
        &["is a contact"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--org", &b.case],
        &["is a case"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.case, "--as", "colleague"],
        &["only contacts and organizations"],
    );
    // Still all there.
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
    assert_eq!(
        crm.json(&["contact", "show", &b.contact])["name"],
        "Bruno Costa"
    );
}

#[test]
fn edits_that_would_break_a_record_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    refused(crm, &["contact", "add"], &["contact needs a name"]);
    refused(crm, &["contact", "add", "--name", "   "], &["needs a name"]);
    refused(
        crm,
        &["org", "add", "--industry", "software"],
        &["needs a name"],
    );
    refused(crm, &["case", "add", "--title", ""], &["needs a title"]);
    refused(
        crm,
        &["activity", "add", "--kind", "call", "--subject", "X"],
        &["give a time"],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--subject",
            "X",
            "--at",
            "2026-12-01T10:00",
        ],
        &["needs a kind"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "name"],
        &["needs a name"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--name", ""],
        &["needs a name"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "shoe_size"],
        &["`shoe_size`"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "tags"],
        &["--clear tags"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact],
        &["nothing to change"],
    );
    refused(
        crm,
        &["case", "edit", &b.case, "--stage", "won"],
        &["case move"],
    );
    refused(
        crm,
        &["case", "move", &b.case, "--stage", "prospecting"],
        &["already in stage"],
    );
    refused(
        crm,
        &["case", "move", &b.case, "--stage", "lost"],
        &["reason"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.contact, "--as", "colleague"],
        &["itself"],
    );
    refused(
        crm,
        &["resolve", &b.contact, "name", "X"],
        &["no conflicting values"],
    );
    for q in ["!!!", "", "  --  "] {
        refused(
            crm,
            &["contact", "list", "--search", q],
            &["--search needs letters or digits"],
        );
        refused(crm, &["org", "list", "--search", q], &["--search"]);
    }
    refused(
        crm,
        &["init", "--user", "bruno"],
        &["already holds a CRM store"],
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn search_text_is_not_a_query_language() {
    let b = book();
    let crm = &b.crm;
    for q in [
        "\"",
        "Bruno\"",
        "NEAR(",
        "a OR b",
        "*",
        "bruno*",
        "name:bruno",
        "'; DROP TABLE rm_search; --",
    ] {
        // Either a clean result or a clean error; never a database error.
        let out = crm.run(&["--json", "contact", "list", "--search", q]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(v.is_array(), "{q:?}: {v}");
        } else {
            crm_tests::expect_clean_failure(&["contact", "list", "--search", q], out);
        }
    }
    assert_eq!(
        rows(&crm.json(&["contact", "list", "--search", "bruno\""])).len(),
        1
    );
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
}

#[test]
fn an_uninitialised_data_dir_is_reported_and_not_created() {
    let crm = Crm::new();
    for args in [
        vec!["contact", "list"],
        vec!["org", "add", "--name", "Acme"],
        vec!["agenda"],
        vec!["conflicts"],
        vec!["rebuild"],
        vec!["history", "abcdefgh"],
    ] {
        let err = crm.fail(&args);
        let msg = message(&err);
        assert!(
            msg.contains("no CRM data in") && msg.contains("crm init"),
            "{args:?}: {err}"
        );
        assert!(
            msg.contains(crm.dir().to_str().unwrap()),
            "names the dir: {err}"
        );
        assert!(!crm.dir().exists(), "crm {args:?} created the data dir");
    }
    // An existing but empty dir is not a store either.
    std::fs::create_dir_all(crm.dir()).unwrap();
    let err = crm.fail(&["contact", "list"]);
    assert!(message(&err).contains("no CRM data in"), "{err}");
    assert!(
        files(crm.dir()).is_empty(),
        "a failed command left files behind"
    );
    // merge --from an uninitialised dir.
    let ana = Crm::init("ana");
    let err = refused(
        &ana,
        &["merge", "--from", crm.dir().to_str().unwrap()],
        &["no CRM data in"],
    );
    assert!(err.contains("merge from"), "{err}");
}

#[test]
fn init_with_bad_values_creates_nothing() {
    let crm = Crm::new();
    for (args, want) in [
        (vec!["init", "--user", "Ana"], "`Ana` is not a user name"),
        (vec!["init", "--user", ""], "not a user name"),
        (vec!["init", "--user", "ana silva"], "not a user name"),
        (
            vec!["init", "--user", "ana", "--server", "http://example.com"],
            "ws://",
        ),
    ] {
        let err = crm.fail(&args);
        assert!(message(&err).contains(want), "{args:?}: {err}");
        assert!(
            !crm.dir().exists(),
            "a refused init created {}",
            crm.dir().display()
        );
    }
    // A data dir that cannot be created: its parent is a file.
    let file = crm.scratch().join("a-file");
    std::fs::write(&file, b"not a dir").unwrap();
    let out = Crm::bare_command()
        .arg("--data-dir")
        .arg(file.join("data"))
        .args(["init", "--user", "ana"])
        .output()
        .unwrap();
    let err = crm_tests::expect_clean_failure(&["init"], out);
    assert!(message(&err).contains("cannot create"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a dir");
}

#[test]
fn a_garbage_store_file_is_refused_and_left_alone() {
    let crm = Crm::new();
    std::fs::create_dir_all(crm.dir()).unwrap();
    let mut junk: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // Also one that starts like SQLite.
    for (n, content) in [junk.clone(), {
        junk[..16].copy_from_slice(b"SQLite format 3\0");
        junk
    }]
    .into_iter()
    .enumerate()
    {
        std::fs::write(crm.store_file(), &content).unwrap();
        for args in [
            vec!["contact", "list"],
            vec!["contact", "add", "--name", "X"],
            vec!["rebuild"],
            vec!["conflicts"],
        ] {
            let msg = refused(&crm, &args, &["not a readable CRM store"]);
            assert!(msg.contains("crm.sqlite3"), "names the file: {msg}");
        }
        refused(
            &crm,
            &["init", "--user", "ana"],
            &["already holds a CRM store"],
        );
        let ana = Crm::init("ana");
        let before = ana.snapshot();
        let msg = refused(
            &ana,
            &["merge", "--from", crm.dir().to_str().unwrap()],
            &["not a readable CRM store"],
        );
        assert!(msg.contains("merge from"), "case {n}: {msg}");
        assert_eq!(ana.snapshot(), before);
    }
}

#[test]
fn a_file_that_is_not_a_crm_store_is_refused_and_left_alone() {
    // An empty file (what a `crm init` killed before its first write leaves behind), and an
    // SQLite database of some other program.
    let empty = Crm::new();
    std::fs::create_dir_all(empty.dir()).unwrap();
    std::fs::write(empty.store_file(), b"").unwrap();
    let other = Crm::new();
    std::fs::create_dir_all(other.dir()).unwrap();
    let conn = rusqlite::Connection::open(other.store_file()).unwrap();
    conn.execute_batch("CREATE TABLE something_else (x); INSERT INTO something_else VALUES (1);")
        .unwrap();
    drop(conn);
    for crm in [&empty, &other] {
        let dir = crm.dir().to_str().unwrap();
        refused(crm, &["contact", "list"], &[dir]);
        refused(crm, &["org", "add", "--name", "X"], &[dir]);
    }
    refused(&other, &["contact", "list"], &["not a readable CRM store"]);
}

#[test]
fn a_store_without_a_device_id_is_refused() {
    let ana = Crm::init("ana");
    let conn = rusqlite::Connection::open(ana.store_file()).unwrap();
    conn.execute("DELETE FROM meta WHERE key = 'device'", [])
        .unwrap();
    drop(conn);
    refused(
        &ana,
        &["contact", "list"],
        &["not a readable CRM store", "device"],
    );
    refused(
        &ana,
        &["org", "add", "--name", "X"],
        &["not a readable CRM store", "device"],
    );
}

#[test]
fn a_store_from_a_newer_crm_is_refused_and_left_alone() {
    let b = book();
    let crm = &b.crm;
    let conn = rusqlite::Connection::open(crm.store_file()).unwrap();
    let n = conn
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'store_version'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1, "the store has a meta.store_version row");
    drop(conn);
    for args in [
        vec!["contact", "list"],
        vec!["contact", "show", &b.contact],
        vec!["contact", "add", "--name", "X"],
        vec!["case", "move", &b.case, "--stage", "won"],
        vec!["org", "rm", &b.org],
        vec!["rebuild"],
        vec!["agenda"],
        vec!["conflicts"],
        vec![
            "demo-data",
            "--contacts",
            "1",
            "--orgs",
            "1",
            "--cases",
            "1",
            "--activities",
            "1",
        ],
    ] {
        refused(crm, &args, &["newer crm", "store version 99", "upgrade"]);
    }
    refused(crm, &["init", "--user", "ana"], &["already holds"]);
    // Merging from it is refused too, and the target is untouched.
    let bruno = Crm::init("bruno");
    let before = bruno.snapshot();
    refused(
        &bruno,
        &["merge", "--from", crm.dir().to_str().unwrap()],
        &["newer crm"],
    );
    assert_eq!(bruno.snapshot(), before);
}

#[test]
fn a_corrupt_document_is_reported_and_the_rest_still_works() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    let conn = rusqlite::Connection::open(crm.store_file()).unwrap();
    let n = conn
        .execute(
            "UPDATE documents SET snapshot = x'00112233445566' WHERE id = ?1",
            [&b.contact],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    refused(
        crm,
        &["contact", "show", &b.contact],
        &[&b.contact, "cannot be read"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--title", "X"],
        &[&b.contact, "cannot be read"],
    );
    refused(crm, &["history", &b.contact], &[&b.contact]);
    // Rebuilding fails on it without dropping the read model.
    refused(crm, &["rebuild"], &[&b.contact, "cannot be read"]);
    assert_eq!(
        crm.snapshot(),
        before,
        "lists come from the read model, which is intact"
    );
    assert_eq!(crm.json(&["org", "show", &b.org])["name"], "Acme Corp");
    crm.ok(&["case", "move", &b.case, "--stage", "won"]);
    let merged = Crm::init("bruno");
    let err = merged.fail(&["merge", "--from", crm.dir().to_str().unwrap()]);
    assert!(message(&err).contains(&b.contact), "{err}");
}

#[test]
fn an_unwritable_data_dir_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    let set_mode = |mode: u32| {
        std::fs::set_permissions(crm.dir(), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(0o500);
    // root ignores the mode bits: find out whether this process can still write there.
    let probe = crm.dir().join("probe");
    let writable = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    let out = crm.run(&["contact", "add", "--name", "Unwritten"]);
    let edit = crm.run(&["contact", "edit", &b.contact, "--title", "X"]);
    set_mode(0o700);
    for (what, out) in [("add", out), ("edit", edit)] {
        if writable {
            // Running as root: the write goes through; it must at least succeed normally.
            crm_tests::expect_ok(&[what], out);
        } else {
            let err = crm_tests::expect_clean_failure(&[what], out);
            assert!(message(&err).contains("crm.sqlite3"), "{err}");
        }
    }
    if !writable {
        assert_eq!(crm.snapshot(), before);
    }
    // A WAL path taken by a directory makes the store unopenable, even for root.
    std::fs::create_dir(crm.dir().join("crm.sqlite3-wal")).unwrap();
    let store = crm.store_bytes();
    for args in [
        vec!["contact", "list"],
        vec!["contact", "add", "--name", "X"],
    ] {
        let err = crm.fail(&args);
        assert!(message(&err).contains("crm.sqlite3"), "{err}");
    }
    assert_eq!(crm.store_bytes(), store);
    std::fs::remove_dir(crm.dir().join("crm.sqlite3-wal")).unwrap();
    let expected = if writable { 2 } else { 1 };
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), expected);
}

#[test]
fn an_input_with_a_line_break_still_gives_a_one_line_error() {
    let b = book();
    let crm = &b.crm;
    refused(
        crm,
        &["case", "add", "--title", "X", "--amount", "12\n50"],
        &["not an amount"],
    );
    refused(
        crm,
        &[
            "contact",
            "add",
            "--name",
            "X",
            "--email",
            "ana\n@example.com",
        ],
        &["e-mail"],
    );
    refused(
        crm,
        &[
            "case",
            "add",
            "--title",
            "X",
            "--close-date",
            "2026-13-31\r\n",
        ],
        &["not a date"],
    );
    refused(crm, &["contact", "show", "abcd\nefgh"], &["id"]);
}

#[test]
fn an_agenda_at_the_end_of_the_calendar_does_not_panic() {
    let b = book();
    let crm = &b.crm;
    // Far but ordinary dates work.
    crm.ok(&[
        "case",
        "add",
        "--title",
        "Far",
        "--close-date",
        "9999-12-31",
    ]);
    assert_eq!(
        crm.json(&["agenda", "--week", "--date", "9999-12-25"])["from"],
        "9999-12-25"
    );
    assert_eq!(
        crm.json(&["agenda", "--date", "0001-01-01"])["from"],
        "0001-01-01"
    );
    // The last date chrono knows: the agenda's window would end after it.
    refused(crm, &["agenda", "--date", "+262142-12-31"], &["date"]);
    refused(
        crm,
        &["agenda", "--week", "--date", "+262142-12-28"],
        &["date"],
    );
}

#[test]
fn huge_demo_data_sizes_do_not_panic() {
    let b = book();
    let crm = &b.crm;
    let max = u64::MAX.to_string();
    for flag in ["--contacts", "--orgs", "--cases", "--activities"] {
        refused(crm, &["demo-data", flag, &max, "--seed", "7"], &[]);
    }
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
}
