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

/// Whether this test runs as root, for whom file permissions are not enforced: a file it
/// creates is owned by uid 0.
fn running_as_root(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join("uid-probe");
    std::fs::write(&probe, b"").unwrap();
    let uid = std::fs::metadata(&probe).unwrap().uid();
    std::fs::remove_file(&probe).unwrap();
    uid == 0
}

/// Makes `dir` and everything in it read-only (`chmod -R a-w`, readable by all).
fn make_read_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// `crm` as a user for whom the permissions hold: as root, it runs as `nobody` (through
/// `setpriv`), so a read-only dir is read-only to it too.
fn as_reader(crm: &Crm, root: bool) -> std::process::Command {
    if !root {
        return crm.command();
    }
    let cmd = crm.command();
    let mut wrapped = std::process::Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env("NO_COLOR", "1")
        .env_remove("CRM_HOME")
        .stdin(std::process::Stdio::null());
    wrapped
}

/// Gives `path` (recursively) to `nobody`, so `as_reader` may write there.
fn give_to_reader(path: &std::path::Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_to_reader(&entry.unwrap().path());
        }
    }
}

#[test]
fn a_read_only_data_dir_can_be_read_and_merged_from() {
    let usb = Crm::init("ana");
    let org = usb.add(&["org", "add", "--name", "Acme Corp"]);
    usb.add(&[
        "case", "add", "--title", "Fleet", "--org", &org, "--amount", "100",
    ]);
    let before = usb.store_bytes();
    let root = running_as_root(usb.scratch());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(usb.scratch(), std::fs::Permissions::from_mode(0o755)).unwrap();
    make_read_only(usb.dir());

    for args in [
        &["case", "list", "--json"][..],
        &["org", "show", &org, "--json"],
    ] {
        let out = as_reader(&usb, root).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "crm {args:?} on a read-only dir: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Fleet"),
            "{out:?}"
        );
    }
    // A change is refused in one line, not half made.
    let out = as_reader(&usb, root)
        .args(["case", "add", "--title", "More"])
        .output()
        .unwrap();
    crm_tests::check_failure(&out).unwrap();
    assert!(
        message(&String::from_utf8_lossy(&out.stderr)).contains("read-only"),
        "{out:?}"
    );

    let laptop = Crm::init("bruno");
    std::fs::set_permissions(laptop.scratch(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if root {
        give_to_reader(laptop.dir());
    }
    let out = as_reader(&laptop, root)
        .args(["merge", "--from"])
        .arg(usb.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "merge --from a read-only dir: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases = laptop.json(&["case", "list"]);
    assert_eq!(rows(&cases).len(), 1, "{cases}");
    assert_eq!(
        before,
        usb.store_bytes(),
        "reading changed the read-only store"
    );
    let names: Vec<String> = std::fs::read_dir(usb.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["crm.sqlite3"], "reading left files behind");
}

#[test]
fn messages_name_real_commands_and_count_in_good_english() {
    let crm = Crm::init("ana");
    let err = crm.fail(&["org", "show", "ZZZZZZZZ"]);
    assert!(err.contains("see `crm org list`"), "{err}");
    // A data dir holding one record (its user's).
    let copy = Crm::init("bruno");
    let said = copy.ok(&["merge", "--from", crm.dir().to_str().expect("a UTF-8 path")]);
    assert!(said.starts_with("Merged 1 record from"), "{said}");
}

#[test]
fn the_servers_log_file_holds_no_colour_codes() {
    let server = crm_tests::SyncServer::start();
    let _ = Crm::init_with_server("ana", &server.url());
    let log = server.log();
    assert!(
        log.contains("serving") || log.contains("no users yet"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in the log file: {log:?}"
    );
}

#[test]
fn a_relationship_is_saved_by_name_and_a_newline_keeps_a_table_row_whole() {
    let crm = Crm::init("ana");
    let ines = crm.add(&["contact", "add", "--name", "Ines\nDuarte"]);
    let bruno = crm.add(&["contact", "add", "--name", "Bruno Costa"]);
    let out = crm.run(&["relate", &ines, &bruno, "--as", "referred-by"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("Saved relationship: Ines Duarte (")
            && said.contains("referred-by Bruno Costa")
            && said.lines().count() == 1,
        "{said}"
    );
    let table = crm.ok(&["contact", "list"]);
    let rows: Vec<&str> = table.lines().filter(|l| l.contains("ana")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows.iter().any(|r| r.contains("Ines Duarte")), "{table}");
}
