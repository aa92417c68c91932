//! Bad input never breaks `crm`: every mistake exits non-zero with one line naming the problem
//! (or clap's usage error), and leaves the store exactly as it was.

use crm_tests::{message, rows, Crm};
use std::path::Path;

mod store_files;
mod values;

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
