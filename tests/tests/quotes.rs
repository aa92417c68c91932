//! Quotes end to end: a catalogue and a configured quote built offline on two laptops of a real
//! team (server, users, books, grants, tokens) that later sync and merge; a manager's approval
//! of a discount over a rep's limit; the PDF read by an independent reader (`pdftotext`); the
//! document verified, and caught when altered or when the quote changed since.

use crm_tests::{expect_clean_failure, message, Crm, SyncServer};
use serde_json::Value;
use std::process::Command;

/// Book `north` with reps ana and bruno and manager max; returns their laptops.
fn team(server: &SyncServer) -> (Crm, Crm, Crm) {
    for args in [
        &["user", "add", "ana"][..],
        &["user", "add", "bruno"],
        &["user", "add", "max", "--role", "manager"],
        &["book", "add", "north"],
        &["grant", "ana", "north"],
        &["grant", "bruno", "north"],
    ] {
        server.admin(args);
    }
    (
        server.device("ana", "north", &server.token("ana")),
        server.device("bruno", "north", &server.token("bruno")),
        server.device("max", "north", &server.token("max")),
    )
}

/// A catalogue with a rule (a fleet licence needs a support plan), a customer with a name in
/// four scripts, and an open case; returns the case id.
fn catalogue_and_case(crm: &Crm) -> String {
    catalogue(crm);
    customer_case(crm)
}

/// A catalogue with a rule: a fleet licence needs a support plan.
fn catalogue(crm: &Crm) {
    crm.add(&[
        "product",
        "add",
        "--sku",
        "FLEET",
        "--name",
        "Fleet licence",
        "--price",
        "1000",
        "--tax",
        "23",
        "--unit",
        "licence",
        "--requires",
        "SUP-STD",
        "--requires",
        "SUP-PRO",
    ]);
    crm.add(&[
        "product",
        "add",
        "--sku",
        "SUP-PRO",
        "--name",
        "Support plan",
        "--price",
        "120.50",
        "--tax",
        "8",
        "--unit",
        "month",
    ]);
}

/// A customer with a name in four scripts, and an open case; returns the case id.
fn customer_case(crm: &Crm) -> String {
    let org = crm.add(&["org", "add", "--name", "Αθήνα Логистика 東京商事 GmbH"]);
    crm.add(&["case", "add", "--title", "Fleet renewal", "--org", &org])
}

fn show(crm: &Crm, quote: &str) -> Value {
    crm.json(&["quote", "show", quote])
}

fn line_qty(show: &Value) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = show["totals"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_string(),
                l["qty"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn two_reps_build_one_quote_offline_and_their_lines_merge_with_the_same_line_in_conflict() {
    let server = SyncServer::start();
    let (ana, bruno, max) = team(&server);
    catalogue(&max);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let case = customer_case(&ana);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    assert!(
        quote.starts_with("Q-20") && quote.ends_with("-ana-0001"),
        "a readable number: {quote}"
    );
    let fleet = ana.add(&["quote", "add-line", &quote, "FLEET", "--qty", "20"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    // Offline, both at once: ana raises the fleet licences; bruno sets them otherwise and adds
    // the support plan the rule asks for.
    ana.ok(&["quote", "edit-line", &fleet, "--qty", "30"]);
    bruno.ok(&["quote", "edit-line", &fleet, "--qty", "25"]);
    bruno.add(&["quote", "add-line", &quote, "SUP-PRO", "--qty", "12"]);
    let bruno_quote = bruno.ok(&["quote", "new", &case]).trim().to_string();
    assert!(bruno_quote.contains("-bruno-0001"), "{bruno_quote}");
    for crm in [&ana, &bruno, &ana] {
        crm.ok(&["sync"]);
    }
    let on_ana = show(&ana, &quote);
    let on_bruno = show(&bruno, &quote);
    assert_eq!(
        line_qty(&on_ana).len(),
        2,
        "both lines are on ana's laptop: {on_ana}"
    );
    assert_eq!(line_qty(&on_ana), line_qty(&on_bruno), "both laptops agree");
    assert!(
        on_ana["broken_rules"].as_array().unwrap().is_empty(),
        "{on_ana}"
    );
    let conflicts = on_ana["conflicts"].to_string();
    assert!(
        conflicts.contains("quantity") && conflicts.contains("30") && conflicts.contains("25"),
        "the same line's quantity is a conflict with both values: {conflicts}"
    );
    // The conflict is settled like any other field.
    ana.ok(&["resolve", &fleet, "quantity", "30"]);
    assert_eq!(
        line_qty(&show(&ana, &quote)),
        [("FLEET".to_string(), 30), ("SUP-PRO".to_string(), 12)]
    );
    // Two quotes numbered offline by two reps never share a number.
    let numbers: Vec<String> = ana
        .json(&["quote", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers.len(), 2, "{numbers:?}");
    assert_ne!(numbers[0], numbers[1]);
}

#[test]
fn a_discount_over_a_reps_limit_needs_the_managers_approval_recorded_on_the_quote() {
    let server = SyncServer::start();
    let (ana, _bruno, max) = team(&server);
    catalogue(&max);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let case = customer_case(&ana);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    let before = show(&ana, &quote);
    let args = [
        "quote",
        "add-line",
        &quote,
        "FLEET",
        "--qty",
        "10",
        "--discount",
        "15%",
    ];
    let err = expect_clean_failure(&args, ana.run(&args));
    assert!(message(&err).contains("rep's limit is 10%"), "{err}");
    assert_eq!(show(&ana, &quote), before, "nothing changed");
    // A rep cannot approve it herself.
    let err = ana.fail(&["quote", "approve", &quote, "--discount", "15%"]);
    assert!(message(&err).contains("only a manager"), "{err}");
    ana.ok(&["sync"]);
    max.ok(&["sync"]);
    max.ok(&["quote", "approve", &quote, "--discount", "15%"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    ana.add(&args);
    let after = show(&ana, &quote);
    assert_eq!(after["quote"]["approved_by"], "max", "{after}");
    // 10 x 1000.00 less 15 % = 8500.00 net, 23 % tax = 1955.00.
    assert_eq!(after["totals"]["net"], 850_000);
    assert_eq!(after["totals"]["tax"], 195_500);
}

fn pdftotext(file: &std::path::Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(file)
        .arg("-")
        .output()
        .expect("pdftotext (Debian's poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext reads the file");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_quote_pdf_shows_every_script_is_the_same_bytes_each_time_and_verifies() {
    let ana = Crm::init("ana");
    let case = catalogue_and_case(&ana);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    let fleet = ana.add(&[
        "quote",
        "add-line",
        &quote,
        "FLEET",
        "--qty",
        "3",
        "--discount",
        "5%",
    ]);
    ana.add(&["quote", "add-line", &quote, "SUP-PRO", "--qty", "12"]);
    let pdf = ana.scratch().join("quote.pdf");
    let again = ana.scratch().join("again.pdf");
    let pdf_s = pdf.to_str().unwrap();
    ana.ok(&["quote", "pdf", &quote, "--out", pdf_s]);
    ana.ok(&["quote", "pdf", &quote, "--out", again.to_str().unwrap()]);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    assert_eq!(
        bytes,
        std::fs::read(&again).unwrap(),
        "the same quote gives the same bytes"
    );
    let text = pdftotext(&pdf);
    for expected in [
        "Αθήνα",
        "Логистика",
        "東京商事",
        &quote,
        "Fleet licence",
        "Tax 23%",
        "Tax 8%",
    ] {
        assert!(
            text.contains(expected),
            "the PDF shows {expected:?}:\n{text}"
        );
    }
    // 3 x 1000.00 less 5 % = 2850.00; 12 x 120.50 = 1446.00; taxes 655.50 + 115.68.
    assert!(
        text.contains("2850.00") && text.contains("655.50") && text.contains("115.68"),
        "{text}"
    );
    assert!(ana.ok(&["quote", "verify", pdf_s]).contains("matches"));

    // An altered copy: one byte of the drawing changed.
    let mut altered = bytes.clone();
    let at = altered.windows(6).position(|w| w == b"stream").unwrap() + 20;
    altered[at] ^= 0x01;
    let altered_path = ana.scratch().join("altered.pdf");
    std::fs::write(&altered_path, &altered).unwrap();
    let args = ["quote", "verify", altered_path.to_str().unwrap()];
    let out = ana.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    expect_clean_failure(&args, out);
    assert!(stdout.contains("altered"), "{stdout}");

    // The quote changed after the document was made: verify names the line and the field.
    ana.ok(&["quote", "edit-line", &fleet, "--qty", "4"]);
    let args = ["quote", "verify", pdf_s];
    let out = ana.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    expect_clean_failure(&args, out);
    assert!(
        stdout.contains("quote_line")
            && stdout.contains("changed since")
            && stdout.contains("quantity"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("altered"),
        "the file itself is as made: {stdout}"
    );
}

#[test]
fn bad_quote_input_fails_in_one_line_and_changes_nothing() {
    let ana = Crm::init("ana");
    let case = catalogue_and_case(&ana);
    ana.add(&[
        "product",
        "add",
        "--sku",
        "USD-ONLY",
        "--name",
        "Imported kit",
        "--price",
        "10",
        "--currency",
        "USD",
    ]);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    ana.add(&["quote", "add-line", &quote, "FLEET", "--qty", "1"]);
    let before = show(&ana, &quote);
    let cases: &[(&[&str], &str)] = &[
        (
            &["quote", "add-line", &quote, "NO-SUCH-SKU"],
            "unknown product",
        ),
        (
            &["quote", "add-line", &quote, "FLEET", "--qty", "-2"],
            "more than zero",
        ),
        (
            &["quote", "add-line", &quote, "FLEET", "--qty", "1.5"],
            "is not whole",
        ),
        (&["quote", "add-line", &quote, "USD-ONLY"], "priced in USD"),
        (
            &["quote", "add-line", &quote, "FLEET", "--discount", "40%"],
            "limit",
        ),
        (
            &["quote", "add-line", &quote, "FLEET", "--discount", "ten"],
            "percentage",
        ),
        (&["quote", "send", &quote], "requires SUP-PRO or SUP-STD"),
        (
            &[
                "product", "add", "--sku", "FLEET", "--name", "Again", "--price", "1",
            ],
            "already",
        ),
    ];
    for (args, says) in cases {
        let err = expect_clean_failure(args, ana.run(args));
        assert!(
            message(&err).contains(says),
            "{args:?} says {says:?}: {err}"
        );
    }
    assert_eq!(show(&ana, &quote), before, "nothing changed");

    // An expired quote is not sent.
    ana.add(&["quote", "add-line", &quote, "SUP-PRO", "--qty", "1"]);
    let args = [
        "--data-dir",
        ana.dir().to_str().unwrap(),
        "quote",
        "send",
        &quote,
    ];
    let out = Crm::bare_command()
        .env("CRM_NOW", "2099-01-05T09:00")
        .args(args)
        .output()
        .unwrap();
    let err = expect_clean_failure(&args, out);
    assert!(message(&err).contains("expired on"), "{err}");
    assert_eq!(show(&ana, &quote)["quote"]["status"], "draft");

    // A closed case takes no new quote.
    ana.ok(&["case", "move", &case, "--stage", "won"]);
    let err = ana.fail(&["quote", "new", &case]);
    assert!(message(&err).contains("closed"), "{err}");
}

#[test]
fn a_sent_quote_is_read_only_a_revision_is_a_new_draft_and_accepting_wins_the_case() {
    let ana = Crm::init("ana");
    let case = catalogue_and_case(&ana);
    let csv = ana.scratch().join("catalogue.csv");
    std::fs::write(
        &csv,
        "sku,name,price,tax,unit\nSUP-STD,Standard support,80,8,month\nKIT,Install kit,49.90,23,\n",
    )
    .unwrap();
    ana.ok(&["product", "import", csv.to_str().unwrap()]);
    assert_eq!(ana.json(&["product", "list"]).as_array().unwrap().len(), 4);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    ana.add(&["quote", "add-line", &quote, "FLEET", "--qty", "2"]);
    ana.add(&["quote", "add-line", &quote, "SUP-STD", "--qty", "12"]);
    ana.ok(&["quote", "send", &quote]);
    let err = ana.fail(&["quote", "add-line", &quote, "KIT"]);
    assert!(message(&err).contains("read-only"), "{err}");
    ana.ok(&["quote", "revise", &quote]);
    let v2 = show(&ana, &quote);
    assert_eq!(v2["quote"]["revision"], 2);
    assert_eq!(v2["quote"]["status"], "draft");
    assert_eq!(
        line_qty(&v2),
        [("FLEET".to_string(), 2), ("SUP-STD".to_string(), 12)]
    );
    ana.add(&["quote", "add-line", &quote, "KIT", "--qty", "1"]);
    ana.ok(&["quote", "send", &quote]);
    ana.ok(&["quote", "accept", &quote, "--win"]);
    let c = ana.json(&["case", "show", &case]);
    // 2 x 1000.00 + 12 x 80.00 + 49.90, net.
    assert_eq!(c["stage"], "won", "{c}");
    assert_eq!(c["amount"], 300_990, "{c}");
    let report = ana.json(&["report", "quotes", "--by", "status"]);
    let groups: Vec<(String, i64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["status"].as_str().unwrap().to_string(),
                g["quotes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [("accepted".to_string(), 1), ("total".to_string(), 1)],
        "the superseded revision is not counted: {report}"
    );
    // As of a day long before, there was no quote.
    let before = ana.json(&[
        "report",
        "quotes",
        "--by",
        "status",
        "--as-of",
        "2000-01-01",
    ]);
    assert!(before["rows"].as_array().unwrap().is_empty(), "{before}");
}

/// Runs `crm ARGS` on `crm`'s data dir at the moment `now` (local time); its stdout.
fn at(crm: &Crm, now: &str, args: &[&str]) -> String {
    let out = crm
        .command()
        .env("CRM_NOW", now)
        .args(args)
        .output()
        .unwrap();
    crm_tests::expect_ok(args, out)
}

#[test]
fn the_quotes_report_as_of_a_past_day_counts_each_quote_as_it_then_stood() {
    let ana = Crm::init("ana");
    let case = catalogue_and_case(&ana);
    let other = customer_case(&ana);
    // Two quotes sent on 1 March; one accepted on 5 March, the other rejected on 9 March.
    let mut quotes = Vec::new();
    for c in [&case, &other] {
        let q = at(&ana, "2026-03-01T09:00", &["quote", "new", c])
            .trim()
            .to_string();
        at(
            &ana,
            "2026-03-01T09:05",
            &[
                "quote",
                "add-line",
                &q,
                "FLEET",
                "--qty",
                "2",
                "--discount",
                "10%",
            ],
        );
        at(
            &ana,
            "2026-03-01T09:06",
            &["quote", "add-line", &q, "SUP-PRO", "--qty", "1"],
        );
        at(&ana, "2026-03-01T10:00", &["quote", "send", &q]);
        quotes.push(q);
    }
    at(&ana, "2026-03-05T10:00", &["quote", "accept", &quotes[0]]);
    at(&ana, "2026-03-09T10:00", &["quote", "reject", &quotes[1]]);
    let row = |as_of: &str| -> Value {
        let args = [
            "--json", "report", "quotes", "--by", "owner", "--as-of", as_of,
        ];
        let out = at(&ana, "2026-03-20T12:00", &args);
        let report: Value = serde_json::from_str(&out).unwrap();
        report["rows"][0].clone()
    };
    let figures =
        |r: &Value| ["quotes", "sent", "accepted", "rejected"].map(|k| r[k].as_i64().unwrap_or(-1));
    assert_eq!(row("2026-02-28"), Value::Null, "nothing before the quotes");
    assert_eq!(figures(&row("2026-03-01")), [2, 2, 0, 0]);
    assert_eq!(figures(&row("2026-03-06")), [2, 2, 1, 0]);
    let now = row("2026-03-10");
    assert_eq!(figures(&now), [2, 2, 1, 1]);
    assert_eq!(now["acceptance_rate"], 50.0, "{now}");
    // 2 x 1000.00 at 10 % off, 1 x 120.50: 200.00 off a list value of 2120.50 = 9.4 %.
    assert_eq!(now["average_discount"], 9.4, "{now}");
    // Accepted value, net: 1800.00 + 120.50.
    assert_eq!(now["accepted_value"], 192_050, "{now}");
    // The customer's history: newest first, with the status of now.
    let org = ana.json(&["case", "show", &case])["org"]
        .as_str()
        .unwrap()
        .to_string();
    let history = ana.json(&["org", "show", &org])["quotes"].clone();
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["accepted"],
        "only the quotes of this organization's case: {history}"
    );
}
