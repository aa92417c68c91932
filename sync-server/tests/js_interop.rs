//! Interoperability with the real automerge-repo JS client (`@automerge/automerge-repo` and
//! `@automerge/automerge-repo-network-websocket` 2.5.6, pinned in `tests/js/package-lock.json`).
//!
//! Each test starts the real `crm-sync-server` binary on port 0 and runs `tests/js/interop.mjs`
//! with node; the scripts exit by themselves (with a timeout) and print JSON results that are
//! asserted here. A raw-protocol Rust peer sits on the other side of every exchange:
//! - JS creates and edits a document, the Rust peer fetches it and finds the same content and heads;
//! - the Rust peer uploads a document, JS `repo.find(url)` reads it;
//! - a JS edit made after connect is relayed live to a second JS client and to the Rust peer.
//!
//! `npm install` runs once in `tests/js` when `node_modules` is missing (needs node, npm and the
//! registry). Set `CRM_SKIP_JS_INTEROP=1` to skip these tests on a machine without node.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, AutoSerde, ChangeHash, ObjType, ReadDoc, ROOT};
use crm_shared::protocol::Message;
use crm_shared::DocumentId;
use crm_tests::peer::Peer;
use crm_tests::SyncServer;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// How long one node script may run (it enforces this itself; we allow a margin on top).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(20);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn skip() -> bool {
    if std::env::var_os("CRM_SKIP_JS_INTEROP").is_some_and(|v| v != "0") {
        eprintln!("CRM_SKIP_JS_INTEROP is set: skipping the JS interop test");
        return true;
    }
    false
}

/// Installs the pinned JS packages once per test run (tests of this file run in parallel).
fn ensure_node_modules() {
    static INSTALL: Mutex<bool> = Mutex::new(false);
    let mut done = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if *done {
        return;
    }
    let dir = js_dir();
    let installed = ["automerge-repo", "automerge-repo-network-websocket"]
        .iter()
        .all(|p| {
            dir.join("node_modules/@automerge")
                .join(p)
                .join("package.json")
                .exists()
        });
    if !installed {
        let t = Instant::now();
        let status = Command::new("npm")
            // Not `npm ci`: the lock has no entries for cbor-x's optional native prebuilds
            // (`@cbor-extract/*`, absent from the mirror it was made with), which `npm ci` refuses.
            // `install --no-save` takes the locked versions and leaves the lock untouched.
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run npm (node and npm are needed; CRM_SKIP_JS_INTEROP=1 skips): {e}")
            });
        assert!(status.success(), "npm install failed in {}", dir.display());
        eprintln!("npm install took {:?}", t.elapsed());
    }
    *done = true;
}

/// The URL the JS client is given.
fn ws_url(server: &SyncServer) -> String {
    format!("{}/", server.url())
}

// ------------------------------------------------------------------------------------------------
// Node scripts

fn node(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("interop.mjs")
        .args(args)
        .current_dir(js_dir())
        .env("INTEROP_TIMEOUT_MS", SCRIPT_TIMEOUT.as_millis().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs a script to its end and returns its last JSON line, which must say `"ok": true`.
async fn run_script(args: &[&str]) -> Json {
    let t = Instant::now();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT + Duration::from_secs(5), node(args).output())
        .await
        .unwrap_or_else(|_| panic!("node {args:?} did not exit"))
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = last_json(&stdout).unwrap_or_else(|| {
        panic!("node {args:?} printed no JSON\nstdout: {stdout}\nstderr: {stderr}")
    });
    assert!(
        out.status.success() && result["ok"] == true,
        "node {args:?} failed ({}): {result}\nstderr: {stderr}",
        out.status
    );
    eprintln!("node {} took {:?}", args[0], t.elapsed());
    result
}

fn last_json(stdout: &str) -> Option<Json> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Json>(l).ok())
}

fn hex_heads(json: &Json) -> Vec<String> {
    let mut heads: Vec<String> = json["heads"]
        .as_array()
        .expect("heads")
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    heads.sort();
    heads
}

fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut out: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    out.sort();
    out
}

fn parse_heads(hex: &[String]) -> Vec<ChangeHash> {
    hex.iter().map(|h| h.parse().unwrap()).collect()
}

fn as_json(doc: &AutoCommit) -> Json {
    serde_json::to_value(AutoSerde::from(doc)).unwrap()
}

// ------------------------------------------------------------------------------------------------
// A raw-protocol Rust peer

/// The harness's peer, syncing whole documents with the server.
struct RawPeer(Peer);

impl RawPeer {
    async fn connect(url: &str, name: &str) -> Self {
        RawPeer(Peer::connect(url, name).await.expect("a joined peer"))
    }

    async fn send_sync(&mut self, id: DocumentId, data: Vec<u8>, request: bool) {
        assert!(
            self.0.send_sync(id, data, request).await,
            "the socket is gone"
        );
    }

    async fn recv(&mut self) -> Message {
        self.0.recv().await
    }

    /// Syncs `doc` with the server until `until` holds, answering every server message.
    /// `request`: we have nothing yet (fetch). `speak_first`: open with our sync message (else only
    /// answer what the server pushes).
    async fn sync_until(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
        state: &mut automerge::sync::State,
        (request, speak_first): (bool, bool),
        until: impl Fn(&AutoCommit, &automerge::sync::State) -> bool,
    ) {
        let mut first = request;
        if speak_first {
            if let Some(m) = doc.sync().generate_sync_message(state) {
                self.send_sync(id, m.encode(), first).await;
                first = false;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !until(doc, state) {
            assert!(Instant::now() < deadline, "no sync of {id} within 10 s");
            match self.recv().await {
                Message::Sync {
                    document_id, data, ..
                } if document_id == id => {
                    let m = automerge::sync::Message::decode(&data).unwrap();
                    doc.sync().receive_sync_message(state, m).unwrap();
                    while let Some(m) = doc.sync().generate_sync_message(state) {
                        self.send_sync(id, m.encode(), first).await;
                        first = false;
                    }
                }
                Message::DocUnavailable { document_id, .. } if document_id == id => {
                    panic!("the server says {id} is unavailable")
                }
                _ => {}
            }
        }
    }

    async fn upload(&mut self, id: DocumentId, doc: &mut AutoCommit) -> automerge::sync::State {
        let mut state = automerge::sync::State::new();
        let heads = doc.get_heads();
        self.sync_until(id, doc, &mut state, (false, true), |_, s| {
            s.shared_heads == heads
        })
        .await;
        state
    }

    async fn fetch(&mut self, id: DocumentId, heads: &[ChangeHash]) -> AutoCommit {
        let mut doc = AutoCommit::new();
        let mut state = automerge::sync::State::new();
        self.sync_until(id, &mut doc, &mut state, (true, true), |d, _| {
            heads.iter().all(|h| d.get_change_by_hash(h).is_some())
        })
        .await;
        doc
    }
}

// ------------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_created_and_edited_by_js_is_fetched_by_a_rust_peer() {
    if skip() {
        return;
    }
    ensure_node_modules();
    let server = SyncServer::start();
    let created = run_script(&["create", &ws_url(&server)]).await;
    assert_eq!(
        created["doc"]["title"], "Edited by the JS client",
        "{created}"
    );
    assert_ne!(created["headsAfterCreate"], created["heads"], "{created}");

    // The JS client is gone: the Rust peer gets the document from the server's storage/memory.
    let id: DocumentId = created["documentId"].as_str().unwrap().parse().unwrap();
    let js_heads = hex_heads(&created);
    let mut rust = RawPeer::connect(&server.url(), "rust-reader").await;
    let mut doc = rust.fetch(id, &parse_heads(&js_heads)).await;
    assert_eq!(heads_hex(&doc.get_heads()), js_heads);
    assert_eq!(as_json(&doc), created["doc"]);
    // The strings JS wrote are collaborative text; the edit after creation is in the history.
    let (title, _) = doc.get(ROOT, "title").unwrap().unwrap();
    assert!(matches!(title, automerge::Value::Object(ObjType::Text)));
    assert!(doc.get_changes(&[]).len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_uploaded_by_a_rust_peer_is_found_by_js() {
    if skip() {
        return;
    }
    ensure_node_modules();
    let server = SyncServer::start();
    let (id, mut doc) = rust_document(7);
    let mut rust = RawPeer::connect(&server.url(), "rust-writer").await;
    rust.upload(id, &mut doc).await;

    let read = run_script(&["read", &ws_url(&server), &id.url()]).await;
    assert_eq!(read["url"], id.url());
    assert_eq!(hex_heads(&read), heads_hex(&doc.get_heads()));
    assert_eq!(read["doc"], as_json(&doc), "JS reads what Rust wrote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_edit_is_relayed_live_to_a_second_js_client_and_a_rust_peer() {
    if skip() {
        return;
    }
    ensure_node_modules();
    let server = SyncServer::start();
    let (id, mut doc) = rust_document(8);
    let mut rust = RawPeer::connect(&server.url(), "rust-subscriber").await;
    let mut state = rust.upload(id, &mut doc).await;
    let url = id.url();

    // The watcher connects, finds the document and says when the server has its sync state.
    let mut watch = node(&["watch", &ws_url(&server), &url, "live"])
        .spawn()
        .expect("run node");
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(SCRIPT_TIMEOUT, lines.next_line())
        .await
        .expect("watcher not ready in time")
        .unwrap()
        .expect("watcher printed nothing");
    let ready: Json = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["event"], "ready", "{ready}");

    // A second JS client connects and edits.
    let edited = run_script(&["edit", &ws_url(&server), &url, "live", "edited by JS"]).await;
    assert_eq!(edited["doc"]["live"], "edited by JS");
    let edit_heads = hex_heads(&edited);

    // The watcher saw it without asking again.
    let mut rest = String::new();
    while let Ok(Some(line)) = tokio::time::timeout(SCRIPT_TIMEOUT, lines.next_line())
        .await
        .expect("watcher did not finish in time")
    {
        rest = line;
    }
    let watched: Json = serde_json::from_str(&rest).expect("watcher result");
    assert_eq!(watched["ok"], true, "{watched}");
    assert_eq!(watched["doc"]["live"], "edited by JS", "{watched}");
    assert_eq!(hex_heads(&watched), edit_heads);
    assert!(watched["changes"].as_u64().unwrap() >= 1, "{watched}");
    let status = watch.wait().await.unwrap();
    assert!(status.success(), "watcher exited with {status}");

    // The Rust peer, still connected, got the same change pushed to it (it only answers).
    let heads = parse_heads(&edit_heads);
    rust.sync_until(id, &mut doc, &mut state, (false, false), |d, _| {
        heads.iter().all(|h| d.get_change_by_hash(h).is_some())
    })
    .await;
    assert_eq!(heads_hex(&doc.get_heads()), edit_heads);
    assert_eq!(as_json(&doc), edited["doc"]);
}

/// A document written by Rust with the kinds of values a CRM record holds.
fn rust_document(seed: u8) -> (DocumentId, AutoCommit) {
    let id = DocumentId::from_random([seed; 16]);
    let mut doc = AutoCommit::new();
    let title = doc.put_object(ROOT, "title", ObjType::Text).unwrap();
    doc.splice_text(&title, 0, 0, "Acme Corp (from Rust)")
        .unwrap();
    doc.put(ROOT, "source", "rust").unwrap();
    doc.put(ROOT, "employees", 120).unwrap();
    doc.put(ROOT, "active", true).unwrap();
    let address = doc.put_object(ROOT, "address", ObjType::Map).unwrap();
    let city = doc.put_object(&address, "city", ObjType::Text).unwrap();
    doc.splice_text(&city, 0, 0, "Lyon").unwrap();
    let tags = doc.put_object(ROOT, "tags", ObjType::List).unwrap();
    for (i, tag) in ["customer", "b2b"].iter().enumerate() {
        let t = doc.insert_object(&tags, i, ObjType::Text).unwrap();
        doc.splice_text(&t, 0, 0, tag).unwrap();
    }
    doc.commit();
    doc.put(ROOT, "employees", 125).unwrap();
    doc.commit();
    (id, doc)
}
