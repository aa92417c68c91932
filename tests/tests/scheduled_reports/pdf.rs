//! Reports sent as PDF: the attachment read back with `pdftotext` (poppler) holds the rows and
//! numbers `crm report ... --csv` prints at the same moment, in any script.

use super::*;

/// The text of a PDF, as `pdftotext -layout` reads it.
fn pdf_text(crm: &Crm, bytes: &[u8]) -> String {
    let file = crm.scratch().join("read.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Each data row of `csv` is one line of `text`, its fields in order, nothing else on it.
fn assert_rows_match(csv: &str, text: &str) {
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(rows.len() >= 3, "{csv}");
    for fields in rows {
        let found = text
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == fields);
        assert!(found, "the row {fields:?} is not in the PDF:\n{text}");
    }
}

#[test]
fn a_pipeline_report_sent_as_pdf_holds_the_rows_of_the_csv_in_any_script() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let t = "2026-12-02T10:00";
    for (org, region, title, amount) in [
        ("Ακμή Α.Ε.", "Αθήνα", "Λέβητες", "4200.50"),
        ("東京商事", "東京", "ポンプ", "98000"),
    ] {
        let id = ok(&crm, t, &["org", "add", "--name", org, "--region", region]);
        ok(
            &crm,
            t,
            &[
                "case",
                "add",
                "--title",
                title,
                "--org",
                id.trim(),
                "--amount",
                amount,
            ],
        );
    }
    ok(
        &crm,
        "2026-12-04T10:00",
        &[
            "schedule",
            "add",
            "regions",
            "--report",
            "pipeline --by region",
            "--cron",
            "0 8 * * MON",
            "--to",
            "carla@example.com",
            "--format",
            "pdf",
            "--tz",
            "UTC",
        ],
    );
    let now = "2026-12-07T08:00";
    let out = ok(&crm, now, &["agent", "--offline"]);
    assert!(out.contains("regions@2026-12-07T08:00: sent"), "{out}");
    let csv = ok(
        &crm,
        now,
        &["report", "pipeline", "--by", "region", "--csv"],
    );
    assert!(csv.contains("東京") && csv.contains("Αθήνα"), "{csv}");

    let m = sink.messages().remove(0);
    let msg = parse(&m);
    let html = msg.body_html(0).expect("the HTML body stays");
    assert!(html.contains("<table") && html.contains("東京"), "{html}");
    let part = msg.attachments().next().expect("an attachment");
    let ct = part.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert!(part.attachment_name().unwrap().ends_with(".pdf"));
    assert!(part.contents().starts_with(b"%PDF-"));
    let text = pdf_text(&crm, part.contents());
    assert_rows_match(&csv, &text);
    assert!(
        text.contains("Pipeline by region")
            && text.contains("As of 2026-12-07 08:00 UTC, as mia sees it"),
        "{text}"
    );
    assert!(
        text.contains("schedule regions") && text.contains("page 1"),
        "{text}"
    );
}

#[test]
fn report_pdf_writes_the_same_bytes_for_the_same_data_and_time() {
    let sink = SmtpSink::start();
    let crm = manager_with_pipeline(&sink);
    let now = "2026-12-04T10:00";
    let files: Vec<Vec<u8>> = ["a.pdf", "b.pdf"]
        .iter()
        .map(|name| {
            let path = crm.scratch().join(name);
            let p = path.to_str().unwrap();
            ok(
                &crm,
                now,
                &["report", "pipeline", "--by", "owner", "--pdf", "--out", p],
            );
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert_eq!(files[0], files[1], "the same bytes twice");
    let csv = ok(&crm, now, &["report", "pipeline", "--by", "owner", "--csv"]);
    assert_rows_match(&csv, &pdf_text(&crm, &files[0]));
    // Without --out there is nowhere to write: refused in one line.
    let args = ["report", "pipeline", "--pdf"];
    let e = expect_clean_failure(&args, run(&crm, now, &args));
    assert!(e.contains("--out"), "{e}");
}
