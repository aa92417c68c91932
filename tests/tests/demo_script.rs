//! `scripts/demo.sh`, the README's first command, runs to the end: a local sync server with users,
//! a book, grants and tokens; two reps edit one contact offline, sync, see the conflict, settle it;
//! a replacement laptop restores it all; the server is stopped at the end.

use crm_tests::{crm_bin, sync_server_bin};
use std::path::Path;
use std::process::Command;

/// The section of the script's output under the step header that contains `header`.
fn section<'a>(out: &'a str, header: &str) -> &'a str {
    out.split("\n== ")
        .find(|s| s.starts_with(header))
        .unwrap_or_else(|| panic!("no step {header:?} in:\n{out}"))
}

#[test]
fn the_demo_script_shows_the_team_setup_end_to_end_and_exits_0() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies inside the workspace");
    let tmp = tempfile::tempdir().expect("a temporary dir");
    let out = Command::new("bash")
        .arg(workspace.join("scripts/demo.sh"))
        .arg(tmp.path())
        .env("CRM_BIN", crm_bin())
        .env("CRM_SYNC_SERVER_BIN", sync_server_bin())
        .env_remove("CRM_HOME")
        .output()
        .expect("bash can be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "demo.sh failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");

    let addr = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Listening on ws://"))
        .unwrap_or_else(|| panic!("no server address in:\n{stdout}"));
    let received = section(&stdout, "Bruno syncs and receives them");
    assert!(received.contains("Ines Duarte"), "{received}");
    let conflicts = section(&stdout, "crm conflicts");
    for value in ["CFO", "Chief Financial Officer"] {
        assert!(conflicts.contains(value), "{conflicts}");
    }
    let settled = section(&stdout, "Ana settles the title");
    assert!(settled.contains("No conflicts"), "{settled}");
    let restored = section(&stdout, "Ana's laptop is lost");
    assert!(restored.contains("Restored 4 records"), "{restored}");
    for line in [
        "title  CFO",
        "region  south",
        "notes  Prefers morning calls.",
    ] {
        assert!(restored.contains(line), "no {line:?} in:\n{restored}");
    }
    assert!(
        !restored.contains("Conflicting values"),
        "the restored contact still has a conflict:\n{restored}"
    );
    let tour = section(&stdout, "A short tour");
    assert!(tour.contains("Demo at the plant"), "{tour}");
    assert!(
        tour.contains("120000.00"),
        "no pipeline of the new case:\n{tour}"
    );

    // The server was stopped: nothing listens on its address any more.
    let addr: std::net::SocketAddr = addr.trim().parse().expect("a socket address");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the demo left its server running on {addr}"
    );
}
