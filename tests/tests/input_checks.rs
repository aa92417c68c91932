//! Nonsense is refused with one line naming the problem and what is accepted; choices are
//! accepted in any case; a user no one here has seen is kept with a warning (the rep may be
//! right, offline).

use crm_tests::{message, rows, Crm};

/// Runs a command that must fail cleanly, checks its message mentions every `words`, and that the
/// store did not change.
fn refused(crm: &Crm, args: &[&str], words: &[&str]) {
    let before = crm.store_bytes();
    let err = crm.fail(args);
    let msg = message(&err);
    for w in words {
        assert!(
            msg.contains(w),
            "crm {args:?}: the message should mention `{w}`: {msg}"
        );
    }
    assert_eq!(before, crm.store_bytes(), "crm {args:?} changed the store");
}

#[test]
fn negative_amounts_and_unknown_currencies_are_refused() {
    let crm = Crm::init("ana");
    let case = crm.add(&["case", "add", "--title", "Fleet", "--amount", "100"]);
    refused(
        &crm,
        &["case", "add", "--title", "Bad", "--amount", "-5"],
        &["-5", "negative"],
    );
    refused(
        &crm,
        &["case", "edit", &case, "--amount", "-0.01"],
        &["negative"],
    );
    refused(
        &crm,
        &["case", "edit", &case, "--budget", "-3"],
        &["negative"],
    );
    refused(
        &crm,
        &["case", "add", "--title", "Bad", "--currency", "XYZ"],
        &["XYZ", "ISO 4217"],
    );
    refused(
        &crm,
        &["case", "edit", &case, "--currency", "ABC"],
        &["ABC"],
    );
    // Real codes still work, in any case.
    crm.ok(&["case", "edit", &case, "--currency", "usd", "--amount", "0"]);
    let shown = crm.json(&["case", "show", &case]);
    assert_eq!(shown["currency"], "USD", "{shown}");
}

#[test]
fn an_activity_cannot_end_before_it_starts() {
    let crm = Crm::init("ana");
    let args = [
        "activity",
        "add",
        "--kind",
        "meeting",
        "--subject",
        "Demo",
        "--at",
        "2026-12-01T10:00",
        "--end",
        "2026-12-01T09:00",
    ];
    refused(&crm, &args, &["2026-12-01T09:00", "2026-12-01T10:00"]);
    let act = crm.add(&[
        "activity",
        "add",
        "--kind",
        "meeting",
        "--subject",
        "Demo",
        "--at",
        "2026-12-01T10:00",
        "--end",
        "2026-12-01T11:00",
    ]);
    // Moving only one end against the stored other end is checked too.
    refused(
        &crm,
        &["activity", "edit", &act, "--end", "2026-11-30T23:00"],
        &["end"],
    );
    refused(
        &crm,
        &["activity", "edit", &act, "--at", "2026-12-01T12:00"],
        &["end"],
    );
    crm.ok(&[
        "activity",
        "edit",
        &act,
        "--at",
        "2026-12-02T10:00",
        "--end",
        "2026-12-02T11:00",
    ]);
}

#[test]
fn an_organization_cannot_be_its_own_parent() {
    let crm = Crm::init("ana");
    let group = crm.add(&["org", "add", "--name", "Group"]);
    let sub = crm.add(&["org", "add", "--name", "Sub", "--parent", &group]);
    let leaf = crm.add(&["org", "add", "--name", "Leaf", "--parent", &sub]);
    refused(
        &crm,
        &["org", "edit", &group, "--parent", &group],
        &["own parent"],
    );
    // Group -> Leaf would close the circle Leaf -> Sub -> Group -> Leaf.
    refused(
        &crm,
        &["org", "edit", &group, "--parent", &leaf],
        &["Leaf", "Sub", "Group"],
    );
    crm.ok(&["org", "edit", &leaf, "--parent", &group]);
}

#[test]
fn a_case_added_as_lost_needs_a_reason() {
    let crm = Crm::init("ana");
    refused(
        &crm,
        &["case", "add", "--title", "Gone", "--stage", "lost"],
        &["reason", "crm case move"],
    );
}

#[test]
fn list_filters_with_impossible_values_are_refused() {
    let crm = Crm::init("ana");
    crm.add(&["case", "add", "--title", "Fleet", "--grade", "b"]);
    refused(&crm, &["case", "list", "--grade", "Z"], &["`Z`", "A, B, C"]);
    refused(
        &crm,
        &["case", "list", "--stage", "closed"],
        &["`closed`", "prospecting"],
    );
    refused(
        &crm,
        &["activity", "list", "--status", "finished"],
        &["planned, done"],
    );
    refused(&crm, &["activity", "list", "--kind", "lunch"], &["call"]);
    refused(&crm, &["org", "list", "--kind", "friend"], &["customer"]);
    // Choices are accepted in any case, as stored values are.
    let list = crm.json(&["case", "list", "--grade", "b", "--stage", "Prospecting"]);
    assert_eq!(rows(&list).len(), 1, "{list}");
}

#[test]
fn choices_are_accepted_in_any_case() {
    let crm = Crm::init("ana");
    let case = crm.add(&["case", "add", "--title", "Fleet", "--stage", "Proposal"]);
    crm.ok(&["case", "move", &case, "--stage", "Won"]);
    let shown = crm.json(&["case", "show", &case]);
    assert_eq!(shown["stage"], "won", "{shown}");
}

#[test]
fn an_unknown_owner_is_kept_with_a_warning_naming_the_known_users() {
    let crm = Crm::init("ana");
    let out = crm
        .command()
        .args(["case", "add", "--title", "Fleet", "--owner", "zed"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("zed") && err.contains("ana"),
        "{err}"
    );
    let case = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let shown = crm.json(&["case", "show", &case]);
    assert_eq!(shown["owner"], "zed", "{shown}");
    // A known user draws no warning.
    let out = crm
        .command()
        .args(["case", "edit", &case, "--owner", "ana"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{out:?}"
    );

    let out = crm
        .command()
        .args(["handover", "--from", "ana", "--to", "zoe"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("zoe") && err.contains("ana"),
        "{err}"
    );
}
