//! Data dirs and store files that are missing, garbage, foreign, newer, corrupt or unwritable: refused with a clear line and left alone.

use super::*;

#[test]
fn an_uninitialised_data_dir_is_reported_and_not_created() {
    let crm = Crm::new();
    for args in [
        vec!["contact", "list"],
        vec!["org", "add", "--name", "Acme"],
        vec!["agenda"],
        vec!["conflicts"],
        vec!["rebuild"],
        vec!["history", "abcdefgh"],
    ] {
        let err = crm.fail(&args);
        let msg = message(&err);
        assert!(
            msg.contains("no CRM data in") && msg.contains("crm init"),
            "{args:?}: {err}"
        );
        assert!(
            msg.contains(crm.dir().to_str().unwrap()),
            "names the dir: {err}"
        );
        assert!(!crm.dir().exists(), "crm {args:?} created the data dir");
    }
    // An existing but empty dir is not a store either.
    std::fs::create_dir_all(crm.dir()).unwrap();
    let err = crm.fail(&["contact", "list"]);
    assert!(message(&err).contains("no CRM data in"), "{err}");
    assert!(
        files(crm.dir()).is_empty(),
        "a failed command left files behind"
    );
    // merge --from an uninitialised dir.
    let ana = Crm::init("ana");
    let err = refused(
        &ana,
        &["merge", "--from", crm.dir().to_str().unwrap()],
        &["no CRM data in"],
    );
    assert!(err.contains("merge from"), "{err}");
}

#[test]
fn init_with_bad_values_creates_nothing() {
    let crm = Crm::new();
    for (args, want) in [
        (vec!["init", "--user", "Ana"], "`Ana` is not a user name"),
        (vec!["init", "--user", ""], "not a user name"),
        (vec!["init", "--user", "ana silva"], "not a user name"),
        (
            vec!["init", "--user", "ana", "--server", "http://example.com"],
            "ws://",
        ),
    ] {
        let err = crm.fail(&args);
        assert!(message(&err).contains(want), "{args:?}: {err}");
        assert!(
            !crm.dir().exists(),
            "a refused init created {}",
            crm.dir().display()
        );
    }
    // A data dir that cannot be created: its parent is a file.
    let file = crm.scratch().join("a-file");
    std::fs::write(&file, b"not a dir").unwrap();
    let out = Crm::bare_command()
        .arg("--data-dir")
        .arg(file.join("data"))
        .args(["init", "--user", "ana"])
        .output()
        .unwrap();
    let err = crm_tests::expect_clean_failure(&["init"], out);
    assert!(message(&err).contains("cannot create"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a dir");
}

#[test]
fn a_garbage_store_file_is_refused_and_left_alone() {
    let crm = Crm::new();
    std::fs::create_dir_all(crm.dir()).unwrap();
    let mut junk: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // Also one that starts like SQLite.
    for (n, content) in [junk.clone(), {
        junk[..16].copy_from_slice(b"SQLite format 3\0");
        junk
    }]
    .into_iter()
    .enumerate()
    {
        std::fs::write(crm.store_file(), &content).unwrap();
        for args in [
            vec!["contact", "list"],
            vec!["contact", "add", "--name", "X"],
            vec!["rebuild"],
            vec!["conflicts"],
        ] {
            let msg = refused(&crm, &args, &["not a readable CRM store"]);
            assert!(msg.contains("crm.sqlite3"), "names the file: {msg}");
        }
        refused(
            &crm,
            &["init", "--user", "ana"],
            &["already holds a CRM store"],
        );
        let ana = Crm::init("ana");
        let before = ana.snapshot();
        let msg = refused(
            &ana,
            &["merge", "--from", crm.dir().to_str().unwrap()],
            &["not a readable CRM store"],
        );
        assert!(msg.contains("merge from"), "case {n}: {msg}");
        assert_eq!(ana.snapshot(), before);
    }
}

#[test]
fn a_file_that_is_not_a_crm_store_is_refused_and_left_alone() {
    // An empty file (what a `crm init` killed before its first write leaves behind), and an
    // SQLite database of some other program.
    let empty = Crm::new();
    std::fs::create_dir_all(empty.dir()).unwrap();
    std::fs::write(empty.store_file(), b"").unwrap();
    let other = Crm::new();
    std::fs::create_dir_all(other.dir()).unwrap();
    let conn = rusqlite::Connection::open(other.store_file()).unwrap();
    conn.execute_batch("CREATE TABLE something_else (x); INSERT INTO something_else VALUES (1);")
        .unwrap();
    drop(conn);
    for crm in [&empty, &other] {
        let dir = crm.dir().to_str().unwrap();
        refused(crm, &["contact", "list"], &[dir]);
        refused(crm, &["org", "add", "--name", "X"], &[dir]);
    }
    refused(&other, &["contact", "list"], &["not a readable CRM store"]);
}

#[test]
fn a_store_without_a_device_id_is_refused() {
    let ana = Crm::init("ana");
    let conn = rusqlite::Connection::open(ana.store_file()).unwrap();
    conn.execute("DELETE FROM meta WHERE key = 'device'", [])
        .unwrap();
    drop(conn);
    refused(
        &ana,
        &["contact", "list"],
        &["not a readable CRM store", "device"],
    );
    refused(
        &ana,
        &["org", "add", "--name", "X"],
        &["not a readable CRM store", "device"],
    );
}

#[test]
fn a_store_from_a_newer_crm_is_refused_and_left_alone() {
    let b = book();
    let crm = &b.crm;
    let conn = rusqlite::Connection::open(crm.store_file()).unwrap();
    let n = conn
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'store_version'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1, "the store has a meta.store_version row");
    drop(conn);
    for args in [
        vec!["contact", "list"],
        vec!["contact", "show", &b.contact],
        vec!["contact", "add", "--name", "X"],
        vec!["case", "move", &b.case, "--stage", "won"],
        vec!["org", "rm", &b.org],
        vec!["rebuild"],
        vec!["agenda"],
        vec!["conflicts"],
        vec![
            "demo-data",
            "--contacts",
            "1",
            "--orgs",
            "1",
            "--cases",
            "1",
            "--activities",
            "1",
        ],
    ] {
        refused(crm, &args, &["newer crm", "store version 99", "upgrade"]);
    }
    refused(crm, &["init", "--user", "ana"], &["already holds"]);
    // Merging from it is refused too, and the target is untouched.
    let bruno = Crm::init("bruno");
    let before = bruno.snapshot();
    refused(
        &bruno,
        &["merge", "--from", crm.dir().to_str().unwrap()],
        &["newer crm"],
    );
    assert_eq!(bruno.snapshot(), before);
}

#[test]
fn a_corrupt_document_is_reported_and_the_rest_still_works() {
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    let conn = rusqlite::Connection::open(crm.store_file()).unwrap();
    let n = conn
        .execute(
            "UPDATE documents SET snapshot = x'00112233445566' WHERE id = ?1",
            [&b.contact],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    refused(
        crm,
        &["contact", "show", &b.contact],
        &[&b.contact, "cannot be read"],
    );
    refused(
        crm,
        &["contact", "edit", &b.contact, "--title", "X"],
        &[&b.contact, "cannot be read"],
    );
    refused(crm, &["history", &b.contact], &[&b.contact]);
    // Rebuilding fails on it without dropping the read model.
    refused(crm, &["rebuild"], &[&b.contact, "cannot be read"]);
    assert_eq!(
        crm.snapshot(),
        before,
        "lists come from the read model, which is intact"
    );
    assert_eq!(crm.json(&["org", "show", &b.org])["name"], "Acme Corp");
    crm.ok(&["case", "move", &b.case, "--stage", "won"]);
    let merged = Crm::init("bruno");
    let err = merged.fail(&["merge", "--from", crm.dir().to_str().unwrap()]);
    assert!(message(&err).contains(&b.contact), "{err}");
}

#[test]
fn an_unwritable_data_dir_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let b = book();
    let crm = &b.crm;
    let before = crm.snapshot();
    let set_mode = |mode: u32| {
        std::fs::set_permissions(crm.dir(), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(0o500);
    // root ignores the mode bits: find out whether this process can still write there.
    let probe = crm.dir().join("probe");
    let writable = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(&probe);
    let out = crm.run(&["contact", "add", "--name", "Unwritten"]);
    let edit = crm.run(&["contact", "edit", &b.contact, "--title", "X"]);
    set_mode(0o700);
    for (what, out) in [("add", out), ("edit", edit)] {
        if writable {
            // Running as root: the write goes through; it must at least succeed normally.
            crm_tests::expect_ok(&[what], out);
        } else {
            let err = crm_tests::expect_clean_failure(&[what], out);
            assert!(message(&err).contains("crm.sqlite3"), "{err}");
        }
    }
    if !writable {
        assert_eq!(crm.snapshot(), before);
    }
    // A WAL path taken by a directory makes the store unopenable, even for root.
    std::fs::create_dir(crm.dir().join("crm.sqlite3-wal")).unwrap();
    let store = crm.store_bytes();
    for args in [
        vec!["contact", "list"],
        vec!["contact", "add", "--name", "X"],
    ] {
        let err = crm.fail(&args);
        assert!(message(&err).contains("crm.sqlite3"), "{err}");
    }
    assert_eq!(crm.store_bytes(), store);
    std::fs::remove_dir(crm.dir().join("crm.sqlite3-wal")).unwrap();
    let expected = if writable { 2 } else { 1 };
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), expected);
}
