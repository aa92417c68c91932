//! E-mail to a segment (`crm campaign`): a mail merge received by a real SMTP server on a
//! loopback port, do-not-contact honoured, never twice to the same contact.

use crm_tests::smtp::{Received, SmtpSink};
use crm_tests::{expect_clean_failure, expect_ok, wait_for, Crm};
use mail_parser::MessageParser;
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const NOW: &str = "2026-12-04T10:00";

fn cmd(crm: &Crm, args: &[&str]) -> Command {
    let mut c = crm.command();
    c.env("CRM_NOW", NOW)
        .env("TZ", "UTC")
        .env("CRM_MAIL_BACKOFF_MS", "20")
        .args(args);
    c
}

fn run(crm: &Crm, args: &[&str]) -> Output {
    cmd(crm, args).output().expect("crm can be started")
}

fn ok(crm: &Crm, args: &[&str]) -> String {
    expect_ok(args, run(crm, args))
}

fn json(crm: &Crm, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(crm, &all)).unwrap()
}

struct Book {
    crm: Crm,
    template: String,
}

/// A manager's data dir: contacts on cases of known grades, stages and regions.
fn book(sink: &SmtpSink) -> Book {
    let crm = Crm::new();
    ok(&crm, &["init", "--user", "mia"]);
    let north = ok(&crm, &["org", "add", "--name", "Acme", "--region", "north"]);
    let south = ok(
        &crm,
        &["org", "add", "--name", "Sul Lda", "--region", "south"],
    );
    // (name, e-mail, org, grade, stage): only the first four are in the segment.
    for (name, email, org, grade, stage) in [
        (
            "Ana Duarte",
            Some("ana@acme.example"),
            &north,
            "A",
            "proposal",
        ),
        (
            "Bea Costa",
            Some("bea@acme.example"),
            &north,
            "B",
            "proposal",
        ),
        (
            "Rui Alves",
            Some("rui@acme.example"),
            &north,
            "B",
            "proposal",
        ),
        ("Sara Lima", None, &north, "A", "proposal"),
        (
            "Tom Reis",
            Some("tom@acme.example"),
            &north,
            "C",
            "proposal",
        ),
        (
            "Lea Sousa",
            Some("lea@sul.example"),
            &south,
            "A",
            "proposal",
        ),
        (
            "Zoe Pinto",
            Some("zoe@acme.example"),
            &north,
            "A",
            "negotiation",
        ),
    ] {
        let mut args = vec!["contact", "add", "--name", name, "--org", org.trim()];
        if let Some(e) = email {
            args.extend(["--email", e]);
        }
        let contact = ok(&crm, &args);
        ok(
            &crm,
            &[
                "case",
                "add",
                "--title",
                &format!("Deal of {name}"),
                "--org",
                org.trim(),
                "--contact",
                contact.trim(),
                "--grade",
                grade,
                "--stage",
                stage,
            ],
        );
    }
    let args = sink.config_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&crm, &args);
    let template = crm.scratch().join("spring.txt");
    std::fs::write(
        &template,
        "Subject: Spring offer for {{org}}\n\nDear {{first_name}},\n\nOur spring prices for {{org}} are in.\n\nMia\n",
    )
    .unwrap();
    Book {
        crm,
        template: template.to_str().unwrap().to_string(),
    }
}

fn send(b: &Book, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "campaign",
        "send",
        "--template",
        &b.template,
        "--to",
        "grade:A,B stage:proposal region:north",
        "--rate",
        "6000/min",
    ];
    args.extend_from_slice(extra);
    run(&b.crm, &args)
}

fn summary(out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

fn recipients(sink: &SmtpSink) -> Vec<String> {
    let mut to: Vec<String> = sink.messages().iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

fn parse(m: &Received) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(&m.data)
        .expect("a MIME message")
}

#[test]
fn a_campaign_to_a_graded_segment_writes_once_to_each_contact_and_honours_do_not_contact() {
    let sink = SmtpSink::start();
    let b = book(&sink);
    // Rui answered an earlier campaign with "unsubscribe".
    let out = ok(&b.crm, &["campaign", "unsubscribe", "rui@acme.example"]);
    assert!(out.contains("Rui Alves"), "{out}");

    let s = summary(send(&b, &[]));
    assert_eq!(s["sent"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(
        s["skipped"]["do_not_contact"],
        serde_json::json!(["Rui Alves"])
    );
    assert_eq!(s["skipped"]["no_email"], serde_json::json!(["Sara Lima"]));
    assert_eq!(
        recipients(&sink),
        vec!["ana@acme.example", "bea@acme.example"]
    );
    let ana = sink
        .messages()
        .into_iter()
        .find(|m| m.to == ["ana@acme.example"])
        .unwrap();
    let msg = parse(&ana);
    assert_eq!(msg.subject(), Some("Spring offer for Acme"));
    let text = msg.body_text(0).unwrap();
    assert!(
        text.starts_with("Dear Ana,") && text.contains("unsubscribe"),
        "{text}"
    );
    assert!(msg.body_html(0).unwrap().contains("Dear Ana,"));
    let unsubscribe = msg.header_raw("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.contains("mailto:reports@example.com"),
        "{unsubscribe}"
    );

    // One e-mail activity on each contact written to.
    let activities = json(&b.crm, &["activity", "list", "--all"]);
    let emails: Vec<&Value> = activities
        .as_array()
        .map(|a| a.iter().filter(|r| r["kind"] == "email").collect())
        .unwrap_or_default();
    assert_eq!(emails.len(), 2, "{activities}");
    assert!(emails
        .iter()
        .all(|r| r["subject"] == "Spring offer for Acme"));

    // Run again: nobody is written to twice.
    let s = summary(send(&b, &[]));
    assert_eq!(s["sent"], serde_json::json!([]));
    assert_eq!(s["skipped"]["sent_before"].as_array().unwrap().len(), 2);
    assert_eq!(sink.messages().len(), 2);
    let shown = ok(&b.crm, &["campaign", "show", "spring"]);
    assert!(
        shown.contains("Ana Duarte") && shown.contains("sent"),
        "{shown}"
    );
}

#[test]
fn a_campaign_stopped_midway_and_run_again_never_writes_twice_to_a_contact() {
    let sink = SmtpSink::start();
    let b = book(&sink);
    sink.hold_after(1);
    let mut child = cmd(
        &b.crm,
        &[
            "campaign",
            "send",
            "--template",
            &b.template,
            "--to",
            "grade:A,B stage:proposal region:north",
            "--rate",
            "6000/min",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    assert!(wait_for(Duration::from_secs(30), || sink.holding()));
    child.kill().unwrap();
    child.wait().unwrap();
    sink.release();
    let s = summary(send(&b, &[]));
    // Ana (accepted), Bea (cut short), Rui (sent now): in order of name.
    assert_eq!(
        s["skipped"]["sent_before"].as_array().unwrap().len(),
        1,
        "{s}"
    );
    assert_eq!(
        s["skipped"]["may_not_have_arrived"],
        serde_json::json!(["Bea Costa"])
    );
    assert_eq!(s["sent"].as_array().unwrap().len(), 1, "{s}");
    let to = recipients(&sink);
    let mut unique = to.clone();
    unique.dedup();
    assert_eq!(to, unique, "someone was written to twice");
    assert_eq!(to, vec!["ana@acme.example", "rui@acme.example"]);
}

#[test]
fn a_dry_run_writes_each_message_to_a_folder_and_records_nothing() {
    let sink = SmtpSink::start();
    let b = book(&sink);
    let outbox = b.crm.scratch().join("out");
    let s = summary(send(
        &b,
        &["--dry-run", "--outbox", outbox.to_str().unwrap()],
    ));
    assert_eq!(s["dry_run"], true);
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 3);
    assert!(sink.messages().is_empty());
    // Nothing recorded: the real campaign writes to all three.
    let s = summary(send(&b, &[]));
    assert_eq!(s["sent"].as_array().unwrap().len(), 3);
}

#[test]
fn a_bad_template_segment_or_rate_is_refused_before_anything_is_sent() {
    let sink = SmtpSink::start();
    let b = book(&sink);
    let bad = b.crm.scratch().join("bad.txt");
    std::fs::write(&bad, "Subject: Hi {{frist_name}}\n\nbody\n").unwrap();
    let bad = bad.to_str().unwrap();
    for (template, to, rate, says) in [
        (bad, "grade:A", "30/min", "frist_name"),
        (b.template.as_str(), "grade:Z", "30/min", "not a grade"),
        (b.template.as_str(), "colour:red", "30/min", "not a filter"),
        (b.template.as_str(), "grade:A", "fast", "not a rate"),
    ] {
        let args = [
            "campaign",
            "send",
            "--template",
            template,
            "--to",
            to,
            "--rate",
            rate,
        ];
        let e = expect_clean_failure(&args, run(&b.crm, &args));
        assert!(e.contains(says), "{e}");
    }
    assert!(sink.messages().is_empty());
}

#[test]
fn a_campaign_on_the_team_server_logs_its_e_mails_where_the_rep_sees_them_and_never_repeats() {
    use crm_tests::SyncServer;
    let server = SyncServer::start();
    let (ana, _bruno) = server.north_team();
    server.admin(&["user", "add", "mia", "--role", "manager"]);
    server.admin(&["grant", "mia", "north"]);
    let laptop = server.device("mia", "north", &server.token("mia"));
    let org = ok(&ana, &["org", "add", "--name", "Acme", "--region", "north"]);
    let ines = ok(
        &ana,
        &[
            "contact",
            "add",
            "--name",
            "Ines Duarte",
            "--email",
            "ines@acme.example",
            "--org",
            org.trim(),
        ],
    );
    ok(
        &ana,
        &[
            "case",
            "add",
            "--title",
            "Boilers",
            "--org",
            org.trim(),
            "--contact",
            ines.trim(),
            "--grade",
            "A",
            "--stage",
            "proposal",
        ],
    );
    ok(&ana, &["sync"]);
    ok(&laptop, &["sync"]);
    let sink = SmtpSink::start();
    let template = laptop.scratch().join("spring.txt");
    std::fs::write(&template, "Subject: Hello {{first_name}}\n\nOur offer.\n").unwrap();
    let template = template.to_str().unwrap();
    let send = |crm: &Crm| {
        let args = sink.config_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(crm, &args);
        let args = [
            "--json",
            "campaign",
            "send",
            "--template",
            template,
            "--to",
            "grade:A stage:proposal region:north",
            "--rate",
            "6000/min",
        ];
        summary(run(crm, &args))
    };
    let s = send(&laptop);
    assert_eq!(s["sent"].as_array().unwrap().len(), 1, "{s}");
    ok(&laptop, &["sync"]);
    // The rep sees the e-mail on her contact.
    ok(&ana, &["sync"]);
    let activities = json(&ana, &["activity", "list", "--all"]);
    let emails: Vec<&Value> = activities
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "email" && r["subject"] == "Hello Ines")
        .collect();
    assert_eq!(emails.len(), 1, "{activities}");
    // A second manager's data dir, once synced, does not write to Ines again; a rep may not send.
    let other = server.device("mia", "north", &server.token("mia"));
    let s = send(&other);
    assert_eq!(s["sent"], serde_json::json!([]), "{s}");
    assert_eq!(
        s["skipped"]["sent_before"],
        serde_json::json!(["Ines Duarte"])
    );
    assert_eq!(sink.messages().len(), 1);
    let args = [
        "campaign",
        "send",
        "--template",
        template,
        "--to",
        "grade:A",
    ];
    let e = expect_clean_failure(&args, run(&ana, &args));
    assert!(
        e.contains("only a manager or an admin sends campaigns"),
        "{e}"
    );
}

#[test]
fn do_not_contact_set_by_hand_is_shown_skipped_by_a_campaign_and_can_be_lifted() {
    let sink = SmtpSink::start();
    let b = book(&sink);
    let contacts = json(&b.crm, &["contact", "list"]);
    let bea = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Bea Costa")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &b.crm,
        &["contact", "edit", &bea, "--do-not-contact", "yes"],
    );
    let shown = json(&b.crm, &["contact", "show", &bea]);
    assert_eq!(shown["do_not_contact"], true, "{shown}");
    let shown = ok(&b.crm, &["contact", "show", &bea]);
    assert!(shown.to_lowercase().contains("do not contact"), "{shown}");

    let s = summary(send(&b, &[]));
    assert_eq!(
        s["skipped"]["do_not_contact"],
        serde_json::json!(["Bea Costa"])
    );
    assert_eq!(
        recipients(&sink),
        vec!["ana@acme.example", "rui@acme.example"]
    );

    // A value that is not yes or no is refused and changes nothing.
    let args = ["contact", "edit", &bea, "--do-not-contact", "maybe"];
    expect_clean_failure(&args, run(&b.crm, &args));
    assert_eq!(
        json(&b.crm, &["contact", "show", &bea])["do_not_contact"],
        true
    );

    // Lifted: the same campaign run again writes to her, and to no one twice.
    ok(&b.crm, &["contact", "edit", &bea, "--do-not-contact", "no"]);
    let s = summary(send(&b, &[]));
    assert_eq!(s["sent"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(
        recipients(&sink),
        vec!["ana@acme.example", "bea@acme.example", "rui@acme.example"]
    );
}
