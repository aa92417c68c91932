//! Reports e-mailed on a schedule by `crm agent`, received by a real SMTP server on a loopback
//! port and read back with a MIME parser. Time is fixed with `CRM_NOW` (and `TZ=UTC`), so a
//! week of schedules runs in seconds.

use crm_tests::smtp::{Received, SmtpSink};
use crm_tests::{expect_clean_failure, expect_ok, wait_for, Crm};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod digest;
mod pdf;
mod smtp;

/// `crm ARGS` at a fixed time (UTC), retries waiting 20 ms.
fn cmd(crm: &Crm, now: &str, args: &[&str]) -> Command {
    let mut c = crm.command();
    c.env("CRM_NOW", now)
        .env("TZ", "UTC")
        .env("CRM_MAIL_BACKOFF_MS", "20")
        .args(args);
    c
}

fn run(crm: &Crm, now: &str, args: &[&str]) -> Output {
    cmd(crm, now, args).output().expect("crm can be started")
}

fn ok(crm: &Crm, now: &str, args: &[&str]) -> String {
    expect_ok(args, run(crm, now, args))
}

fn json(crm: &Crm, now: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(crm, now, &all)).unwrap()
}

/// A manager's data dir with a small pipeline and the sink as its SMTP server.
fn manager_with_pipeline(sink: &SmtpSink) -> Crm {
    let crm = Crm::new();
    let start = "2026-12-01T09:00";
    ok(&crm, start, &["init", "--user", "mia"]);
    let org = ok(
        &crm,
        start,
        &["org", "add", "--name", "Acme", "--region", "north"],
    );
    for (title, owner, amount, stage) in [
        ("Boilers", "ana", "12000", "proposal"),
        ("Pumps", "bruno", "8000", "qualification"),
        ("Valves, spare", "ana", "1500", "negotiation"),
    ] {
        ok(
            &crm,
            start,
            &[
                "case",
                "add",
                "--title",
                title,
                "--org",
                org.trim(),
                "--owner",
                owner,
                "--amount",
                amount,
                "--stage",
                stage,
            ],
        );
    }
    let args = sink.config_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&crm, start, &args);
    crm
}

fn parse(m: &Received) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(&m.data)
        .expect("a MIME message")
}

/// The attachment of `m` named `*.csv`, as text.
fn csv_attachment(m: &Received) -> String {
    let msg = parse(m);
    let part = msg
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".csv")))
        .expect("a CSV attachment");
    String::from_utf8(part.contents().to_vec()).unwrap()
}

fn schedule_monday(crm: &Crm, now: &str) {
    ok(
        crm,
        now,
        &[
            "schedule",
            "add",
            "monday",
            "--report",
            "pipeline --by owner",
            "--cron",
            "0 8 * * MON",
            "--to",
            "carla@example.com",
            "--to",
            "rui@example.com",
            "--tz",
            "UTC",
        ],
    );
}

#[test]
fn a_monday_pipeline_report_for_two_people_arrives_once_in_a_week_with_the_same_csv_as_the_command()
{
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    // Friday 4 December 2026.
    schedule_monday(&crm, "2026-12-04T10:00");
    let list = json(&crm, "2026-12-04T10:00", &["schedule", "list"]);
    assert_eq!(list[0]["name"], "monday");
    let next = list[0]["next_run"].as_str().unwrap();
    assert!(
        next.starts_with("Mon 7 Dec 08:00 UTC (in 2 days)"),
        "{next}"
    );

    // A runner passing every 3 hours from Friday to the next Friday.
    let mut passes_that_sent = Vec::new();
    for hour in (0..7 * 24).step_by(3) {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(11, 0, 0)
            .unwrap()
            + chrono::Duration::hours(hour);
        let now = t.format("%Y-%m-%dT%H:%M").to_string();
        let out = ok(&crm, &now, &["agent", "--offline"]);
        if out.contains("schedule monday@") {
            passes_that_sent.push(now.clone());
            // The same report, rendered by the command at the same moment on the same data.
            let csv = ok(
                &crm,
                &now,
                &["report", "pipeline", "--by", "owner", "--csv"],
            );
            let m = sink.messages();
            assert_eq!(csv_attachment(m.last().unwrap()), csv);
        }
    }
    assert_eq!(passes_that_sent, vec!["2026-12-07T08:00"]);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one message for both recipients");
    let m = &messages[0];
    assert_eq!(m.to, vec!["carla@example.com", "rui@example.com"]);
    let msg = parse(m);
    assert!(
        msg.subject().unwrap().starts_with("monday: Pipeline"),
        "{:?}",
        msg.subject()
    );
    let html = msg.body_html(0).expect("an HTML part");
    assert!(html.contains("<table") && html.contains("ana"), "{html}");
    let text = msg.body_text(0).expect("a plain-text part");
    assert!(text.contains("ana") && text.contains("bruno"), "{text}");
    let csv = csv_attachment(m);
    assert!(csv.lines().count() >= 3, "{csv}");
    let shown = ok(&crm, "2026-12-08T09:00", &["schedule", "list"]);
    assert!(
        shown.contains("sent") && shown.contains("Mon 14 Dec 08:00"),
        "{shown}"
    );
}

#[test]
fn a_laptop_asleep_at_the_run_time_sends_it_once_on_waking_marked_late() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    schedule_monday(&crm, "2026-12-04T10:00");
    assert!(ok(&crm, "2026-12-07T07:59", &["agent", "--offline"]).contains("Nothing was due"));
    // Asleep from before 08:00 to 11:30.
    let out = ok(&crm, "2026-12-07T11:30", &["agent", "--offline"]);
    assert!(
        out.contains("schedule monday@2026-12-07T08:00 (late): sent"),
        "{out}"
    );
    assert!(ok(&crm, "2026-12-07T11:45", &["agent", "--offline"]).contains("Nothing was due"));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(parse(&messages[0]).subject().unwrap().contains("(late)"));
    let list = json(&crm, "2026-12-07T12:00", &["schedule", "list"]);
    assert_eq!(list[0]["last_run"]["late"], true);
    assert_eq!(list[0]["last_run"]["state"], "sent");
}

#[test]
fn an_smtp_server_that_refuses_then_accepts_gets_the_report_after_retries_shown_in_the_list() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    schedule_monday(&crm, "2026-12-04T10:00");
    sink.refuse_next(2);
    let out = run(&crm, "2026-12-07T08:00", &["agent", "--offline"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("attempt 1 of 4 failed") && stderr.contains("451"),
        "{stderr}"
    );
    assert_eq!(sink.refused(), 2);
    assert_eq!(sink.messages().len(), 1);
    let list = json(&crm, "2026-12-07T08:05", &["schedule", "list"]);
    assert_eq!(list[0]["last_run"]["attempts"], 3);
    assert_eq!(list[0]["last_run"]["state"], "sent");

    // A server that refuses every attempt: the run is recorded as failed, with the error, and
    // the next pass tries again.
    sink.refuse_next(100);
    let out = ok(&crm, "2026-12-14T08:00", &["agent", "--offline"]);
    assert!(out.contains("failed after 4 attempts"), "{out}");
    let shown = ok(&crm, "2026-12-14T08:01", &["schedule", "list"]);
    assert!(
        shown.contains("failed after 4 attempts") && shown.contains("451"),
        "{shown}"
    );
    sink.refuse_next(0);
    let out = ok(&crm, "2026-12-14T08:10", &["agent", "--offline"]);
    assert!(
        out.contains("schedule monday@2026-12-14T08:00: sent"),
        "{out}"
    );
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn a_runner_killed_mid_run_and_restarted_sends_nothing_twice() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    for name in ["a-first", "b-second", "c-third"] {
        ok(
            &crm,
            "2026-12-04T10:00",
            &[
                "schedule",
                "add",
                name,
                "--report",
                "pipeline",
                "--cron",
                "0 8 * * *",
                "--to",
                "carla@example.com",
                "--tz",
                "UTC",
            ],
        );
    }
    // The server takes the first message, then leaves the second unanswered.
    sink.hold_after(1);
    let mut agent = cmd(&crm, "2026-12-05T08:00", &["agent", "--offline"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(30), || sink.holding()));
    agent.kill().unwrap();
    agent.wait().unwrap();
    sink.release();
    let out = ok(&crm, "2026-12-05T08:02", &["agent", "--offline"]);
    assert!(out.contains("c-third@2026-12-05T08:00: sent"), "{out}");
    assert!(
        !out.contains("a-first") && !out.contains("b-second"),
        "{out}"
    );
    let subjects: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| parse(m).subject().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].starts_with("a-first:") && subjects[1].starts_with("c-third:"));
    // The interrupted run is shown as such, and is not sent again.
    let shown = ok(&crm, "2026-12-05T08:03", &["schedule", "show", "b-second"]);
    assert!(shown.contains("may not have arrived"), "{shown}");
    assert!(ok(&crm, "2026-12-05T08:04", &["agent", "--offline"]).contains("Nothing was due"));
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn a_schedule_keeps_eight_oclock_local_across_the_change_to_winter_time() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    ok(
        &crm,
        "2026-10-15T10:00",
        &[
            "schedule",
            "add",
            "lisbon",
            "--report",
            "pipeline",
            "--cron",
            "0 8 * * MON",
            "--to",
            "carla@example.com",
            "--tz",
            "Europe/Lisbon",
        ],
    );
    // Summer time: 08:00 in Lisbon is 07:00 UTC.
    assert!(
        ok(&crm, "2026-10-19T07:00", &["agent", "--offline"]).contains("lisbon@2026-10-19T08:00")
    );
    // Clocks go back on 25 October: 08:00 in Lisbon is then 08:00 UTC.
    assert!(ok(&crm, "2026-10-26T07:00", &["agent", "--offline"]).contains("Nothing was due"));
    assert!(
        ok(&crm, "2026-10-26T08:00", &["agent", "--offline"]).contains("lisbon@2026-10-26T08:00")
    );
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn schedules_refuse_bad_input_with_one_line_and_save_nothing() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let now = "2026-12-04T10:00";
    for (args, says) in [
        (vec!["--cron", "0 8 * *"], "5 fields"),
        (vec!["--cron", "0 8 * * MON", "--tz", "Mars/Base"], "IANA"),
        (
            vec!["--cron", "0 8 * * MON", "--format", "docx"],
            "html, csv or pdf",
        ),
    ] {
        let mut all = vec![
            "schedule",
            "add",
            "x",
            "--report",
            "pipeline",
            "--to",
            "a@example.com",
        ];
        all.extend(args);
        let e = expect_clean_failure(&all, run(&crm, now, &all));
        assert!(e.contains(says), "{e}");
    }
    let all = [
        "schedule",
        "add",
        "x",
        "--report",
        "pipeline --by colour",
        "--cron",
        "0 8 * * MON",
        "--to",
        "a@example.com",
    ];
    let e = expect_clean_failure(&all, run(&crm, now, &all));
    assert!(e.contains("not a report"), "{e}");
    let all = [
        "schedule",
        "add",
        "x",
        "--report",
        "pipeline",
        "--cron",
        "0 8 * * MON",
        "--to",
        "carla",
    ];
    let e = expect_clean_failure(&all, run(&crm, now, &all));
    assert!(e.contains("carla"), "{e}");
    assert_eq!(
        json(&crm, now, &["schedule", "list"]),
        serde_json::json!([])
    );
}

#[test]
fn a_dry_run_writes_the_message_to_a_folder_and_records_nothing() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    schedule_monday(&crm, "2026-12-04T10:00");
    let outbox = crm.scratch().join("outbox");
    let out = ok(
        &crm,
        "2026-12-07T08:00",
        &[
            "agent",
            "--offline",
            "--dry-run",
            "--outbox",
            outbox.to_str().unwrap(),
        ],
    );
    assert!(out.contains("dry run"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(files[0].path()).unwrap();
    let m = Received {
        from: String::new(),
        to: Vec::new(),
        data: bytes,
        tls: false,
    };
    assert!(csv_attachment(&m).starts_with("owner,"));
    assert!(sink.messages().is_empty());
    // Nothing recorded: the real runner still sends it.
    assert!(ok(&crm, "2026-12-07T08:01", &["agent", "--offline"])
        .contains("monday@2026-12-07T08:00: sent"));
}

#[test]
fn a_scheduled_revenue_report_by_region_attaches_exactly_what_the_command_prints() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let t = "2026-12-02T10:00";
    for (title, region, amount) in [
        ("North win", "north", "4200.50"),
        ("South win", "south", "1300"),
    ] {
        let id = ok(
            &crm,
            t,
            &[
                "case", "add", "--title", title, "--region", region, "--amount", amount,
            ],
        );
        ok(&crm, t, &["case", "move", id.trim(), "--stage", "won"]);
    }
    ok(
        &crm,
        "2026-12-04T10:00",
        &[
            "schedule",
            "add",
            "revenue",
            "--report",
            "revenue --by region",
            "--cron",
            "0 7 * * *",
            "--to",
            "cfo@example.com",
            "--format",
            "csv",
            "--tz",
            "UTC",
        ],
    );
    let out = ok(&crm, "2026-12-05T07:00", &["agent", "--offline"]);
    assert!(out.contains("revenue@2026-12-05T07:00: sent"), "{out}");
    let csv = ok(
        &crm,
        "2026-12-05T07:00",
        &["report", "revenue", "--by", "region", "--csv"],
    );
    assert!(csv.contains("north") && csv.contains("south"), "{csv}");
    let m = sink.messages().remove(0);
    assert_eq!(csv_attachment(&m), csv);
    // The csv form: the report as plain text in the body too.
    let msg = parse(&m);
    assert!(msg.body_text(0).unwrap().contains("north"));
}
