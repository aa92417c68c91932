//! Values typed wrong: dates, e-mails, phones, amounts, choices, flags, ids, edits that would break a record, search text.

use super::*;

#[test]
fn malformed_dates_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    for bad in [
        "2026-02-30",
        "31/12/2026",
        "someday",
        "2026-12-31T10:00",
        "",
        "2026-1-1x",
    ] {
        refused(
            crm,
            &["case", "add", "--title", "X", "--close-date", bad],
            &["not a date"],
        );
        refused(
            crm,
            &["case", "edit", &b.case, "--close-date", bad],
            &["not a date"],
        );
        refused(crm, &["agenda", "--date", bad], &["not a date"]);
        refused(
            crm,
            &["case", "list", "--closing-before", bad],
            &["not a date"],
        );
        refused(crm, &["activity", "list", "--from", bad], &["not a date"]);
    }
    for bad in [
        "2026-12-01T25:00",
        "2026-12-01T10:61",
        "01.12.2026 10:00",
        "noon",
        "",
    ] {
        refused(
            crm,
            &[
                "activity",
                "add",
                "--kind",
                "call",
                "--subject",
                "X",
                "--at",
                bad,
            ],
            &["not a date and time"],
        );
        refused(
            crm,
            &["activity", "edit", &b.activity, "--due", bad],
            &["not a date and time"],
        );
    }
    refused(
        crm,
        &["case", "add", "--title", "X", "--close-date", "2026-02-30"],
        &["2026-02-30"],
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn malformed_emails_and_phones_are_refused() {
    let b = book();
    let crm = &b.crm;
    for bad in [
        "ana",
        "ana@",
        "@example.com",
        "a b@example.com",
        "a@example",
        "a@@example.com",
        "work=",
    ] {
        refused(
            crm,
            &["contact", "add", "--name", "X", "--email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["contact", "edit", &b.contact, "--email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["contact", "edit", &b.contact, "--add-email", bad],
            &["not an e-mail address"],
        );
        refused(
            crm,
            &["org", "add", "--name", "X", "--email", bad],
            &["not an e-mail address"],
        );
    }
    refused(
        crm,
        &["contact", "add", "--name", "X", "--email", "home=ana"],
        &["`ana`"],
    );
    for bad in ["call me", "12", "+351 912 abc", "mobile="] {
        refused(
            crm,
            &["contact", "add", "--name", "X", "--phone", bad],
            &["not a phone number"],
        );
        refused(
            crm,
            &["org", "edit", &b.org, "--add-phone", bad],
            &["not a phone number"],
        );
    }
}

#[test]
fn malformed_amounts_are_refused() {
    let b = book();
    let crm = &b.crm;
    for bad in [
        "12,50", "1e5", "12.345", "", ".", "-", "abc", "12.5.0", "€12", "0x10", "1 000", "+5",
    ] {
        let msg = refused(
            crm,
            &["case", "add", "--title", "X", "--amount", bad],
            &["not an amount"],
        );
        assert!(msg.contains(&format!("`{bad}`")), "{msg}");
        refused(
            crm,
            &["case", "edit", &b.case, "--amount", bad],
            &["not an amount"],
        );
        refused(
            crm,
            &["case", "edit", &b.case, "--budget", bad],
            &["not an amount"],
        );
    }
    for big in [
        "99999999999999999999",
        "90071992547409.92",
        "-99999999999999999999",
    ] {
        let flag = format!("--amount={big}");
        refused(crm, &["case", "add", "--title", "X", &flag], &["too large"]);
    }
    refused(
        crm,
        &[
            "case",
            "add",
            "--title",
            "X",
            "--currency",
            "JPY",
            "--amount",
            "1500.5",
        ],
        &["not an amount", "at most 0 decimals"],
    );
    for bad in ["EURO", "E1R", "", "€"] {
        refused(
            crm,
            &["case", "add", "--title", "X", "--currency", bad],
            &["not a currency"],
        );
    }
}

#[test]
fn unknown_stages_grades_kinds_and_other_choices_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    for args in [
        vec!["case", "add", "--title", "X", "--stage", "closing"],
        vec!["case", "add", "--title", "X", "--stage", ""],
        vec!["case", "move", &b.case, "--stage", "closing"],
        vec!["case", "list", "--stage", "closing"],
    ] {
        refused(crm, &args, &["not a valid stage", "needs-analysis"]);
    }
    refused(
        crm,
        &["case", "add", "--title", "X", "--grade", "D"],
        &["`D`", "grade", "A, B, C"],
    );
    refused(crm, &["case", "edit", &b.case, "--grade", "AA"], &["grade"]);
    refused(
        crm,
        &["org", "add", "--name", "X", "--kind", "friend"],
        &["`friend`", "kind", "prospect"],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--kind",
            "party",
            "--subject",
            "X",
            "--at",
            "2026-12-01T10:00",
        ],
        &["`party`", "kind", "meeting"],
    );
    refused(
        crm,
        &["activity", "edit", &b.activity, "--status", "maybe"],
        &["status", "planned"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.org, "--as", "friend-of"],
        &["`friend-of`", "referred-by"],
    );
    refused(
        crm,
        &[
            "case",
            "edit",
            &b.case,
            "--contact",
            &format!("{}=boss", b.contact),
        ],
        &["`boss`", "role"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--interest", "6"],
        &["interest", "1 to 5"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--probability", "101"],
        &["probability", "0 to 100"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--probability", "lots"],
        &["probability"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--do-not-call", "maybe"],
        &["`maybe`", "do_not_call"],
    );
    refused(
        crm,
        &["activity", "edit", &b.activity, "--remind", "soon"],
        &["`soon`", "not a duration"],
    );
    refused(
        crm,
        &[
            "activity",
            "edit",
            &b.activity,
            "--remind",
            "99999999999999d",
        ],
        &["not a duration"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--owner", "Bruno Costa"],
        &["not a user name"],
    );
    refused(crm, &["agenda", "--user", "ANA"], &["not a user name"]);
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn unknown_flags_and_commands_get_a_usage_error() {
    let b = book();
    let crm = &b.crm;
    for args in [
        vec!["contact", "add", "--nmae", "X"],
        vec!["--frobnicate", "contact", "list"],
        vec!["contacts", "list"],
        vec!["contact"],
        vec![],
        vec!["case", "move", &b.case],
        vec!["contact", "list", "--limit", "-1"],
        vec!["contact", "list", "--limit", "many"],
        vec!["demo-data", "--contacts", "abc"],
        vec!["agenda", "--day", "--week"],
        vec!["init"],
        vec!["resolve", &b.contact, "title"],
    ] {
        let err = refused(crm, &args, &[]);
        assert!(
            err.starts_with("error:") || err.contains("Usage: crm"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unknown_ambiguous_and_wrong_kind_ids_are_refused() {
    let b = book();
    let crm = &b.crm;
    let unknown = "zzzzzzzzzzzz";
    for kind in ["org", "contact", "case", "activity"] {
        refused(
            crm,
            &[kind, "show", unknown],
            &[
                unknown,
                &format!("no {}", if kind == "org" { "organization" } else { kind }),
            ],
        );
        refused(crm, &[kind, "rm", unknown], &[unknown]);
        refused(crm, &[kind, "rm", "--restore", unknown], &[unknown]);
    }
    refused(
        crm,
        &["contact", "edit", unknown, "--title", "X"],
        &[unknown],
    );
    refused(
        crm,
        &["case", "move", unknown, "--stage", "won"],
        &[unknown],
    );
    refused(crm, &["history", unknown], &[unknown]);
    refused(crm, &["resolve", unknown, "title", "X"], &[unknown]);
    refused(
        crm,
        &["contact", "add", "--name", "X", "--org", unknown],
        &[unknown],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--org", unknown],
        &[unknown],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--contact", unknown],
        &[unknown],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--kind",
            "note",
            "--subject",
            "X",
            "--case",
            unknown,
        ],
        &[unknown],
    );
    refused(crm, &["contact", "list", "--org", unknown], &[unknown]);
    refused(
        crm,
        &["relate", &b.contact, unknown, "--as", "colleague"],
        &[unknown],
    );
    // Too short, bad characters, wrong kind.
    refused(crm, &["contact", "show", "abc"], &["`abc`", "at least 4"]);
    refused(crm, &["contact", "show", ""], &["at least 4"]);
    refused(crm, &["contact", "show", "abcd efgh"], &["abcd efgh"]);
    refused(crm, &["contact", "show", "abcd%"], &["abcd%"]);
    refused(
        crm,
        &["contact", "show", "'; DROP TABLE documents; --"],
        &["DROP TABLE"],
    );
    refused(
        crm,
        &["org", "show", &b.contact],
        &["is a contact", "not a organization"],
    );
    refused(
        crm,
        &["case", "add", "--title", "X", "--org", &b.contact],
        &["is a contact"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--org", &b.case],
        &["is a case"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.case, "--as", "colleague"],
        &["only contacts and organizations"],
    );
    // Still all there.
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
    assert_eq!(
        crm.json(&["contact", "show", &b.contact])["name"],
        "Bruno Costa"
    );
}

#[test]
fn edits_that_would_break_a_record_are_refused() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    refused(crm, &["contact", "add"], &["contact needs a name"]);
    refused(crm, &["contact", "add", "--name", "   "], &["needs a name"]);
    refused(
        crm,
        &["org", "add", "--industry", "software"],
        &["needs a name"],
    );
    refused(crm, &["case", "add", "--title", ""], &["needs a title"]);
    refused(
        crm,
        &["activity", "add", "--kind", "call", "--subject", "X"],
        &["give a time"],
    );
    refused(
        crm,
        &[
            "activity",
            "add",
            "--subject",
            "X",
            "--at",
            "2026-12-01T10:00",
        ],
        &["needs a kind"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "name"],
        &["needs a name"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--name", ""],
        &["needs a name"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "shoe_size"],
        &["`shoe_size`"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--clear", "tags"],
        &["--clear tags"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact],
        &["nothing to change"],
    );
    refused(
        crm,
        &["case", "edit", &b.case, "--stage", "won"],
        &["case move"],
    );
    refused(
        crm,
        &["case", "move", &b.case, "--stage", "prospecting"],
        &["already in stage"],
    );
    refused(
        crm,
        &["case", "move", &b.case, "--stage", "lost"],
        &["reason"],
    );
    refused(
        crm,
        &["relate", &b.contact, &b.contact, "--as", "colleague"],
        &["itself"],
    );
    refused(
        crm,
        &["resolve", &b.contact, "name", "X"],
        &["no conflicting values"],
    );
    for q in ["!!!", "", "  --  "] {
        refused(
            crm,
            &["contact", "list", "--search", q],
            &["--search needs letters or digits"],
        );
        refused(crm, &["org", "list", "--search", q], &["--search"]);
    }
    refused(
        crm,
        &["init", "--user", "bruno"],
        &["already holds a CRM store"],
    );
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn search_text_is_not_a_query_language() {
    let b = book();
    let crm = &b.crm;
    for q in [
        "\"",
        "Bruno\"",
        "NEAR(",
        "a OR b",
        "*",
        "bruno*",
        "name:bruno",
        "'; DROP TABLE rm_search; --",
    ] {
        // Either a clean result or a clean error; never a database error.
        let out = crm.run(&["--json", "contact", "list", "--search", q]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(v.is_array(), "{q:?}: {v}");
        } else {
            crm_tests::expect_clean_failure(&["contact", "list", "--search", q], out);
        }
    }
    assert_eq!(
        rows(&crm.json(&["contact", "list", "--search", "bruno\""])).len(),
        1
    );
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
}
