//! Regressions found by the sync end-to-end tests, kept so they stay fixed:
//!
//! 1. Replicas holding the same records must list them in the same order (every list's ORDER BY
//!    ends with the id, so rows that tie on the sort key do not come in insertion order).
//! 2. `crm sync --watch` keeps retrying when a reconnection gets an HTTP answer other than the
//!    upgrade (a proxy's 503 while the server restarts); only 401/403 mean a bad token.

use crm_tests::{wait_until, Crm, SyncServer};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn replicas_with_the_same_records_list_them_in_the_same_order() {
    let server = SyncServer::start();
    let (ana, _) = Crm::init_with_server("ana", &server.url());
    let (bruno, _) = Crm::init_with_server("bruno", &server.url());
    for (crm, who) in [(&ana, "ana"), (&bruno, "bruno")] {
        for i in 0..3 {
            crm.add(&["org", "add", "--name", "Acme"]);
            crm.add(&[
                "case",
                "add",
                "--title",
                "Renewal",
                "--close-date",
                "2026-12-31",
            ]);
            crm.add(&[
                "activity",
                "add",
                "--kind",
                "call",
                "--subject",
                &format!("Call {i} by {who}"),
                "--at",
                "2026-12-01T10:00",
            ]);
        }
    }
    ana.json(&["sync"]);
    bruno.json(&["sync"]);
    ana.json(&["sync"]);
    let mut differ = Vec::new();
    for kind in ["org", "case", "activity"] {
        let a = ids(&ana.json(&[kind, "list"]));
        let b = ids(&bruno.json(&[kind, "list"]));
        assert_eq!(a.len(), 6, "{kind}: {a:?}");
        if a != b {
            differ.push(format!("`crm {kind} list`: {a:?} != {b:?}"));
        }
        let a = ids(&ana.json(&[kind, "list", "--limit", "3"]));
        let b = ids(&bruno.json(&[kind, "list", "--limit", "3"]));
        if a != b {
            differ.push(format!("`crm {kind} list --limit 3`: {a:?} != {b:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "the same rows in different orders on two replicas:\n{}",
        differ.join("\n")
    );
}

fn has_contact(crm: &Crm, name: &str) -> bool {
    crm.json(&["contact", "list"])
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name)
}

struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sync_watch_keeps_retrying_when_the_server_answers_503_while_it_restarts() {
    let mut server = SyncServer::start();
    let (ana, _) = Crm::init_with_server("ana", &server.url());
    let (bruno, _) = Crm::init_with_server("bruno", &server.url());
    let mut watch = Watch(
        bruno
            .command()
            .args(["sync", "--watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    ana.add(&["contact", "add", "--name", "Before"]);
    ana.json(&["sync"]);
    wait_until("the watch to receive", Duration::from_secs(20), || {
        has_contact(&bruno, "Before").then_some(())
    });

    // The server goes down; for a while its address answers 503 (as a proxy in front of a
    // restarting server does), then the server is back.
    server.kill9();
    let addr = server.addr();
    let listener = TcpListener::bind(addr).expect("the server's port can be bound again");
    listener.set_nonblocking(true).unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let proxy = {
        let (served, stop) = (served.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut tcp, _)) => {
                        tcp.set_nonblocking(false).unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = tcp.read(&mut buf);
                        let _ = tcp.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    wait_until("the watch to try again", Duration::from_secs(20), || {
        (served.load(Ordering::Relaxed) > 0).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    proxy.join().unwrap();
    server
        .restart_on_same_port()
        .expect("the server restarts on its port");

    ana.add(&["contact", "add", "--name", "After"]);
    ana.json(&["sync"]);
    wait_until(
        "the watch to receive after the restart",
        Duration::from_secs(20),
        || {
            if let Some(status) = watch.0.try_wait().unwrap() {
                let mut err = String::new();
                let _ = watch.0.stderr.take().unwrap().read_to_string(&mut err);
                panic!("crm sync --watch gave up ({status}) after one 503: {err}");
            }
            has_contact(&bruno, "After").then_some(())
        },
    );
}
