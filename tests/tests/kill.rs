//! `crm` killed (SIGKILL) in the middle of a write: the store opens, lists and rebuilds, the read
//! model agrees with the documents, and nothing that was reported saved is lost.
//!
//! The kill moments are random; the seed is printed, and `CRM_TEST_SEED=N` replays a run.

use crm_tests::{expect_ok, rows, Crm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn rng(test: &str) -> StdRng {
    let seed = std::env::var("CRM_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("{test}: CRM_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

fn spawn(crm: &Crm, args: &[&str]) -> Child {
    crm.command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm can be started")
}

/// Lets `child` run for `after`, then SIGKILLs it (a no-op if it already ended).
/// Returns its output and whether the kill is what ended it.
fn kill_after(mut child: Child, after: Duration) -> (Output, bool) {
    std::thread::sleep(after);
    child.kill().expect("SIGKILL can be sent");
    let out = child
        .wait_with_output()
        .expect("the killed crm can be waited for");
    let killed = out.status.code().is_none();
    (out, killed)
}

/// How long `args` takes to run to completion.
fn timed(crm: &Crm, args: &[&str]) -> Duration {
    // Finding (or building) the binary is not part of the run.
    crm_tests::crm_bin();
    let start = Instant::now();
    crm.ok(args);
    start.elapsed()
}

/// After a kill: the store opens and lists, a rebuild from the documents gives the same read
/// model, and every listed record's document can be read. Returns the snapshot.
fn check_consistent(crm: &Crm) -> Value {
    let listed = crm.snapshot();
    let rebuilt = crm.json(&["rebuild"]);
    assert_eq!(
        crm.snapshot(),
        listed,
        "the read model disagreed with the documents"
    );
    let mut records = 0;
    for (key, kind) in [
        ("orgs", "org"),
        ("contacts", "contact"),
        ("cases", "case"),
        ("activities", "activity"),
    ] {
        let list = rows(&listed[key]);
        records += list.len();
        // Each listed record's document is readable (a few of each kind: shows are slow).
        for row in list.iter().step_by(list.len().div_ceil(3).max(1)) {
            let id = row["id"].as_str().unwrap();
            assert_eq!(crm.json(&[kind, "show", id])["id"], id);
        }
    }
    let documents = rebuilt["documents"].as_u64().unwrap() as usize;
    assert!(
        documents > records,
        "{documents} documents for {records} listed records and the user"
    );
    listed
}

fn count(snapshot: &Value, key: &str) -> usize {
    rows(&snapshot[key]).len()
}

#[test]
fn killing_demo_data_mid_write_leaves_a_consistent_store() {
    let mut rng = rng("demo-data");
    let crm = Crm::init("ana");
    let size = [
        "--contacts",
        "200",
        "--orgs",
        "10",
        "--cases",
        "30",
        "--activities",
        "60",
    ];
    let run = |seed: u64| -> Vec<String> {
        let mut args: Vec<String> = vec!["demo-data".into()];
        args.extend(size.iter().map(|s| s.to_string()));
        args.extend(["--seed".into(), seed.to_string()]);
        args
    };
    // One full run tells how long a run takes here.
    let full = run(1);
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let took = timed(&crm, &full);
    let mut expected = check_consistent(&crm);
    assert_eq!(count(&expected, "contacts"), 200);
    let mut kills = 0;
    for seed in 2..6u64 {
        let args = run(seed);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let at = took.mul_f64(rng.random_range(0.02..0.98));
        let (out, killed) = kill_after(spawn(&crm, &args), at);
        if killed {
            kills += 1;
        } else {
            expect_ok(&args, out);
        }
        let now = check_consistent(&crm);
        // Records are only ever added, and never more than one run's worth.
        for (key, per_run) in [
            ("orgs", 10),
            ("contacts", 200),
            ("cases", 30),
            ("activities", 60),
        ] {
            let (before, after) = (count(&expected, key), count(&now, key));
            assert!(
                after >= before && after <= before + per_run,
                "{key}: {before} before, {after} after a run killed at {at:?}"
            );
            if !killed {
                assert_eq!(
                    after,
                    before + per_run,
                    "{key}: a run that finished added all"
                );
            }
        }
        // What was there before is still there, unchanged.
        for key in ["orgs", "contacts", "cases", "activities"] {
            for row in rows(&expected[key]) {
                assert!(
                    rows(&now[key]).contains(row),
                    "{key}: {row} changed or vanished after a kill"
                );
            }
        }
        expected = now;
    }
    assert!(
        kills > 0,
        "no run was killed before it finished: the test tested nothing"
    );
    // The store still takes writes.
    let id = crm.add(&["contact", "add", "--name", "After the kills"]);
    assert_eq!(
        crm.json(&["contact", "show", &id])["name"],
        "After the kills"
    );
}

#[test]
fn killing_adds_never_loses_a_printed_id() {
    let mut rng = rng("adds");
    let crm = Crm::init("ana");
    let took = timed(
        &crm,
        &[
            "contact",
            "add",
            "--name",
            "Warm-up",
            "--email",
            "p@example.com",
        ],
    );
    let mut printed = Vec::new();
    let mut maybe = Vec::new();
    let mut killed_count = 0;
    for i in 0..40 {
        let name = format!("Person {i}");
        let args = [
            "contact",
            "add",
            "--name",
            &name,
            "--email",
            "p@example.com",
        ];
        let at = took.mul_f64(rng.random_range(0.0..1.5));
        let (out, killed) = kill_after(spawn(&crm, &args), at);
        if killed {
            killed_count += 1;
            maybe.push(name);
        } else {
            let id = expect_ok(&args, out).trim().to_string();
            printed.push((id, name));
        }
    }
    let snapshot = check_consistent(&crm);
    let contacts = rows(&snapshot["contacts"]);
    for (id, name) in &printed {
        let row = contacts
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name} was added as {id}, then lost"));
        assert_eq!(row["name"], name.as_str());
        assert_eq!(row["email"], "p@example.com");
    }
    // A killed add either saved the whole contact or nothing.
    for row in contacts {
        let name = row["name"].as_str().unwrap();
        assert!(
            name == "Warm-up"
                || printed.iter().any(|(_, n)| n == name)
                || maybe.iter().any(|n| n == name),
            "unexpected contact {row}"
        );
        assert_eq!(row["email"], "p@example.com", "a half-saved contact: {row}");
    }
    println!(
        "{} adds printed an id, {killed_count} were killed",
        printed.len()
    );
    assert!(!printed.is_empty() || killed_count == 40);
}

#[test]
fn killing_edits_leaves_each_record_at_an_old_or_new_value() {
    let mut rng = rng("edits");
    let crm = Crm::init("ana");
    let id = crm.add(&[
        "contact", "add", "--name", "Edited", "--title", "v0", "--notes", "n0",
    ]);
    let took = timed(
        &crm,
        &["contact", "edit", &id, "--title", "v0", "--notes", "n0"],
    );
    let mut current = 0;
    let mut saved = 0;
    for i in 1..=30 {
        let title = format!("v{i}");
        let notes = format!("n{i}");
        let args = ["contact", "edit", &id, "--title", &title, "--notes", &notes];
        let at = took.mul_f64(rng.random_range(0.0..1.5));
        let (out, killed) = kill_after(spawn(&crm, &args), at);
        if !killed {
            expect_ok(&args, out);
        }
        let shown = crm.json(&["contact", "show", &id]);
        let t = shown["title"].as_str().unwrap();
        let n = shown["notes"].as_str().unwrap();
        if !killed {
            assert_eq!(
                (t, n),
                (title.as_str(), notes.as_str()),
                "a finished edit was lost"
            );
            current = i;
            saved += 1;
        } else if t == title {
            assert_eq!(n, notes, "half an edit was saved");
            current = i;
            saved += 1;
        } else {
            assert_eq!(t, format!("v{current}"), "a killed edit changed the title");
            assert_eq!(n, format!("n{current}"), "half an edit was saved");
        }
        // The list (read model) agrees with the document.
        assert_eq!(crm.json(&["contact", "list"])[0]["title"], t);
    }
    check_consistent(&crm);
    // Every edit that was saved is in the history, one change each, and no other.
    let history = crm.json(&["history", &id]);
    assert_eq!(history.as_array().unwrap().len(), 1 + saved, "{history}");
}

#[test]
fn killing_a_rebuild_leaves_the_read_model_working() {
    let mut rng = rng("rebuild");
    let crm = Crm::init("ana");
    crm.ok(&[
        "demo-data",
        "--contacts",
        "150",
        "--orgs",
        "10",
        "--cases",
        "20",
        "--activities",
        "20",
    ]);
    let before = crm.snapshot();
    let took = timed(&crm, &["rebuild"]);
    for _ in 0..3 {
        let at = took.mul_f64(rng.random_range(0.05..0.95));
        let (out, killed) = kill_after(spawn(&crm, &["rebuild"]), at);
        if !killed {
            expect_ok(&["rebuild"], out);
        }
        assert_eq!(
            crm.snapshot(),
            before,
            "the read model changed after a killed rebuild"
        );
    }
    check_consistent(&crm);
}

#[test]
fn killing_init_leaves_no_half_made_store() {
    let mut rng = rng("init");
    let probe = Crm::new();
    let took = timed(&probe, &["init", "--user", "ana"]);
    for i in 0..30 {
        let crm = Crm::new();
        // Early moments matter most here: the store file is created first.
        let at = took.mul_f64(rng.random_range(0.0..1.2) * (i as f64 / 30.0 + 0.1));
        let (out, killed) = kill_after(spawn(&crm, &["init", "--user", "ana"]), at);
        if !killed {
            expect_ok(&["init"], out);
        }
        // Either the store works, or there is none yet and `crm init` works now.
        let list = crm.run(&["--json", "contact", "list"]);
        if !list.status.success() {
            let again = crm.run(&["init", "--user", "ana"]);
            assert!(
                again.status.success(),
                "init killed after {at:?} left a data dir that neither opens nor can be \
                 initialised:\n{}{}",
                String::from_utf8_lossy(&list.stderr),
                String::from_utf8_lossy(&again.stderr)
            );
        }
        assert_eq!(crm.json(&["contact", "list"]), serde_json::json!([]));
    }
}

#[test]
fn two_processes_writing_at_once_lose_nothing() {
    let crm = Crm::init("ana");
    let ids = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let crm = &crm;
                s.spawn(move || {
                    (0..10)
                        .map(|i| crm.add(&["contact", "add", "--name", &format!("W{w} {i}")]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().expect("a writer thread"))
            .collect::<Vec<_>>()
    });
    let listed = crm.ids("contact");
    assert_eq!(listed.len(), 20);
    for id in &ids {
        assert!(listed.contains(id), "{id} was printed, then lost");
    }
    check_consistent(&crm);
}
