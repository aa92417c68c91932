//! A team set up the way the README tells IT to (users, books, grants, tokens on the real
//! `crm-sync-server`), joined by reps the way the README tells them to: the client learns its
//! grants from the server (`GET /me`), chooses its book from them, keeps its server settings only
//! once the server took them, moves records stranded in a book it may not write, and the
//! workspace settings reach everyone while only managers change them.

use crm_tests::{contact_names, message, rows, Crm, SyncServer};
use serde_json::Value;
use std::io::{Read, Write};

/// A server with users ana and bruno (reps of north), carla (rep of north and south), rui
/// (read-only in north), max (manager), and books north and south.
fn team() -> SyncServer {
    let server = SyncServer::start();
    for user in ["ana", "bruno", "carla", "rui"] {
        server.admin(&["user", "add", user]);
    }
    server.admin(&["user", "add", "max", "--role", "manager"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["book", "add", "south"]);
    server.admin(&["grant", "ana", "north"]);
    server.admin(&["grant", "bruno", "north"]);
    server.admin(&["grant", "carla", "north"]);
    server.admin(&["grant", "carla", "south"]);
    server.admin(&["grant", "rui", "north", "--read-only"]);
    server
}

/// `GET /me` on the server with this token: (status, body).
fn get_me(server: &SyncServer, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("the server listens");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /me HTTP/1.0\r\nHost: {}\r\n{auth}\r\n",
        server.addr()
    )
    .expect("the request is sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the answer is read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

fn me(server: &SyncServer, token: &str) -> Value {
    let (status, body) = get_me(server, Some(token));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// An address nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    format!("ws://{addr}")
}

#[test]
fn the_server_tells_a_token_its_user_role_books_and_storage_id() {
    let server = SyncServer::start();
    // Open mode: no users yet.
    let (status, body) = get_me(&server, None);
    assert_eq!(status, 200, "{body}");
    let open: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(open["open"], true, "{open}");
    let storage_id = open["storage_id"].as_str().unwrap().to_string();
    assert!(!storage_id.is_empty());

    server.admin(&["user", "add", "ana"]);
    server.admin(&["user", "add", "max", "--role", "manager"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["book", "add", "south"]);
    server.admin(&["grant", "ana", "north"]);
    server.admin(&["grant", "ana", "south", "--read-only"]);
    let ana = me(&server, &server.token("ana"));
    assert_eq!(ana["open"], false);
    assert_eq!(ana["user"], "ana");
    assert_eq!(ana["role"], "rep");
    assert_eq!(ana["storage_id"], storage_id.as_str());
    assert_eq!(
        ana["books"],
        serde_json::json!([
            {"book": "north", "read": true, "write": true},
            {"book": "south", "read": true, "write": false},
        ])
    );
    let max = me(&server, &server.token("max"));
    assert_eq!(max["role"], "manager");
    assert_eq!(
        max["books"],
        serde_json::json!([
            {"book": "north", "read": true, "write": true},
            {"book": "south", "read": true, "write": true},
        ])
    );

    // Refused the way the WebSocket upgrade refuses: 401 with the reason.
    let (status, body) = get_me(&server, None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = get_me(&server, Some("crm_nope"));
    assert_eq!((status, body.trim()), (401, "unknown token"));
    let token = server.token("ana");
    server.admin(&["token", "revoke", "--user", "ana"]);
    let (status, body) = get_me(&server, Some(&token));
    assert_eq!((status, body.trim()), (401, "this token was revoked"));
}

#[test]
fn init_with_a_server_takes_the_reps_only_writable_book() {
    let server = team();
    let ana = Crm::new();
    let out = ana.json(&[
        "init",
        "--user",
        "ana",
        "--server",
        &server.url(),
        "--token",
        &server.token("ana"),
    ]);
    assert_eq!(out["book"], "north", "{out}");
    let config = ana.json(&["config"]);
    assert_eq!(config["book"], "north", "{config}");
    assert_eq!(config["grants"]["role"], "rep", "{config}");
    assert_eq!(config["grants"]["user"], "ana", "{config}");
    assert_eq!(config["token"], true);
    let table = ana.ok(&["config"]);
    assert!(table.contains("north (read-write)"), "{table}");

    ana.add(&["contact", "add", "--name", "Ines North"]);
    ana.ok(&["sync"]);
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    assert_eq!(contact_names(&bruno), ["Ines North"]);

    // Every sync refreshes the grants kept.
    server.admin(&["grant", "ana", "south", "--read-only"]);
    ana.ok(&["sync"]);
    assert_eq!(
        ana.json(&["config"])["grants"]["books"],
        serde_json::json!([
            {"book": "north", "read": true, "write": true},
            {"book": "south", "read": true, "write": false},
        ])
    );

    // A read-only rep's only readable book is theirs (their records stay on their laptop).
    let rui = Crm::new();
    let out = rui.json(&[
        "init",
        "--user",
        "rui",
        "--server",
        &server.url(),
        "--token",
        &server.token("rui"),
    ]);
    assert_eq!(out["book"], "north", "{out}");
    assert_eq!(contact_names(&rui), ["Ines North"]);
}

#[test]
fn a_reps_second_laptop_restores_her_user_record_rather_than_add_another() {
    let server = team();
    let init = |crm: &Crm| {
        crm.json(&[
            "init",
            "--user",
            "ana",
            "--server",
            &server.url(),
            "--token",
            &server.token("ana"),
        ])
    };
    let first = Crm::new();
    let made = init(&first);
    let id = made["id"]
        .as_str()
        .expect("the user record's id")
        .to_string();
    first.ok(&["sync"]);
    let second = Crm::new();
    let restored = init(&second);
    assert_eq!(restored["id"], id.as_str(), "{restored}");
    // Neither laptop has a second record of ana after both synced.
    second.ok(&["sync"]);
    first.ok(&["sync"]);
    for laptop in [&first, &second] {
        let db = rusqlite::Connection::open(laptop.store_file()).expect("the store");
        let users: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM rm_users WHERE login = 'ana' AND deleted = 0",
                [],
                |r| r.get(0),
            )
            .expect("a count");
        assert_eq!(users, 1, "one record of ana");
    }
}

#[test]
fn init_asks_for_a_book_among_several_and_refuses_one_not_granted() {
    let server = team();
    let token = server.token("carla");
    let url = server.url();
    let carla = Crm::new();
    let base = [
        "init", "--user", "carla", "--server", &url, "--token", &token,
    ];
    let err = carla.fail(&base);
    assert!(
        message(&err).contains("north, south") && err.contains("--book"),
        "{err}"
    );
    assert!(
        !carla.dir().exists(),
        "a refused init left {:?}",
        carla.dir()
    );

    let ana = Crm::new();
    let ana_token = server.token("ana");
    let err = ana.fail(&[
        "init", "--user", "ana", "--server", &url, "--token", &ana_token, "--book", "south",
    ]);
    assert!(
        message(&err).contains("may not write book `south`") && err.contains("north"),
        "{err}"
    );
    assert!(!ana.dir().exists());
    // Nor a book that does not exist (such as the offline default).
    let err = ana.fail(&[
        "init", "--user", "ana", "--server", &url, "--token", &ana_token, "--book", "default",
    ]);
    assert!(message(&err).contains("`default`"), "{err}");

    let mut with_book = base.to_vec();
    with_book.extend(["--book", "south"]);
    let out = carla.json(&with_book);
    assert_eq!(out["book"], "south");

    // A token of another user is not taken for this one.
    let other = Crm::new();
    let err = other.fail(&[
        "init", "--user", "bruno", "--server", &url, "--token", &ana_token,
    ]);
    assert!(message(&err).contains("ana's"), "{err}");
    assert!(!other.dir().exists());
}

#[test]
fn init_saves_nothing_when_the_server_does_not_answer_or_refuses_the_token() {
    let server = team();
    let crm = Crm::new();
    let dead = dead_url();
    let err = crm.fail(&[
        "init", "--user", "ana", "--server", &dead, "--token", "crm_x",
    ]);
    assert!(
        message(&err).contains("nothing was saved") && message(&err).contains("check the URL"),
        "{err}"
    );
    assert!(!crm.dir().exists(), "a failed init left {:?}", crm.dir());

    let err = crm.fail(&[
        "init",
        "--user",
        "ana",
        "--server",
        &server.url(),
        "--token",
        "crm_wrong",
    ]);
    let text = message(&err);
    assert!(
        text.contains("unknown token")
            && text.contains("nothing was saved")
            && text.contains("token"),
        "{err}"
    );
    assert!(!crm.dir().exists());

    // Offline init keeps its book `default`.
    let offline = Crm::init("ana");
    assert_eq!(offline.json(&["config"])["book"], "default");
}

#[test]
fn a_mistyped_server_or_token_is_not_remembered() {
    let server = team();
    let ana = server.device("ana", "north", &server.token("ana"));
    let dead = dead_url();
    let err = ana.fail(&["sync", "--server", &dead]);
    assert!(message(&err).contains("nothing was saved"), "{err}");
    assert_eq!(ana.json(&["config"])["server"], server.url().as_str());
    let err = ana.fail(&["sync", "--token", "crm_typo"]);
    assert!(message(&err).contains("unknown token"), "{err}");
    // The kept token still works.
    ana.ok(&["sync"]);

    // `crm config` checks the same way, and the book against the grants.
    let err = ana.fail(&["config", "--server", &dead]);
    assert!(message(&err).contains("nothing was saved"), "{err}");
    let err = ana.fail(&["config", "--book", "south"]);
    assert!(
        message(&err).contains("may not write book `south`")
            && message(&err).contains("nothing was saved"),
        "{err}"
    );
    let config = ana.json(&["config"]);
    assert_eq!(
        (config["server"].as_str(), config["book"].as_str()),
        (Some(server.url().as_str()), Some("north"))
    );
}

#[test]
fn records_made_offline_in_default_are_moved_to_the_reps_book_and_reach_the_team() {
    let server = team();
    // The tour of old: init offline, work, connect later.
    let ana = Crm::init("ana");
    let ines = ana.add(&["contact", "add", "--name", "Ines Offline"]);
    ana.add(&["org", "add", "--name", "Offline Org"]);
    let config = ana.json(&[
        "config",
        "--server",
        &server.url(),
        "--token",
        &server.token("ana"),
    ]);
    assert_eq!(config["grants"]["role"], "rep", "{config}");
    // The server refuses records of book default, and sync says what to do.
    let out = ana.run(&["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("crm move --all-from default --book north"),
        "{stderr}"
    );
    // It names each record that stayed, with the same next step, and exits 3.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("not accepted by the server: you may not write book `default`")
            && stdout.contains("Next: move them to a book you may write: `crm move --all-from default --book north`"),
        "{stdout}"
    );
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    assert!(contact_names(&bruno).is_empty());

    // A rep may not move them into a book they may not write.
    let err = ana.fail(&["move", "--all-from", "default", "--book", "south"]);
    assert!(message(&err).contains("north"), "{err}");
    let moved = ana.json(&["move", "--all-from", "default", "--book", "north"]);
    let ids: Vec<&str> = moved["moved"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The contact, the organization and ana's own user record.
    assert_eq!(ids.len(), 3, "{moved}");
    assert!(ids.contains(&ines.as_str()), "{moved}");
    assert_eq!(ana.json(&["contact", "show", &ines])["book"], "north");
    ana.ok(&["config", "--book", "north"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    assert_eq!(contact_names(&bruno), ["Ines Offline"]);
    let new = ana.add(&["contact", "add", "--name", "Made Later"]);
    assert_eq!(ana.json(&["contact", "show", &new])["book"], "north");

    // Nothing is left in default: a second move moves nothing.
    let again = ana.json(&["move", "--all-from", "default", "--book", "north"]);
    assert_eq!(again["moved"], serde_json::json!([]));
}

#[test]
fn a_rep_does_not_move_what_the_server_holds_and_a_manager_does() {
    let server = team();
    let carla = server.device("carla", "north", &server.token("carla"));
    let held = carla.add(&["contact", "add", "--name", "Held North"]);
    carla.ok(&["sync"]);
    let out = carla.json(&["move", "--all-from", "north", "--book", "south"]);
    assert!(
        out["kept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == held.as_str()),
        "{out}"
    );
    assert!(
        !out["moved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == held.as_str()),
        "{out}"
    );

    let max = server.device("max", "north", &server.token("max"));
    let out = max.json(&["move", "--all-from", "north", "--book", "south"]);
    assert!(
        out["moved"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == held.as_str()),
        "{out}"
    );
    max.ok(&["sync"]);
    let south = Crm::new();
    south.ok(&[
        "init",
        "--user",
        "carla",
        "--server",
        &server.url(),
        "--token",
        &server.token("carla"),
        "--book",
        "south",
    ]);
    assert_eq!(south.json(&["contact", "show", &held])["book"], "south");
}

#[test]
fn the_workspace_settings_reach_reps_and_only_managers_change_them() {
    let server = team();
    let max = server.device("max", "north", &server.token("max"));
    let ana = server.device("ana", "north", &server.token("ana"));
    ana.add(&[
        "case", "add", "--title", "Big deal", "--stage", "proposal", "--amount", "1000",
    ]);
    max.ok(&["settings", "probability", "proposal", "65"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    let settings = ana.json(&["settings", "show"]);
    assert_eq!(settings["probabilities"]["proposal"], 65, "{settings}");
    let pipeline = ana.json(&["report", "pipeline"]);
    let proposal = rows(&pipeline["rows"])
        .iter()
        .find(|r| r["stage"] == "proposal")
        .unwrap_or_else(|| panic!("{pipeline}"));
    assert_eq!(
        (proposal["value"].as_i64(), proposal["weighted"].as_i64()),
        (Some(100_000), Some(65_000)),
        "{pipeline}"
    );

    // A rep's change is refused on the laptop, and nothing is saved.
    let before = ana.json(&["settings", "show"]);
    let err = ana.fail(&["settings", "probability", "proposal", "30"]);
    assert!(
        message(&err).contains("only a manager or an admin") && message(&err).contains("ana"),
        "{err}"
    );
    assert_eq!(ana.json(&["settings", "show"]), before);

    // A manager's later change arrives too; a second manager sees it.
    max.ok(&["settings", "probability", "proposal", "70"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert_eq!(
        ana.json(&["settings", "show"])["probabilities"]["proposal"],
        70
    );
}
