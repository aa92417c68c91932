//! Who may see what, end to end: tokens, books, read-only grants and revocation, with the real
//! `crm-sync-server` and real `crm` processes.

use crm_tests::{contact_names, rows, sync_server_bin, wait_for, wait_until, Crm, SyncServer};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a change takes to reach a live connection at the most.
const TEN_SECONDS: Duration = Duration::from_secs(10);

#[test]
fn books_keep_reps_apart_and_managers_see_all() {
    let server = SyncServer::start();
    for (cmd, args) in [
        ("user", vec!["add", "ana"]),
        ("user", vec!["add", "bruno"]),
        ("user", vec!["add", "rui"]),
        ("user", vec!["add", "max", "--role", "manager"]),
        ("book", vec!["add", "north"]),
        ("book", vec!["add", "south"]),
    ] {
        let mut full = vec![cmd];
        full.extend(args);
        server.admin(&full);
    }
    server.admin(&["grant", "ana", "north"]);
    server.admin(&["grant", "bruno", "south"]);
    server.admin(&["grant", "rui", "north", "--read-only"]);

    let ana = server.device("ana", "north", &server.token("ana"));
    let bruno = server.device("bruno", "south", &server.token("bruno"));
    ana.add(&["contact", "add", "--name", "Ines North"]);
    bruno.add(&["contact", "add", "--name", "Joao South"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    ana.ok(&["sync"]);
    // Each rep holds only their own book (besides their own user record).
    assert_eq!(contact_names(&ana), ["Ines North"]);
    assert_eq!(contact_names(&bruno), ["Joao South"]);

    // A manager's new laptop restores both books.
    let max = server.device("max", "north", &server.token("max"));
    assert_eq!(contact_names(&max), ["Ines North", "Joao South"]);

    // A read-only rep sees the book, but their edits stay on their laptop.
    let rui = server.device("rui", "north", &server.token("rui"));
    assert_eq!(contact_names(&rui), ["Ines North"]);
    let ines = rows(&rui.json(&["contact", "list"]))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    rui.ok(&["contact", "edit", &ines, "--title", "Rui's guess"]);
    rui.add(&["contact", "add", "--name", "Rui Private"]);
    // His sync says so: the records stayed on his laptop (exit code 3), each named.
    let out = rui.run(&["sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("not accepted by the server") && said.contains("\"Rui Private\""),
        "{said}"
    );
    ana.ok(&["sync"]);
    let shown = ana.json(&["contact", "show", &ines]);
    assert!(
        shown.get("title").is_none(),
        "a read-only edit reached the server: {shown}"
    );
    assert_eq!(contact_names(&ana), ["Ines North"]);
    assert_eq!(
        contact_names(&rui),
        ["Ines North", "Rui Private"],
        "kept locally"
    );
}

#[test]
fn connections_without_a_valid_token_are_refused() {
    let server = SyncServer::start();
    // Open mode until the first user exists.
    let early = Crm::new();
    early.ok(&["init", "--user", "early", "--server", &server.url()]);
    early.ok(&["sync"]);

    server.admin(&["user", "add", "ana"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    let good = server.token("ana");
    let ana = server.device("ana", "north", &good);
    ana.ok(&["sync"]);

    // From the first user on, a connection without a valid token gets HTTP 401.
    let anon = Crm::new();
    anon.ok(&["init", "--user", "anon"]);
    let err = anon.fail(&["sync", "--server", &server.url()]);
    assert!(err.contains("401") || err.contains("token"), "{err}");
    let wrong = Crm::new();
    wrong.ok(&["init", "--user", "ana"]);
    let err = wrong.fail(&[
        "sync",
        "--server",
        &server.url(),
        "--token",
        "crm_not-a-real-token",
    ]);
    assert!(err.contains("401: unknown token"), "{err}");
    // A token that expired or was revoked is refused the same way.
    let id: String = server
        .admin(&["token", "list", "--json"])
        .parse::<serde_json::Value>()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "ana")
        .unwrap()["id"]
        .to_string();
    server.admin(&["token", "revoke", &id]);
    let err = ana.fail(&["sync"]);
    assert!(
        err.contains("401") && err.contains("this token was revoked"),
        "{err}"
    );
    assert!(
        err.contains("token issue"),
        "says how to get a new one: {err}"
    );
}

#[test]
fn a_revoked_token_is_cut_off_mid_watch() {
    let server = SyncServer::start();
    server.admin(&["user", "add", "ana"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    let ana = server.device("ana", "north", &server.token("ana"));
    let mut watch = ana
        .command()
        .args(["sync", "--watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crm sync --watch");
    wait_until("the watch is connected", TEN_SECONDS, || {
        (server.metric("crm_sync_connections_open").unwrap_or(0.0) >= 1.0).then_some(())
    });
    server.admin(&["token", "revoke", "--user", "ana"]);
    let revoked = Instant::now();
    wait_until("the connection is closed", TEN_SECONDS, || {
        (server.metric("crm_sync_connections_open").unwrap_or(1.0) == 0.0).then_some(())
    });
    assert!(
        revoked.elapsed() < Duration::from_secs(3),
        "took {:?}",
        revoked.elapsed()
    );
    // The watch stops: a refused token is not retried forever.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = watch.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = watch.kill();
    let status = status.expect("crm sync --watch kept running with a revoked token");
    assert!(!status.success());
}

#[test]
fn books_of_documents_uploaded_in_open_mode_are_recorded_as_they_are_stored() {
    let mut server = SyncServer::start();
    let (ana, _) = Crm::init_with_server("ana", &server.url());
    ana.add(&["contact", "add", "--name", "Ines North"]);
    ana.ok(&["sync"]);
    // Killed at once: whatever a restart would have to read back is still missing.
    server.kill9();
    let db = rusqlite::Connection::open(server.data_dir().join("sync.sqlite3")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let stored = count("SELECT count(*) FROM documents");
    assert!(stored >= 2, "the user record and the contact are stored");
    assert_eq!(
        count("SELECT count(*) FROM doc_books"),
        stored,
        "every stored document's book is recorded with it"
    );
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn an_expired_token_is_refused_with_401() {
    let server = SyncServer::start();
    server.admin(&["user", "add", "ana"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    // Everything but the sync is done before the token is issued, so that the first sync
    // (one `crm` process) has the token's whole life, at least 9 s, to succeed in (4 s was
    // once too short on a machine busy with builds).
    let ana = Crm::new();
    ana.ok(&["init", "--user", "ana", "--book", "north"]);
    ana.add(&["contact", "add", "--name", "Ines Duarte"]);
    let issued: serde_json::Value = server
        .admin(&["token", "issue", "ana", "--expires-in", "10s", "--json"])
        .parse()
        .expect("token issue --json prints JSON");
    let expires_at = issued["expires_at"].as_i64().expect("an expiry time");
    let token = issued["token"].as_str().expect("a token");
    assert!(expires_at <= unix_now() + 10, "{issued}");

    // Valid until then.
    ana.ok(&["sync", "--server", &server.url(), "--token", token]);

    // Then the server refuses it before the upgrade, and `crm sync` says to check the token.
    let deadline = Instant::now() + Duration::from_secs(40);
    let err = loop {
        let out = ana.run(&["sync"]);
        if !out.status.success() {
            break crm_tests::expect_clean_failure(&["sync"], out);
        }
        assert!(
            Instant::now() < deadline,
            "a token that expired at {expires_at} still works at {}",
            unix_now()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(unix_now() >= expires_at, "refused before it expired: {err}");
    let msg = crm_tests::message(&err);
    assert!(msg.contains("HTTP 401: this token expired"), "{msg}");
    assert!(
        msg.contains("token issue"),
        "says how to get a new one: {msg}"
    );
    assert_eq!(contact_names(&ana), ["Ines Duarte"], "local data is kept");
}

#[test]
fn token_lifetimes_are_given_with_a_unit_or_in_days() {
    let server = SyncServer::start();
    server.admin(&["user", "add", "ana"]);
    let expiry = |args: &[&str]| -> i64 {
        let mut all = vec!["token", "issue", "ana", "--json"];
        all.extend_from_slice(args);
        let before = unix_now();
        let out: serde_json::Value = server.admin(&all).parse().expect("JSON");
        out["expires_at"].as_i64().expect("an expiry time") - before
    };
    for (args, seconds) in [
        (&["--expires-in", "90m"][..], 5_400),
        (&["--expires-in", "12h"], 43_200),
        (&["--expires-in", "30d"], 2_592_000),
        (&["--expires-in-days", "30"], 2_592_000),
    ] {
        let got = expiry(args);
        assert!((seconds..=seconds + 2).contains(&got), "{args:?}: {got}");
    }
    for bad in [
        &["--expires-in", "12"][..],
        &["--expires-in", "0h"],
        &["--expires-in", "1y"],
        &["--expires-in", "1d", "--expires-in-days", "1"],
    ] {
        let out = Command::new(sync_server_bin())
            .args(["token", "issue", "ana"])
            .args(bad)
            .arg("--data-dir")
            .arg(server.data_dir())
            .output()
            .expect("run crm-sync-server");
        assert!(!out.status.success(), "{bad:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--expires-in"), "{bad:?}: {stderr}");
    }
    let tokens: serde_json::Value = server
        .admin(&["token", "list", "--json"])
        .parse()
        .expect("JSON");
    assert_eq!(
        tokens.as_array().map(Vec::len),
        Some(4),
        "none issued for bad input"
    );
}

/// Users and books of the move tests: reps ana (north), bruno and carla (south), managers max
/// and mia.
fn north_and_south(server: &SyncServer) {
    for args in [
        &["user", "add", "ana"][..],
        &["user", "add", "bruno"],
        &["user", "add", "carla"],
        &["user", "add", "max", "--role", "manager"],
        &["user", "add", "mia", "--role", "manager"],
        &["book", "add", "north"],
        &["book", "add", "south"],
        &["grant", "ana", "north"],
        &["grant", "bruno", "south"],
        &["grant", "carla", "south"],
    ] {
        server.admin(args);
    }
}

fn book_of(crm: &Crm, id: &str) -> String {
    crm.json(&["contact", "show", id])["book"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The book the server's directory records for a document.
fn recorded_book(server: &SyncServer, id: &str) -> Option<String> {
    let db = rusqlite::Connection::open(server.data_dir().join("sync.sqlite3")).unwrap();
    db.query_row("SELECT book FROM doc_books WHERE doc = ?1", [id], |r| {
        r.get(0)
    })
    .ok()
}

#[test]
fn a_manager_moves_a_record_and_access_follows_its_book() {
    let server = SyncServer::start();
    north_and_south(&server);
    let ana = server.device("ana", "north", &server.token("ana"));
    let ines = ana.add(&["contact", "add", "--name", "Ines North"]);
    ana.ok(&["sync"]);
    let carla = server.device("carla", "south", &server.token("carla"));
    assert_eq!(contact_names(&carla), Vec::<String>::new());
    let bruno = server.device("bruno", "south", &server.token("bruno"));
    let mut watch = bruno
        .command()
        .args(["sync", "--watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn crm sync --watch");
    wait_until("the watch is connected", TEN_SECONDS, || {
        (server.metric("crm_sync_connections_open").unwrap_or(0.0) >= 1.0).then_some(())
    });

    let max = server.device("max", "north", &server.token("max"));
    let moved = max.json(&["move", &ines[..6], "--book", "south"]);
    assert_eq!(moved["id"], ines.as_str(), "{moved}");
    assert_eq!(moved["book"], "south", "{moved}");
    let report = max.json(&["sync"]);
    assert_eq!(report["refused"], 0, "{report}");

    // The south rep following live receives it; the other on their next sync.
    let received = wait_for(TEN_SECONDS, || contact_names(&bruno) == ["Ines North"]);
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(received);
    carla.ok(&["sync"]);
    assert_eq!(contact_names(&carla), ["Ines North"]);
    assert_eq!(book_of(&carla, &ines), "south");
    assert_eq!(recorded_book(&server, &ines).as_deref(), Some("south"));
    // A manager's new laptop finds it in south.
    let mia = server.device("mia", "north", &server.token("mia"));
    assert_eq!(book_of(&mia, &ines), "south");

    // The north rep no longer receives its changes.
    carla.ok(&["contact", "edit", &ines, "--title", "Buyer"]);
    carla.ok(&["sync"]);
    // Told apart from a refusal: she changed nothing the server lacks.
    let report = ana.json(&["sync"]);
    assert_eq!(report["refused"], 0, "{report}");
    assert_eq!(report["unshared"], 1, "{report}");
    // Named once, with what to do; later syncs count it in one line.
    let group = &report["records"][0];
    assert_eq!(group["cause"], "unshared", "{report}");
    assert_eq!(group["records"][0]["id"], ines.as_str(), "{report}");
    assert_eq!(group["records"][0]["name"], "Ines North", "{report}");
    assert!(group["next"].as_str().is_some_and(|n| !n.is_empty()));
    let said = ana.ok(&["sync"]);
    assert!(
        said.contains("1 record named before is still not shared with you"),
        "{said}"
    );
    let shown = ana.json(&["contact", "show", &ines]);
    assert!(
        shown.get("title").is_none(),
        "a change to a record moved out of north reached a north rep: {shown}"
    );
    mia.ok(&["sync"]);
    assert_eq!(mia.json(&["contact", "show", &ines])["title"], "Buyer");
}

#[test]
fn a_reps_move_is_refused_and_stays_on_their_laptop() {
    let server = SyncServer::start();
    north_and_south(&server);
    let ana = server.device("ana", "north", &server.token("ana"));
    let ines = ana.add(&["contact", "add", "--name", "Ines North"]);
    let rita = ana.add(&["contact", "add", "--name", "Rita North"]);
    ana.ok(&["sync"]);
    let bruno = server.device("bruno", "south", &server.token("bruno"));
    let max = server.device("max", "north", &server.token("max"));
    assert_eq!(contact_names(&max), ["Ines North", "Rita North"]);

    // Moved on the laptop at once; the server refuses it at sync, and takes her other edits.
    let out = ana
        .command()
        .args(["move", &ines, "--book", "south"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("from book north to south"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(book_of(&ana, &ines), "south");
    ana.ok(&["contact", "edit", &rita, "--title", "Buyer"]);
    // The sync ends with the refused record named, what to do, and exit code 3.
    let out = ana.run(&["--json", "sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["refused"], 1, "{report}");
    assert_eq!(report["records"][0]["cause"], "refused", "{report}");
    assert_eq!(report["records"][0]["records"][0]["id"], ines.as_str());
    let out = ana.run(&["sync"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("1 record not accepted by the server")
            && said.contains("contact \"Ines North\"")
            && said.contains("Next: "),
        "{said}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("crm: error: 1 record stayed on this laptop") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(book_of(&ana, &ines), "south", "kept locally");
    let refused = |what: &str| {
        server
            .metric(&format!(
                "crm_sync_access_refusals_total{{refused=\"{what}\"}}"
            ))
            .expect("the server's metrics")
    };
    assert!(refused("move") >= 1.0, "refused moves are counted");
    assert_eq!(refused("new_document"), 0.0);

    bruno.ok(&["sync"]);
    assert_eq!(contact_names(&bruno), Vec::<String>::new());
    max.ok(&["sync"]);
    assert_eq!(book_of(&max, &ines), "north");
    assert_eq!(max.json(&["contact", "show", &rita])["title"], "Buyer");
    assert_eq!(recorded_book(&server, &ines).as_deref(), Some("north"));
    let fresh = server.device("bruno", "south", &server.token("bruno"));
    assert_eq!(contact_names(&fresh), Vec::<String>::new());

    // She moves it back: the server takes the two moves (they leave its book as recorded) and
    // her edit made meanwhile, and the record syncs again both ways.
    ana.ok(&["contact", "edit", &ines, "--title", "Owner"]);
    ana.ok(&["move", &ines, "--book", "north"]);
    let report = ana.json(&["sync"]);
    assert_eq!(report["refused"], 0, "{report}");
    max.ok(&["sync"]);
    assert_eq!(max.json(&["contact", "show", &ines])["title"], "Owner");
    assert_eq!(book_of(&max, &ines), "north");
    max.ok(&["contact", "edit", &ines, "--title", "Chief Buyer"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert_eq!(
        ana.json(&["contact", "show", &ines])["title"],
        "Chief Buyer"
    );
    assert_eq!(recorded_book(&server, &ines).as_deref(), Some("north"));
}

#[test]
fn move_needs_a_record_and_a_book() {
    let crm = Crm::init("ana");
    let ines = crm.add(&["contact", "add", "--name", "Ines Duarte"]);
    for args in [
        &["move", "zzzz", "--book", "south"][..],
        &["move", "not-an-id!", "--book", "south"],
        &["move", &ines],
        &["move", &ines, "--book", "South Coast"],
        &["move", &ines, "--book", ""],
    ] {
        let err = crm.fail(args);
        assert_eq!(
            err.trim_end().lines().next().map(str::is_empty),
            Some(false),
            "{args:?}: {err}"
        );
    }
    let err = crm.fail(&["move", &ines]);
    assert!(err.contains("--book"), "{err}");
    let err = crm_tests::message(&crm.fail(&["move", "zzzz", "--book", "south"])).to_string();
    assert!(!err.contains('\n') && err.contains("zzzz"), "{err}");
    // Nothing changed; a move to the book it is in changes nothing either.
    assert_eq!(book_of(&crm, &ines), "default");
    let history = crm.json(&["history", &ines]);
    let same = crm.json(&["move", &ines, "--book", "default"]);
    assert_eq!(same["book"], "default");
    assert_eq!(crm.json(&["history", &ines]), history);
    crm.ok(&["move", &ines[..5], "--book", "south"]);
    assert_eq!(book_of(&crm, &ines), "south");
}

#[test]
fn concurrent_moves_by_two_managers_settle_on_the_book_automerge_shows() {
    let server = SyncServer::start();
    north_and_south(&server);
    server.admin(&["book", "add", "east"]);
    let ana = server.device("ana", "north", &server.token("ana"));
    let ines = ana.add(&["contact", "add", "--name", "Ines North"]);
    ana.ok(&["sync"]);
    let max = server.device("max", "north", &server.token("max"));
    let mia = server.device("mia", "north", &server.token("mia"));
    // Both move it before either hears of the other's move.
    max.ok(&["move", &ines, "--book", "south"]);
    mia.ok(&["move", &ines, "--book", "east"]);
    max.ok(&["sync"]);
    mia.ok(&["sync"]);
    max.ok(&["sync"]);
    let shown = book_of(&max, &ines);
    assert_eq!(
        book_of(&mia, &ines),
        shown,
        "both replicas show the same book"
    );
    assert!(shown == "south" || shown == "east", "{shown}");
    assert_eq!(
        recorded_book(&server, &ines).as_deref(),
        Some(shown.as_str())
    );
    // The reps of the book it landed in see it; the north rep no longer gets its changes.
    if shown == "south" {
        let bruno = server.device("bruno", "south", &server.token("bruno"));
        assert_eq!(contact_names(&bruno), ["Ines North"]);
    }
    max.ok(&["contact", "edit", &ines, "--title", "Buyer"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert!(ana.json(&["contact", "show", &ines]).get("title").is_none());
    // Both books are kept as a conflict; a manager settling it moves the record like `crm move`.
    let other = if shown == "south" { "east" } else { "south" };
    mia.ok(&["sync"]);
    mia.ok(&["resolve", &ines, "book", other]);
    assert_eq!(mia.json(&["sync"])["refused"], 0);
    assert_eq!(recorded_book(&server, &ines).as_deref(), Some(other));
}
