//! End-to-end sync over the real network: `crm` data dirs syncing through the real
//! `crm-sync-server` binary on 127.0.0.1.
//!
//! - Two reps edit offline (different fields, the same field, notes, new records, a removal
//!   against an edit), sync in different orders, and end identical; the same-field edit is a
//!   conflict on both until one side resolves it.
//! - A new device restores the whole workspace, conflicts and history included.
//! - The server is SIGKILLed right after a sync reported success and in the middle of a restore:
//!   nothing reported done is lost, the interrupted sync fails on one line, the next one works.
//! - `crm sync --watch` receives and pushes live, and reconnects after the server restarts.
//! - A sync with nothing to do transfers little.
//! - A restore gets every document as the server stores it (never loaded there), and its next
//!   sync is one small round trip.
//! - Unreachable or bogus servers make `crm sync` fail cleanly without touching the records.
//!
//! Waiting is bounded polling, never a fixed sleep that a race must beat.

use crm_tests::{check_failure, contact_names, message, rows, wait_until, Crm, SyncServer};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod failures;
mod traffic;

/// How long a live change may take to reach the other side.
const LIVE: Duration = Duration::from_secs(20);

/// `crm sync --json`, which must succeed.
fn sync(crm: &Crm) -> Value {
    crm.json(&["sync"])
}

/// The `(created, updated)` counts of a sync report.
fn counts(report: &Value) -> (u64, u64) {
    let n = |key: &str| {
        report[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in the sync report {report}"))
    };
    (n("created"), n("updated"))
}

/// What two replicas must agree on: every list and conflict, and each record as `show` and
/// `history` print it.
///
/// The rows of each list are compared as a set (sorted by id): `activity list`, `org list` and
/// `case list` order rows by time, name or close date with no final tie-break on the id (unlike
/// `contact list`), so rows that tie come in each replica's own insertion order.
fn view(crm: &Crm, shown: &[(&str, &str)]) -> Value {
    let mut v = crm.snapshot();
    for list in ["orgs", "contacts", "cases", "activities"] {
        v[list]
            .as_array_mut()
            .unwrap_or_else(|| panic!("{list} is a list"))
            .sort_by_key(|row| row["id"].to_string());
    }
    for (kind, id) in shown {
        v[format!("{kind} {id}")] = crm.json(&[kind, "show", id]);
        // The changes, not their order: concurrent changes are listed in the order each
        // replica received them.
        let mut history = crm.json(&["history", id]);
        history
            .as_array_mut()
            .unwrap_or_else(|| panic!("history prints a list"))
            .sort_by_key(|change| change["hash"].to_string());
        v[format!("history {id}")] = history;
    }
    v
}

/// The paths where two JSON values differ (at most a few), for readable assertion messages.
fn differences(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        if out.len() >= 8 || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let null = Value::Null;
                    let (l, r) = (x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null));
                    walk(&format!("{path}/{k}"), l, r, out);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (l, r)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}/{i}"), l, r, out);
                }
            }
            _ => out.push(format!("{path}: {a} != {b}")),
        }
    }
    let mut out = Vec::new();
    walk("", a, b, &mut out);
    out
}

/// Asserts two views are equal, printing where they differ.
#[track_caller]
fn assert_same(a: &Value, b: &Value, what: &str) {
    let diff = differences(a, b);
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

fn sorted(conflict: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = conflict["values"]
        .as_array()
        .unwrap_or_else(|| panic!("a conflict lists its values: {conflict}"))
        .iter()
        .map(|v| v[key].as_str().unwrap_or("?").to_string())
        .collect();
    v.sort();
    v
}

/// Checks that a `crm` run failed with one line `crm: error: ...` (no panic, no signal).
fn assert_clean_failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{what} should have failed but succeeded:\nstdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    if let Err(problem) = check_failure(out) {
        panic!("{what} did not fail cleanly: {problem}\nstderr: {stderr}");
    }
    stderr
}

/// Runs `cmd` to its end (its output is small), killing it and failing the test after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm can be started");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("crm can be polled").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output();
            panic!("{cmd:?} still ran after {limit:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("crm can be waited for")
}

/// A local port where nothing listens (it was free a moment ago).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// `crm sync --watch` running on a data dir; killed when dropped.
struct Watch {
    child: Child,
    stderr: PathBuf,
}

impl Watch {
    fn start(crm: &Crm) -> Watch {
        let stderr = crm.scratch().join("watch.stderr");
        let file = std::fs::File::create(&stderr).expect("a file for the watch's stderr");
        let child = crm
            .command()
            .args(["sync", "--watch"])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("crm sync --watch can be started");
        Watch { child, stderr }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Panics if the watch has exited: it must survive lost connections.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("the watch can be polled") {
            panic!("crm sync --watch exited ({status}):\n{}", self.stderr());
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------------

#[test]
fn two_reps_edit_offline_and_converge_through_the_server() {
    let server = SyncServer::start();
    let url = server.url();

    // Ana fills her book and syncs it up.
    let (ana, _) = Crm::init_with_server("ana", &url);
    let org = ana.add(&["org", "add", "--name", "Acme Corp", "--region", "north"]);
    let contact = ana.add(&[
        "contact",
        "add",
        "--name",
        "Carla Duarte",
        "--title",
        "Buyer",
        "--phone",
        "+351 912 000 000",
        "--org",
        &org,
        "--notes",
        "Met at the fair.",
    ]);
    let dario = ana.add(&[
        "contact",
        "add",
        "--name",
        "Dario Rossi",
        "--email",
        "dario@acme.example",
    ]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--amount",
        "1000",
        "--org",
        &org,
        "--contact",
        &format!("{contact}=decision-maker"),
    ]);
    let visit = ana.add(&[
        "activity",
        "add",
        "--kind",
        "visit",
        "--subject",
        "Demo at the plant",
        "--at",
        "2026-12-01T10:00",
        "--case",
        &case,
    ]);
    let up = sync(&ana);
    assert_eq!(counts(&up), (0, 0), "nothing to receive yet: {up}");
    assert!(up["bytes_sent"].as_u64().unwrap() > 0, "{up}");

    // Bruno's new laptop restores all of it.
    let (bruno, init) = Crm::init_with_server("bruno", &url);
    assert_eq!(
        init["restored"]["created"], 6,
        "five records and Ana's user: {init}"
    );
    let shown = [
        ("contact", contact.as_str()),
        ("contact", dario.as_str()),
        ("case", case.as_str()),
        ("org", org.as_str()),
        ("activity", visit.as_str()),
    ];
    let restored = view(&bruno, &shown);
    assert_eq!(rows(&restored["contacts"]).len(), 2, "{restored:#}");
    assert_same(
        &restored,
        &view(&ana, &shown),
        "the restore differs from Ana's book",
    );

    // Round 1, offline on both sides: different fields of one contact, the same field (title),
    // both append to the notes, Ana removes the case that Bruno edits, each adds records.
    ana.ok(&["contact", "edit", &contact, "--phone", "+351 913 111 111"]);
    bruno.ok(&["contact", "edit", &contact, "--region", "south"]);
    ana.ok(&["contact", "edit", &contact, "--title", "Head of Purchasing"]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--title",
        "Purchasing Director",
    ]);
    ana.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        "Met at the fair. Wants a demo.",
    ]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        "Met at the fair. Call back in May.",
    ]);
    ana.ok(&["case", "rm", &case]);
    bruno.ok(&["case", "edit", &case, "--amount", "2500.75", "--grade", "A"]);
    let globex = ana.add(&["org", "add", "--name", "Globex"]);
    let elena = bruno.add(&["contact", "add", "--name", "Elena Novak"]);
    let call = bruno.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Call Elena",
        "--at",
        "2026-12-02T09:30",
        "--contact",
        &elena,
    ]);
    assert_ne!(ana.snapshot(), bruno.snapshot());

    // Sync in the order Ana, Bruno, Ana.
    let a1 = sync(&ana);
    assert_eq!(counts(&a1), (1, 0), "only Bruno's user is new to Ana: {a1}");
    let b1 = sync(&bruno);
    assert_eq!(
        counts(&b1),
        (1, 2),
        "Globex is new; the contact and the case changed: {b1}"
    );
    let a2 = sync(&ana);
    assert_eq!(
        counts(&a2),
        (2, 2),
        "Elena and the call are new; the contact and the case changed: {a2}"
    );
    let mut shown = shown.to_vec();
    shown.extend([
        ("org", globex.as_str()),
        ("contact", elena.as_str()),
        ("activity", call.as_str()),
    ]);
    let merged = view(&ana, &shown);
    assert_same(
        &merged,
        &view(&bruno, &shown),
        "the replicas differ after syncing Ana, Bruno, Ana",
    );

    // Nothing was lost: different fields merged, both notes insertions are there.
    let c = ana.json(&["contact", "show", &contact]);
    assert_eq!(c["phones"][0]["value"], "+351 913 111 111", "{c:#}");
    assert_eq!(c["region"], "south", "{c:#}");
    let notes = c["notes"].as_str().unwrap().to_string();
    assert!(
        [
            "Met at the fair. Wants a demo. Call back in May.",
            "Met at the fair. Call back in May. Wants a demo.",
        ]
        .contains(&notes.as_str()),
        "both appends must be kept: {notes:?}"
    );
    // The removed case stays removed and carries Bruno's concurrent edit.
    let k = ana.json(&["case", "show", &case]);
    assert!(k["deleted_at"].is_i64(), "{k:#}");
    assert_eq!(k["amount"], 250_075, "{k:#}");
    assert_eq!(k["grade"], "A", "{k:#}");
    assert!(rows(&bruno.json(&["case", "list"])).is_empty());
    // New records from each side are on both.
    for crm in [&ana, &bruno] {
        assert_eq!(crm.json(&["org", "show", &globex])["name"], "Globex");
        assert_eq!(
            crm.json(&["contact", "show", &elena])["name"],
            "Elena Novak"
        );
        assert_eq!(
            crm.json(&["activity", "show", &call])["subject"],
            "Call Elena"
        );
    }
    // The title is a conflict on both sides, with both values and both users.
    let conflicts = ana.json(&["conflicts"]);
    assert_eq!(
        rows(&conflicts).len(),
        1,
        "only the title holds concurrent values: {conflicts:#}"
    );
    let t = &conflicts[0];
    assert_eq!(t["id"], contact.as_str());
    assert_eq!(t["type"], "contact");
    assert_eq!(t["field"], "title");
    assert_eq!(
        sorted(t, "value"),
        ["Head of Purchasing", "Purchasing Director"]
    );
    assert_eq!(sorted(t, "user"), ["ana", "bruno"]);
    assert_eq!(bruno.json(&["conflicts"]), conflicts);
    assert_eq!(t["values"][0]["value"], c["title"]);

    // Round 2, offline again, synced in the order Bruno, Ana, Bruno: both edit the notes again
    // (one prepends, one appends), Bruno removes Dario while Ana edits him, Ana edits Elena.
    ana.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        &format!("{notes} Budget approved."),
    ]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        &format!("Lisbon: {notes}"),
    ]);
    bruno.ok(&["contact", "rm", &dario]);
    ana.ok(&["contact", "edit", &dario, "--email", "dario@globex.example"]);
    ana.ok(&["contact", "edit", &elena, "--title", "CFO"]);
    let b2 = sync(&bruno);
    assert_eq!(counts(&b2), (0, 0), "Ana has not synced: {b2}");
    let a3 = sync(&ana);
    assert_eq!(counts(&a3), (0, 2), "the notes and Dario: {a3}");
    let b3 = sync(&bruno);
    assert_eq!(counts(&b3), (0, 3), "the notes, Dario and Elena: {b3}");
    let merged = view(&ana, &shown);
    assert_same(
        &merged,
        &view(&bruno, &shown),
        "the replicas differ after syncing Bruno, Ana, Bruno",
    );
    let c = bruno.json(&["contact", "show", &contact]);
    assert_eq!(
        c["notes"],
        format!("Lisbon: {notes} Budget approved."),
        "{c:#}"
    );
    let d = bruno.json(&["contact", "show", &dario]);
    assert!(d["deleted_at"].is_i64(), "{d:#}");
    assert_eq!(d["emails"][0]["value"], "dario@globex.example", "{d:#}");
    assert_eq!(bruno.json(&["contact", "show", &elena])["title"], "CFO");
    assert_eq!(bruno.json(&["conflicts"]), ana.json(&["conflicts"]));
    assert_eq!(rows(&ana.json(&["conflicts"])).len(), 1);

    // Bruno resolves the title; after syncing both, the conflict is gone on both.
    bruno.ok(&["resolve", &contact, "title", "Purchasing Manager"]);
    assert_eq!(bruno.json(&["conflicts"]), serde_json::json!([]));
    sync(&bruno);
    let a4 = sync(&ana);
    assert_eq!(counts(&a4), (0, 1), "the resolved contact: {a4}");
    assert_eq!(ana.json(&["conflicts"]), serde_json::json!([]));
    let b4 = sync(&bruno);
    assert_eq!(counts(&b4), (0, 0), "{b4}");
    let resolved = view(&ana, &shown);
    assert_same(&resolved, &view(&bruno, &shown), "after the resolution");
    assert_eq!(
        resolved[format!("contact {contact}")]["title"],
        "Purchasing Manager"
    );
}

#[test]
fn a_new_device_restores_the_whole_workspace() {
    let server = SyncServer::start();
    let url = server.url();
    let (ana, _) = Crm::init_with_server("ana", &url);
    let (bruno, _) = Crm::init_with_server("bruno", &url);
    let org = ana.add(&["org", "add", "--name", "Initech", "--kind", "prospect"]);
    let contact = ana.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--org",
        &org,
        "--notes",
        "Likes trains.",
    ]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Pilot",
        "--org",
        &org,
        "--stage",
        "qualification",
    ]);
    sync(&ana);
    sync(&bruno);
    // Concurrent edits (a conflict, a stage move, notes), a removal, records on both sides.
    ana.ok(&["contact", "edit", &contact, "--title", "CFO"]);
    bruno.ok(&["contact", "edit", &contact, "--title", "CEO"]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        "Likes trains. And planes.",
    ]);
    ana.ok(&["case", "move", &case, "--stage", "proposal"]);
    bruno.ok(&["case", "edit", &case, "--amount", "900"]);
    let removed = bruno.add(&["contact", "add", "--name", "Temp Person"]);
    bruno.ok(&["contact", "rm", &removed]);
    let task = ana.add(&[
        "activity",
        "add",
        "--kind",
        "task",
        "--subject",
        "Send the quote",
        "--due",
        "2026-12-03T12:00",
        "--case",
        &case,
    ]);
    sync(&ana);
    sync(&bruno);
    sync(&ana);
    let shown = [
        ("contact", contact.as_str()),
        ("contact", removed.as_str()),
        ("case", case.as_str()),
        ("org", org.as_str()),
        ("activity", task.as_str()),
    ];
    let workspace = view(&ana, &shown);
    assert_same(&workspace, &view(&bruno, &shown), "Ana and Bruno differ");
    assert_eq!(rows(&workspace["conflicts"]).len(), 1, "{workspace:#}");

    // Carla's fresh data dir gets everything: records, the removal, the conflict, the history.
    let (carla, init) = Crm::init_with_server("carla", &url);
    assert_eq!(
        init["restored"]["created"], 7,
        "five records and two users: {init}"
    );
    assert_same(
        &view(&carla, &shown),
        &workspace,
        "the new device differs from the others",
    );

    // And it is a full member: its resolution reaches the others.
    carla.ok(&["resolve", &contact, "title", "CFO"]);
    sync(&carla);
    sync(&ana);
    sync(&bruno);
    let settled = view(&carla, &shown);
    assert_eq!(rows(&settled["conflicts"]).len(), 0, "{settled:#}");
    assert_same(&view(&ana, &shown), &settled, "Ana differs from Carla");
    assert_same(&view(&bruno, &shown), &settled, "Bruno differs from Carla");
}
