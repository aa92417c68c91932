//! Price lists, bundles and divisible units end to end: a manager's price lists and bundle
//! reach a rep through a real server (users, books, grants, tokens); the rep's quotes, made
//! without syncing, are priced from the list the rule chooses for a north reseller (the most
//! specific, then the latest; never an expired one or another currency's); the document names
//! the list, and `verify` names it once the manager changed it. Bundles satisfy rules and are
//! listed under their line; hours take decimals, licences do not.

use crm_tests::{expect_clean_failure, message, Crm, SyncServer};
use serde_json::Value;
use std::process::{Command, Output};

/// Book `north` with rep ana and manager max; returns their laptops.
fn team(server: &SyncServer) -> (Crm, Crm) {
    for args in [
        &["user", "add", "ana"][..],
        &["user", "add", "max", "--role", "manager"],
        &["book", "add", "north"],
        &["grant", "ana", "north"],
    ] {
        server.admin(args);
    }
    (
        server.device("ana", "north", &server.token("ana")),
        server.device("max", "north", &server.token("max")),
    )
}

/// `crm ARGS` on `crm`'s data dir as if it were `day` (quotes are dated by the clock).
fn on(crm: &Crm, day: &str, args: &[&str]) -> Output {
    crm.command()
        .env("CRM_NOW", format!("{day}T10:00"))
        .args(args)
        .output()
        .expect("crm can be started")
}

fn ok_on(crm: &Crm, day: &str, args: &[&str]) -> String {
    crm_tests::expect_ok(args, on(crm, day, args))
}

fn show(crm: &Crm, quote: &str) -> Value {
    crm.json(&["quote", "show", quote])
}

/// Each line's (SKU, unit price) of a quote shown as JSON, by SKU.
fn unit_prices(show: &Value) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = show["totals"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_string(),
                l["unit_price"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn product(crm: &Crm, args: &[&str]) {
    let mut all = vec!["product", "add"];
    all.extend_from_slice(args);
    crm.add(&all);
}

fn price_list(crm: &Crm, args: &[&str]) {
    let mut all = vec!["price-list", "add"];
    all.extend_from_slice(args);
    crm.add(&all);
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
fn a_rep_offline_gets_the_most_specific_valid_price_list_and_verify_names_its_later_change() {
    let server = SyncServer::start();
    let (ana, max) = team(&server);
    // The manager's catalogue, bundle and price lists.
    product(
        &max,
        &[
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
            "SUP-PRO",
        ],
    );
    product(
        &max,
        &[
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
        ],
    );
    product(
        &max,
        &[
            "--sku",
            "CARE",
            "--name",
            "Care pack",
            "--price",
            "300",
            "--tax",
            "8",
            "--bundle",
            "SUP-PRO:2",
        ],
    );
    price_list(
        &max,
        &["General EUR", "--currency", "EUR", "--percent-off", "2"],
    );
    price_list(
        &max,
        &[
            "North",
            "--currency",
            "EUR",
            "--region",
            "north",
            "--from",
            "2026-01-01",
        ],
    );
    for (name, from, until, off) in [
        ("North resellers 2025", "2025-01-01", "2025-12-31", "20"),
        ("North resellers 2026", "2026-01-01", "2026-12-31", "5"),
        ("North resellers H2", "2026-07-01", "2026-12-31", "10"),
    ] {
        price_list(
            &max,
            &[
                name,
                "--currency",
                "EUR",
                "--region",
                "north",
                "--kind",
                "reseller",
                "--from",
                from,
                "--until",
                until,
                "--percent-off",
                off,
            ],
        );
    }
    price_list(&max, &["USD export", "--currency", "USD"]);
    max.ok(&[
        "price-list",
        "set-price",
        "North resellers 2026",
        "FLEET",
        "900",
    ]);
    max.ok(&["sync"]);

    ana.ok(&["sync"]);
    let lists = ana.json(&["price-list", "list"]);
    assert_eq!(
        lists.as_array().unwrap().len(),
        6,
        "every list reached the rep: {lists}"
    );
    // A rep does not change price lists.
    let err = ana.fail(&["price-list", "add", "Mine", "--currency", "EUR"]);
    assert!(message(&err).contains("only a manager"), "{err}");
    let err = ana.fail(&["price-list", "set-price", "North", "FLEET", "1"]);
    assert!(message(&err).contains("only a manager"), "{err}");

    // From here on ana does not sync: her quotes are made offline.
    let org = ana.add(&[
        "org",
        "add",
        "--name",
        "Nordhafen Handel",
        "--region",
        "north",
        "--kind",
        "reseller",
    ]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet for Nordhafen",
        "--org",
        &org,
    ]);

    // In June: the 2026 reseller list (the 2025 one expired, H2 has not begun, North and
    // General are less specific).
    let june = ok_on(&ana, "2026-06-15", &["quote", "new", &case])
        .trim()
        .to_string();
    let q = show(&ana, &june);
    assert_eq!(q["price_list"]["name"], "North resellers 2026", "{q}");
    assert_eq!(
        q["price_list"]["reason"],
        "chosen: region north, kind reseller"
    );
    ok_on(
        &ana,
        "2026-06-15",
        &["quote", "add-line", &june, "FLEET", "--qty", "2"],
    );
    ok_on(
        &ana,
        "2026-06-15",
        &["quote", "add-line", &june, "SUP-PRO", "--qty", "12"],
    );
    // FLEET's own price on the list; SUP-PRO 120.50 less 5 % = 114.475 -> 114.48.
    assert_eq!(
        unit_prices(&show(&ana, &june)),
        [
            ("FLEET".to_string(), 90_000),
            ("SUP-PRO".to_string(), 11_448)
        ]
    );

    // In August the later reseller list wins; the manager's bundle satisfies FLEET's rule.
    let august = ok_on(&ana, "2026-08-03", &["quote", "new", &case])
        .trim()
        .to_string();
    ok_on(
        &ana,
        "2026-08-03",
        &["quote", "add-line", &august, "FLEET", "--qty", "1"],
    );
    let q = show(&ana, &august);
    assert_eq!(q["price_list"]["name"], "North resellers H2", "{q}");
    assert_eq!(q["broken_rules"][0], "FLEET requires SUP-PRO", "{q}");
    ok_on(&ana, "2026-08-03", &["quote", "add-line", &august, "CARE"]);
    let q = show(&ana, &august);
    assert!(q["broken_rules"].as_array().unwrap().is_empty(), "{q}");
    // 10 % off both: 900.00 and 270.00.
    assert_eq!(
        unit_prices(&q),
        [("CARE".to_string(), 27_000), ("FLEET".to_string(), 90_000)]
    );

    // Named lists: another currency's, or an expired one, is refused and nothing is made.
    let quotes_before = ana.json(&["quote", "list"]);
    for (list, says) in [
        ("USD export", "it is in USD, the quote in EUR"),
        ("North resellers 2025", "expired on 2025-12-31"),
    ] {
        let args = ["quote", "new", &case, "--price-list", list];
        let err = expect_clean_failure(&args, on(&ana, "2026-06-15", &args));
        assert!(message(&err).contains(says), "{list}: {err}");
        assert!(message(&err).contains("nothing was changed"), "{err}");
    }
    assert_eq!(ana.json(&["quote", "list"]), quotes_before);
    let named = ok_on(
        &ana,
        "2026-06-15",
        &["quote", "new", &case, "--price-list", "General EUR"],
    );
    let q = show(&ana, named.trim());
    assert_eq!(q["price_list"]["name"], "General EUR");
    assert_eq!(q["price_list"]["reason"], "named with --price-list");

    // The document says which list priced it, and verifies.
    let pdf = ana.scratch().join("june.pdf");
    let pdf_s = pdf.to_str().unwrap();
    ok_on(&ana, "2026-06-15", &["quote", "pdf", &june, "--out", pdf_s]);
    let text = pdftotext(&pdf);
    assert!(
        text.contains(
            "Priced from price list 'North resellers 2026' (chosen: region north, kind reseller)"
        ),
        "{text}"
    );
    assert!(ana.ok(&["quote", "verify", pdf_s]).contains("matches"));

    // The manager changes the list; once synced, verify names the list and the price.
    max.ok(&[
        "price-list",
        "set-price",
        "North resellers 2026",
        "FLEET",
        "850",
    ]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let args = ["quote", "verify", pdf_s];
    let out = ana.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    expect_clean_failure(&args, out);
    assert!(
        stdout.contains("the price list 'North resellers 2026' changed since")
            && stdout.contains("FLEET's price 900.00 -> 850.00"),
        "{stdout}"
    );
    assert!(!stdout.contains("altered"), "the file is as made: {stdout}");
    // The quote keeps the prices it was made with.
    assert_eq!(
        unit_prices(&show(&ana, &june)),
        [
            ("FLEET".to_string(), 90_000),
            ("SUP-PRO".to_string(), 11_448)
        ]
    );
}

#[test]
fn hours_take_decimals_licences_do_not_and_a_bundle_is_listed_under_its_line() {
    let ana = Crm::init("ana");
    product(
        &ana,
        &[
            "--sku",
            "FLEET",
            "--name",
            "Fleet licence",
            "--price",
            "1000",
            "--unit",
            "licence",
            "--requires",
            "SUP-PRO",
        ],
    );
    product(
        &ana,
        &[
            "--sku",
            "SUP-PRO",
            "--name",
            "Support plan",
            "--price",
            "120",
        ],
    );
    product(
        &ana,
        &[
            "--sku",
            "CONSULT",
            "--name",
            "Consulting",
            "--price",
            "85.33",
            "--tax",
            "23",
            "--unit",
            "hour",
            "--divisible",
        ],
    );
    product(
        &ana,
        &[
            "--sku",
            "KIT",
            "--name",
            "Starter kit",
            "--price",
            "1050",
            "--bundle",
            "FLEET:1,SUP-PRO:1",
        ],
    );
    let org = ana.add(&["org", "add", "--name", "Acme"]);
    let case = ana.add(&["case", "add", "--title", "Kit", "--org", &org]);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    let hours = ana.add(&["quote", "add-line", &quote, "CONSULT", "--qty", "2.5"]);
    ana.add(&["quote", "add-line", &quote, "KIT", "--qty", "2"]);
    let q = show(&ana, &quote);
    // 2.5 x 85.33 = 213.325 -> 213.33 (rounded per line, half away from zero).
    assert_eq!(q["totals"]["lines"][0]["qty"], 2.5, "{q}");
    assert_eq!(q["totals"]["lines"][0]["net"], 21_333, "{q}");
    // The kit's fleet licence has its support plan inside the kit.
    assert!(q["broken_rules"].as_array().unwrap().is_empty(), "{q}");

    let before = show(&ana, &quote);
    let cases: &[(&[&str], &str)] = &[
        (
            &["quote", "add-line", &quote, "FLEET", "--qty", "1.5"],
            "is not whole",
        ),
        (
            &["quote", "add-line", &quote, "KIT", "--qty", "0.5"],
            "is not whole",
        ),
        (
            &["quote", "add-line", &quote, "CONSULT", "--qty", "-1"],
            "more than zero",
        ),
        (
            &["quote", "add-line", &quote, "CONSULT", "--qty", "0"],
            "more than zero",
        ),
        (
            &["quote", "add-line", &quote, "CONSULT", "--qty", "1.2345"],
            "three decimals",
        ),
        (
            &["quote", "edit-line", &hours, "--qty", "-3"],
            "more than zero",
        ),
        (
            &[
                "product", "add", "--sku", "BAD", "--name", "B", "--price", "1", "--bundle",
                "NOPE:1",
            ],
            "unknown SKU NOPE",
        ),
        (
            &[
                "product", "add", "--sku", "BAD", "--name", "B", "--price", "1", "--bundle",
                "FLEET:0",
            ],
            "whole number from 1",
        ),
        (&["price-list", "add", "No currency"], "--currency"),
        (
            &[
                "price-list",
                "add",
                "Backwards",
                "--currency",
                "EUR",
                "--from",
                "2026-05-01",
                "--until",
                "2026-04-01",
            ],
            "before it starts",
        ),
        (
            &["quote", "new", &case, "--price-list", "No such list"],
            "unknown price list",
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
    assert_eq!(ana.json(&["product", "list"]).as_array().unwrap().len(), 4);
    assert!(ana
        .json(&["price-list", "list"])
        .as_array()
        .unwrap()
        .is_empty());
    ana.ok(&["quote", "edit-line", &hours, "--qty", "0.75"]);
    assert_eq!(show(&ana, &quote)["totals"]["lines"][0]["qty"], 0.75);

    let pdf = ana.scratch().join("kit.pdf");
    ana.ok(&["quote", "pdf", &quote, "--out", pdf.to_str().unwrap()]);
    let text = pdftotext(&pdf);
    for expected in [
        "0.75 hour",
        "includes FLEET",
        "includes SUP-PRO",
        "Starter kit",
    ] {
        assert!(
            text.contains(expected),
            "the PDF shows {expected:?}:\n{text}"
        );
    }
    assert!(ana
        .ok(&["quote", "verify", pdf.to_str().unwrap()])
        .contains("matches"));
}
