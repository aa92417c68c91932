//! The judged quote scenario end to end, on a real team (server, users, books, grants, tokens):
//! the manager sets the company header and imports the catalogue; two reps build one configured
//! quote offline on two laptops (a broken rule shown in words, then kept) and sync; the quote is
//! sent and its PDF read by independent readers (`pdftotext`, `pdfimages`); the document
//! verifies, an altered copy does not, nor does one whose company header changed since; the
//! customer's quote history and the quotes report count it; a rep's catalogue change is refused
//! on the laptop and, hand-made, by the server.

use crm_tests::{expect_clean_failure, message, Crm, SyncServer};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// A 4 x 2 red PNG image (73 bytes), the company logo.
const LOGO_PNG: &str = "89504e470d0a1a0a0000000d4948445200000004000000020802000000f0caea34000000104944415478da633821a701470cc81c0072ca0871ccec70d70000000049454e44ae426082";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What a PDF reader prints of a file (`to_stdout`: it is told to write to stdout).
fn poppler(tool: &str, args: &[&str], file: &Path, to_stdout: bool) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .args(if to_stdout { &["-"][..] } else { &[] })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian's poppler-utils) runs: {e}"));
    assert!(out.status.success(), "{tool} reads {}", file.display());
    String::from_utf8(out.stdout).unwrap()
}

/// `crm quote verify FILE`: its stdout, and whether it passed (a failure is one clean line).
fn verify(crm: &Crm, file: &Path) -> (bool, String) {
    let args = ["quote", "verify", file.to_str().unwrap()];
    let out = crm.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        (true, stdout)
    } else {
        expect_clean_failure(&args, out);
        (false, stdout)
    }
}

fn sync_all(crms: &[&Crm]) {
    for crm in crms {
        crm.ok(&["sync"]);
    }
}

#[test]
fn a_configured_quote_built_offline_by_two_reps_is_sent_read_verified_and_counted() {
    let server = SyncServer::start();
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
    let ana = server.device("ana", "north", &server.token("ana"));
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    let max = server.device("max", "north", &server.token("max"));

    // The manager: the company header (a file that is no image is refused, nothing changed)...
    let logo = max.scratch().join("logo.png");
    std::fs::write(&logo, hex(LOGO_PNG)).unwrap();
    let fake = max.scratch().join("fake.png");
    std::fs::write(&fake, "not an image at all").unwrap();
    let before = max.json(&["settings", "show"]);
    let args = [
        "settings",
        "company",
        "--name",
        "Nordlicht Flotten GmbH",
        "--logo",
        fake.to_str().unwrap(),
    ];
    let err = expect_clean_failure(&args, max.run(&args));
    assert!(message(&err).contains("not a usable logo"), "{err}");
    assert_eq!(max.json(&["settings", "show"]), before, "nothing changed");
    max.ok(&[
        "settings",
        "company",
        "--name",
        "Nordlicht Flotten GmbH",
        "--address",
        "Hafenstraße 5\\n20457 Hamburg",
        "--terms",
        "Payment within 30 days of the invoice.\\nPrices exclude shipping.",
        "--logo",
        logo.to_str().unwrap(),
    ]);
    // ... and the catalogue: a CSV file, and a fleet licence that needs a support plan.
    let csv = max.scratch().join("catalogue.csv");
    std::fs::write(
        &csv,
        "sku,name,price,tax,unit\nSUP-PRO,Support plan,120.50,8,month\nKIT,Install kit,49.90,23,piece\n",
    )
    .unwrap();
    max.ok(&["product", "import", csv.to_str().unwrap()]);
    max.add(&[
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
        "SUP-PRO",
    ]);
    sync_all(&[&max, &ana, &bruno]);
    assert_eq!(
        ana.json(&["product", "list"]).as_array().unwrap().len(),
        3,
        "the catalogue reached the rep"
    );

    // Rep A: a customer with a non-Latin name, a contact, a case and a quote with two lines.
    let org = ana.add(&["org", "add", "--name", "Αθήνα Логистика 東京商事"]);
    let contact = ana.add(&["contact", "add", "--name", "Ирина Петрова", "--org", &org]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--org",
        &org,
        "--contact",
        &contact,
    ]);
    let quote = ana.ok(&["quote", "new", &case]).trim().to_string();
    ana.add(&["quote", "add-line", &quote, "FLEET", "--qty", "5"]);
    let kit = ana.add(&["quote", "add-line", &quote, "KIT", "--qty", "2"]);
    sync_all(&[&ana, &bruno]);

    // Offline, at once: A sees the broken rule in words and keeps it; B changes the kit line.
    let shown = ana.json(&["quote", "show", &quote]);
    let broken = shown["broken_rules"].to_string();
    assert!(
        broken.contains("FLEET") && broken.contains("SUP-PRO"),
        "{shown}"
    );
    let err = ana.fail(&["quote", "send", &quote]);
    assert!(message(&err).contains("breaks its rules"), "{err}");
    ana.add(&["quote", "add-line", &quote, "SUP-PRO", "--qty", "12"]);
    bruno.ok(&["quote", "edit-line", &kit, "--qty", "3"]);
    sync_all(&[&ana, &bruno, &ana]);
    let merged = ana.json(&["quote", "show", &quote]);
    let mut lines: Vec<(String, i64)> = merged["totals"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().into(),
                l["qty"].as_i64().unwrap(),
            )
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            ("FLEET".into(), 5),
            ("KIT".into(), 3),
            ("SUP-PRO".into(), 12)
        ],
        "both reps' changes are on the quote: {merged}"
    );
    assert!(merged["broken_rules"].as_array().unwrap().is_empty());
    // 5 x 1000.00 + 3 x 49.90 + 12 x 120.50 = 6595.70 net; tax 23 % on 5149.70 = 1184.43
    // (per line: 1150.00 + 34.43), 8 % on 1446.00 = 115.68; 7895.81 in all.
    assert_eq!(merged["totals"]["net"], 659_570, "{merged}");
    assert_eq!(merged["totals"]["gross"], 789_581, "{merged}");

    // A sends it and writes the document.
    ana.ok(&["quote", "send", &quote]);
    let pdf = ana.scratch().join("quote.pdf");
    let html = ana.scratch().join("quote.html");
    ana.ok(&["quote", "pdf", &quote, "--out", pdf.to_str().unwrap()]);
    ana.ok(&[
        "quote",
        "pdf",
        &quote,
        "--html",
        "--out",
        html.to_str().unwrap(),
    ]);
    let text = poppler("pdftotext", &["-layout"], &pdf, true);
    for expected in [
        "Nordlicht Flotten GmbH",
        "Hafenstraße 5",
        "20457 Hamburg",
        "Αθήνα Логистика",
        "東京商事",
        &quote,
        "6595.70",
        "1184.43",
        "115.68",
        "7895.81",
        "Payment within 30 days of the invoice.",
    ] {
        assert!(
            text.contains(expected),
            "the PDF shows {expected:?}:\n{text}"
        );
    }
    let images = poppler("pdfimages", &["-list"], &pdf, false);
    assert!(
        images
            .lines()
            .any(|l| l.contains("image") && l.contains(" 4 ") && l.contains(" 2 ")),
        "the 4 x 2 logo is in the PDF:\n{images}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("data:image/png;base64,"),
        "the HTML embeds the logo"
    );
    let (ok, said) = verify(&ana, &pdf);
    assert!(ok && said.contains("matches"), "{said}");
    let (ok, said) = verify(&ana, &html);
    assert!(ok, "{said}");

    // A copy with its total changed does not verify, and says why.
    let altered = ana.scratch().join("altered.html");
    std::fs::write(&altered, page.replace("7895.81", "6895.81")).unwrap();
    let (ok, said) = verify(&ana, &altered);
    assert!(!ok && said.contains("altered"), "{said}");

    // The customer's history and the quotes report count it.
    let history = |crm: &Crm, kind: &str, id: &str| -> Vec<Value> {
        crm.json(&[kind, "show", id])["quotes"]
            .as_array()
            .unwrap()
            .clone()
    };
    for (kind, id) in [("org", &org), ("contact", &contact)] {
        let quotes = history(&ana, kind, id);
        assert_eq!(quotes.len(), 1, "{kind} show lists the quote: {quotes:?}");
        assert_eq!(quotes[0]["number"], quote.as_str());
        assert_eq!(quotes[0]["status"], "sent");
        assert_eq!(quotes[0]["total"], 789_581);
    }
    let report = ana.json(&["report", "quotes", "--by", "owner"]);
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["owner"] == "ana")
        .cloned()
        .unwrap_or_else(|| panic!("a row for ana: {report}"));
    assert_eq!(
        (row["quotes"].as_i64(), row["sent"].as_i64()),
        (Some(1), Some(1)),
        "{report}"
    );

    // The company header changed since: the document no longer verifies, and says where.
    max.ok(&[
        "settings",
        "company",
        "--address",
        "Elbchaussee 1\\n22763 Hamburg",
    ]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let (ok, said) = verify(&ana, &pdf);
    assert!(
        !ok && said.contains("company header") && said.contains("address"),
        "{said}"
    );

    // A rep may not change the catalogue: refused on the laptop in one line...
    let args = ["product", "edit", "FLEET", "--price", "1"];
    let err = expect_clean_failure(&args, ana.run(&args));
    assert!(
        message(&err).contains("only a manager or an admin"),
        "{err}"
    );
    // ... and, made on a laptop that forgot its grants, by the server: the manager never sees it.
    std::fs::remove_file(ana.dir().join("grants.json")).unwrap();
    ana.ok(&args);
    let out = ana.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the sync reports records refused"
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("only managers and admins change the catalogue"),
        "{said}"
    );
    max.ok(&["sync"]);
    let fleet = max.json(&["product", "show", "FLEET"]);
    assert_eq!(
        fleet["price"], 100_000,
        "the server refused the rep's price: {fleet}"
    );
}
