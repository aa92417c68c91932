//! The runner in a team: the real `crm-sync-server` with users, books, grants and tokens, a
//! manager's two data dirs each running `crm agent`, and reps whose reminders and digests the
//! manager's runner sends. Time is fixed with `CRM_NOW` (and `TZ=UTC`); mail goes to a real SMTP
//! server on a loopback port.

use crm_tests::smtp::SmtpSink;
use crm_tests::{expect_clean_failure, expect_ok, Crm, SyncServer};
use mail_parser::MessageParser;
use std::process::Output;

fn run(crm: &Crm, now: &str, args: &[&str]) -> Output {
    crm.command()
        .env("CRM_NOW", now)
        .env("TZ", "UTC")
        .env("CRM_MAIL_BACKOFF_MS", "20")
        .args(args)
        .output()
        .expect("crm can be started")
}

fn ok(crm: &Crm, now: &str, args: &[&str]) -> String {
    expect_ok(args, run(crm, now, args))
}

fn use_sink(crm: &Crm, sink: &SmtpSink) {
    let args = sink.config_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(crm, "2026-12-01T09:00", &args);
}

/// The north team (reps ana and bruno) and manager mia, granted north.
fn team(server: &SyncServer) -> (Crm, Crm) {
    let (ana, _bruno) = server.north_team();
    server.admin(&["user", "add", "mia", "--role", "manager"]);
    server.admin(&["grant", "mia", "north"]);
    let mia = server.device("mia", "north", &server.token("mia"));
    (ana, mia)
}

const SCHEDULE: [&str; 11] = [
    "schedule",
    "add",
    "monday",
    "--report",
    "pipeline --by owner",
    "--cron",
    "0 8 * * MON",
    "--to",
    "carla@example.com",
    "--tz",
    "UTC",
];

#[test]
fn two_runners_on_two_synced_data_dirs_send_each_run_once() {
    let server = SyncServer::start();
    let (ana, laptop) = team(&server);
    ana.ok(&["case", "add", "--title", "Boilers", "--amount", "12000"]);
    ana.ok(&["sync"]);
    // The manager's laptop and a second data dir of hers, run as a service.
    let service = server.device("mia", "north", &server.token("mia"));
    let sink = SmtpSink::start();
    use_sink(&laptop, &sink);
    use_sink(&service, &sink);
    ok(&laptop, "2026-12-04T10:00", &SCHEDULE);
    ok(&laptop, "2026-12-04T10:00", &["sync"]);

    // The service passes first: it syncs, sends, records and syncs; the laptop then learns it.
    let out = ok(&service, "2026-12-07T08:00", &["agent"]);
    assert!(out.contains("monday@2026-12-07T08:00: sent"), "{out}");
    let out = ok(&laptop, "2026-12-07T08:01", &["agent"]);
    assert!(out.contains("Nothing was due"), "{out}");
    assert_eq!(sink.messages().len(), 1);
    let first = sink.messages().remove(0);
    let msg = MessageParser::default().parse(&first.data).unwrap();
    let csv = msg.attachments().next().unwrap().contents().to_vec();
    assert!(
        String::from_utf8(csv).unwrap().contains("ana"),
        "the report holds ana's case"
    );
    let shown = ok(&laptop, "2026-12-07T08:02", &["schedule", "show", "monday"]);
    assert!(shown.contains("mia@"), "{shown}");

    // Two runners that cannot sync do not know of each other's runs: each sends its own.
    let a = ok(&service, "2026-12-14T08:00", &["agent", "--offline"]);
    let b = ok(&laptop, "2026-12-14T08:00", &["agent", "--offline"]);
    assert!(a.contains("sent") && b.contains("sent"), "{a}\n{b}");
    assert_eq!(sink.messages().len(), 3);
}

#[test]
fn a_rep_may_not_schedule_and_never_receives_the_managers_schedules() {
    let server = SyncServer::start();
    let (ana, mia) = team(&server);
    let args = &SCHEDULE;
    let e = expect_clean_failure(args, run(&ana, "2026-12-04T10:00", args));
    assert!(
        e.contains("only a manager or an admin schedules reports"),
        "{e}"
    );
    ok(&mia, "2026-12-04T10:00", &SCHEDULE);
    ok(&mia, "2026-12-04T10:00", &["sync"]);
    ok(&ana, "2026-12-04T10:01", &["sync"]);
    let list = ok(&ana, "2026-12-04T10:02", &["--json", "schedule", "list"]);
    assert_eq!(list.trim(), "[]");
    // A schedule is run only from its owner's data dir: what its recipients see is hers.
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    let e = expect_clean_failure(
        &["schedule", "run", "monday"],
        run(&bruno, "2026-12-04T10:03", &["schedule", "run", "monday"]),
    );
    assert!(e.contains("no schedule"), "{e}");
}

#[test]
fn a_reps_reminder_and_morning_digest_arrive_by_mail_from_the_managers_runner() {
    let server = SyncServer::start();
    let (ana, mia) = team(&server);
    let sink = SmtpSink::start();
    use_sink(&mia, &sink);
    let now = "2026-12-06T18:00";
    ok(&ana, now, &["config", "email", "ana@north.example"]);
    ok(&ana, now, &["config", "digest", "on"]);
    ok(
        &ana,
        now,
        &[
            "activity",
            "add",
            "--kind",
            "meeting",
            "--subject",
            "Boiler demo",
            "--at",
            "2026-12-07T10:00",
            "--remind",
            "30",
        ],
    );
    ok(
        &ana,
        now,
        &[
            "activity",
            "add",
            "--kind",
            "task",
            "--subject",
            "Send the quote",
            "--due",
            "2026-12-04",
        ],
    );
    ok(&ana, now, &["sync"]);

    // 06:30: nothing yet. 07:30: the digest. 09:31: the reminder. 09:45: nothing again.
    assert!(ok(&mia, "2026-12-07T06:30", &["agent"]).contains("Nothing was due"));
    let out = ok(&mia, "2026-12-07T07:30", &["agent"]);
    assert!(
        out.contains("digest of 1 overdue task(s) to ana@north.example"),
        "{out}"
    );
    assert!(!out.contains("reminder"), "{out}");
    let out = ok(&mia, "2026-12-07T09:31", &["agent"]);
    assert!(
        out.contains("reminder of `Boiler demo` to ana@north.example: sent"),
        "{out}"
    );
    assert!(ok(&mia, "2026-12-07T09:45", &["agent"]).contains("Nothing was due"));

    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.to == ["ana@north.example"]));
    let parser = MessageParser::default();
    let digest = parser.parse(&messages[0].data).unwrap();
    assert!(digest
        .body_text(0)
        .unwrap()
        .contains("Send the quote (due 2026-12-04"));
    let reminder = parser.parse(&messages[1].data).unwrap();
    assert_eq!(
        reminder.subject(),
        Some("Reminder: Boiler demo (Mon 7 Dec 10:00)")
    );

    // A second runner of the team syncs what was sent and sends none of it again.
    let service = server.device("mia", "north", &server.token("mia"));
    use_sink(&service, &sink);
    assert!(ok(&service, "2026-12-07T09:50", &["agent"]).contains("Nothing was due"));
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn a_watching_runner_sends_a_schedule_made_on_another_laptop_once_it_has_synced() {
    let server = SyncServer::start();
    let (_ana, laptop) = team(&server);
    let service = server.device("mia", "north", &server.token("mia"));
    let sink = SmtpSink::start();
    use_sink(&service, &sink);
    let mut runner = service
        .command()
        .env("CRM_NOW", "2026-12-07T08:00")
        .env("TZ", "UTC")
        .args(["agent", "--watch", "--every", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    ok(&laptop, "2026-12-04T10:00", &SCHEDULE);
    ok(&laptop, "2026-12-04T10:00", &["sync"]);
    let arrived = crm_tests::wait_for(std::time::Duration::from_secs(60), || {
        !sink.messages().is_empty()
    });
    // What it recorded after sending reaches the server with its next sync: the laptop learns
    // the run was sent.
    let learned = arrived
        && crm_tests::wait_for(std::time::Duration::from_secs(60), || {
            ok(&laptop, "2026-12-07T08:01", &["sync"]);
            ok(&laptop, "2026-12-07T08:02", &["schedule", "list"])
                .contains("2026-12-07T08:00: sent")
        });
    runner.kill().unwrap();
    runner.wait().unwrap();
    assert!(arrived, "the watching runner never sent the run");
    assert!(learned, "the laptop never learned the run was sent");
    assert_eq!(
        sink.messages().len(),
        1,
        "passes after the first sent nothing again"
    );
}

#[test]
fn crm_sync_watch_tells_the_rep_her_due_reminder_once() {
    let server = SyncServer::start();
    let (ana, _mia) = team(&server);
    let now = "2026-12-07T08:00";
    for (subject, at) in [
        ("Boiler demo", "2026-12-07T10:00"),
        ("Later call", "2026-12-07T16:00"),
    ] {
        ok(
            &ana,
            now,
            &[
                "activity",
                "add",
                "--kind",
                "meeting",
                "--subject",
                subject,
                "--at",
                at,
                "--remind",
                "30",
            ],
        );
    }
    let log = ana.scratch().join("watch-reminders.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut watch = ana
        .command()
        .env("CRM_NOW", "2026-12-07T09:31")
        .env("TZ", "UTC")
        .args(["sync", "--watch"])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let told = crm_tests::wait_for(std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("reminder: meeting `Boiler demo` at Mon 7 Dec 10:00")
    });
    watch.kill().unwrap();
    watch.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(told, "{out}");
    assert_eq!(out.matches("reminder:").count(), 1, "{out}");
    assert!(!out.contains("Later call"), "{out}");
}

/// The JSON objects of `crm --json agent`'s lines.
fn events(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect()
}

fn find<'a>(events: &'a [serde_json::Value], event: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["event"] == event)
        .unwrap_or_else(|| panic!("no {event} in {events:?}"))
}

#[test]
fn the_runner_with_json_tells_each_thing_it_does_as_one_object_per_line() {
    let server = SyncServer::start();
    let (ana, mia) = team(&server);
    let sink = SmtpSink::start();
    use_sink(&mia, &sink);
    let now = "2026-12-06T18:00";
    ok(&ana, now, &["config", "email", "ana@north.example"]);
    ok(&ana, now, &["config", "digest", "on"]);
    for args in [
        [
            "--kind",
            "meeting",
            "--subject",
            "Boiler demo",
            "--at",
            "2026-12-07T08:20",
            "--remind",
            "30",
        ]
        .as_slice(),
        &[
            "--kind",
            "task",
            "--subject",
            "Send the quote",
            "--due",
            "2026-12-04",
        ],
    ] {
        let mut all = vec!["activity", "add"];
        all.extend_from_slice(args);
        ok(&ana, now, &all);
    }
    ok(&ana, now, &["sync"]);
    ok(&mia, "2026-12-04T10:00", &SCHEDULE);

    let out = ok(&mia, "2026-12-07T08:00", &["--json", "agent"]);
    let told = events(&out);
    assert!(told.iter().all(|e| e["at"].is_string()), "{out}");
    // What the sync brought: ana's records, told as `crm sync --watch --json` tells them.
    assert!(
        find(&told, "received")["created"].as_u64().unwrap() >= 2,
        "{out}"
    );
    let run = find(&told, "schedule_sent");
    assert_eq!(run["schedule"], "monday");
    assert_eq!(run["run"], "monday@2026-12-07T08:00");
    assert_eq!(run["late"], false);
    assert_eq!(run["to"], serde_json::json!(["carla@example.com"]));
    let reminder = find(&told, "reminder_sent");
    assert_eq!(reminder["subject"], "Boiler demo");
    assert_eq!(reminder["to"], "ana@north.example");
    let digest = find(&told, "digest_sent");
    assert_eq!(
        (&digest["user"], &digest["tasks"]),
        (&"ana".into(), &1.into())
    );
    // A sync before the sends, and one after them to tell the server what was sent.
    let syncs: Vec<&serde_json::Value> = told.iter().filter(|e| e["event"] == "synced").collect();
    assert_eq!(syncs.len(), 2, "{out}");
    assert!(syncs[1]["bytes_sent"].as_u64().unwrap() > 0, "{out}");
    let position = |event: &str| told.iter().position(|e| e["event"] == event).unwrap();
    assert!(position("schedule_sent") < told.iter().rposition(|e| e["event"] == "synced").unwrap());
    assert_eq!(find(&told, "pass")["messages"], 3);
    assert_eq!(told.last().unwrap()["event"], "pass", "{out}");
    assert_eq!(sink.messages().len(), 3);

    // A run missed while asleep is told late; a server refusing every attempt is told as a
    // failure with the error and, for a watching runner, when it is tried again.
    let out = ok(&mia, "2026-12-14T11:00", &["--json", "agent", "--offline"]);
    let late = find(&events(&out), "schedule_sent").clone();
    assert_eq!(late["late"], true, "{out}");
    sink.refuse_next(1000);
    let log = mia.scratch().join("agent-json.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut runner = mia
        .command()
        .env("CRM_NOW", "2026-12-21T08:00")
        .env("TZ", "UTC")
        .env("CRM_MAIL_BACKOFF_MS", "20")
        .args(["--json", "agent", "--offline", "--watch", "--every", "30"])
        .stdout(file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let failed = crm_tests::wait_for(std::time::Duration::from_secs(60), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("schedule_failed")
    });
    runner.kill().unwrap();
    runner.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(failed, "{out}");
    let told = events(&out);
    let f = find(&told, "schedule_failed");
    assert_eq!(f["run"], "monday@2026-12-21T08:00");
    assert_eq!(f["attempts"], 4);
    assert!(f["error"].as_str().unwrap().contains("451"), "{f}");
    assert_eq!(f["retry_at"], "2026-12-21T08:00:30+00:00", "{f}");
    assert_eq!(f["at"], "2026-12-21T08:00:00+00:00", "{f}");
}
