//! Sync when things break: a server killed mid-sync, restarted under `--watch`, unreachable or not a sync server at all.

use super::*;

#[test]
fn a_server_killed_mid_sync_loses_nothing_reported_done() {
    let mut server = SyncServer::start();
    let (ana, _) = Crm::init_with_server("ana", &server.url());
    ana.ok(&[
        "demo-data",
        "--force",
        "--contacts",
        "900",
        "--orgs",
        "100",
        "--cases",
        "150",
        "--activities",
        "350",
    ]);
    let up = sync(&ana);
    assert!(
        up["bytes_sent"].as_u64().unwrap() > 100_000,
        "the book went up: {up}"
    );
    // A last record, synced with the human output, then SIGKILL straight after the success.
    let last = ana.add(&["contact", "add", "--name", "Zoe Last-Before-Crash"]);
    let out = ana.ok(&["sync"]);
    assert!(out.starts_with("Synced with "), "{out}");
    server.kill9();
    let url = server.restart();

    // Bruno restores from the restarted server (nobody re-uploaded anything since the kill), and
    // the server is killed again while it sends him the book.
    let bruno = Crm::init("bruno");
    let mine = bruno.add(&["contact", "add", "--name", "Bruno Offline-Work"]);
    let before = server
        .metric("crm_sync_bytes_sent_total")
        .expect("the server serves /metrics");
    let mut child = bruno
        .command()
        .args(["sync", "--server", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm sync can be started");
    let sending = wait_until("the server to send the book", LIVE, || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the restore ended ({status}) before the server sent 100 KB");
        }
        let sent = server.metric("crm_sync_bytes_sent_total")?;
        (sent - before > 100_000.0).then_some(sent)
    });
    server.kill9();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        // The last frames were already out when the kill landed: nothing to interrupt this time.
        eprintln!("the restore finished before the kill (after {sending} bytes)");
    } else {
        let err = assert_clean_failure(
            &format!("a sync interrupted by the kill (after {sending} bytes)"),
            &out,
        );
        assert!(message(&err).contains("sync server"), "{err}");
        eprintln!("the interrupted sync said: {err}");
    }

    // After the restart the same command works, and Bruno has everything Ana synced.
    let url = server.restart();
    bruno.json(&["sync", "--server", &url]);
    assert_eq!(
        bruno.json(&["contact", "show", &last])["name"],
        "Zoe Last-Before-Crash"
    );
    let ana_book = view(&ana, &[]);
    let mut bruno_book = view(&bruno, &[]);
    assert_eq!(rows(&bruno_book["contacts"]).len(), 902);
    // Bruno's own contact is the one difference.
    let contacts = bruno_book["contacts"].as_array_mut().unwrap();
    contacts.retain(|c| c["id"] != mine.as_str());
    assert_same(
        &bruno_book,
        &ana_book,
        "Bruno's restore lacks part of what Ana's syncs reported done",
    );

    // The twice-restarted server relays Bruno's own work to Ana.
    ana.json(&["sync", "--server", &url]);
    assert_same(
        &view(&ana, &[]),
        &view(&bruno, &[]),
        "Ana differs from Bruno",
    );
}

#[test]
fn sync_watch_receives_and_pushes_live_and_survives_a_server_restart() {
    let mut server = SyncServer::start();
    let url = server.url();
    let (ana, _) = Crm::init_with_server("ana", &url);
    let (bruno, _) = Crm::init_with_server("bruno", &url);
    let mut watch = Watch::start(&bruno);

    // Ana's new contact shows up in Bruno's lists by itself.
    let elena = ana.add(&["contact", "add", "--name", "Elena Live"]);
    sync(&ana);
    wait_until("Ana's contact in Bruno's list", LIVE, || {
        watch.assert_running();
        contact_names(&bruno)
            .contains(&"Elena Live".to_string())
            .then_some(())
    });

    // Bruno edits it with another crm process while the watch runs; the watch pushes it.
    bruno.ok(&["contact", "edit", &elena, "--title", "CTO"]);
    wait_until("Bruno's edit at Ana's", LIVE, || {
        watch.assert_running();
        sync(&ana);
        (ana.json(&["contact", "show", &elena])["title"] == "CTO").then_some(())
    });

    // The server dies and comes back on the same port: the watch reconnects by itself.
    server.kill9();
    // Made while the server is down: the watch must push it after reconnecting.
    let offline = bruno.add(&["contact", "add", "--name", "Bruno While-Down"]);
    if let Err(e) = server.restart_on_same_port() {
        eprintln!(
            "SKIPPED: the server cannot listen on {} again ({e}): not checking the watch's reconnection",
            server.addr()
        );
        return;
    }
    assert_eq!(server.url(), url);
    let after = ana.add(&["contact", "add", "--name", "Ana After-Restart"]);
    sync(&ana);
    wait_until("Ana's contact at Bruno's after the restart", LIVE, || {
        watch.assert_running();
        contact_names(&bruno)
            .contains(&"Ana After-Restart".to_string())
            .then_some(())
    });
    wait_until(
        "Bruno's offline contact at Ana's after the restart",
        LIVE,
        || {
            watch.assert_running();
            sync(&ana);
            contact_names(&ana)
                .contains(&"Bruno While-Down".to_string())
                .then_some(())
        },
    );
    bruno.ok(&["contact", "edit", &after, "--title", "Buyer"]);
    wait_until("Bruno's edit at Ana's after the restart", LIVE, || {
        watch.assert_running();
        sync(&ana);
        (ana.json(&["contact", "show", &after])["title"] == "Buyer").then_some(())
    });
    let log = watch.stderr();
    eprintln!("the watch said:\n{log}");
    assert!(log.contains("reconnecting"), "the watch said: {log}");
    assert!(!log.contains("panicked"), "the watch said: {log}");
    watch.assert_running();
    drop(watch);
    assert_same(&view(&ana, &[]), &view(&bruno, &[]), "Ana and Bruno differ");
    assert_eq!(
        ana.json(&["contact", "show", &offline])["name"],
        "Bruno While-Down"
    );
}

#[test]
fn unreachable_or_bogus_servers_fail_cleanly_and_change_nothing() {
    let ana = Crm::init("ana");
    ana.add(&["contact", "add", "--name", "Elena Novak"]);
    let before = ana.snapshot();

    // No server configured.
    let err = ana.fail(&["sync"]);
    assert!(message(&err).contains("no sync server"), "{err}");
    // Not a WebSocket URL.
    let err = ana.fail(&["sync", "--server", "http://127.0.0.1:1"]);
    assert!(message(&err).contains("http://127.0.0.1:1"), "{err}");
    // Nothing listens there.
    let port = free_port();
    let nowhere = format!("ws://127.0.0.1:{port}");
    let err = ana.fail(&["sync", "--server", &nowhere]);
    assert!(message(&err).contains(&port.to_string()), "{err}");
    assert_same(&ana.snapshot(), &before, "the records changed");

    // A web server that is not a sync server, and a WebSocket server that sends junk.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_url = format!("ws://{}", http.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in http.incoming().flatten().take(1) {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n",
            );
        }
    });
    let mut cmd = ana.command();
    cmd.args(["sync", "--timeout", "3", "--server", &http_url]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    let err = assert_clean_failure("a sync with a plain web server", &out);
    eprintln!("with a plain web server: {err}");
    assert_same(&ana.snapshot(), &before, "the records changed");

    let junk = TcpListener::bind("127.0.0.1:0").unwrap();
    let junk_url = format!("ws://{}", junk.local_addr().unwrap());
    std::thread::spawn(move || {
        use tokio_tungstenite::tungstenite::{accept, Message};
        for stream in junk.incoming().flatten().take(1) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let Ok(mut ws) = accept(stream) else { return };
            let _ = ws.send(Message::Binary(
                vec![0xa2, 0x64, 0x74, 0x79, 0xff, 0x00].into(),
            ));
            let _ = ws.send(Message::Binary(vec![0xff; 64].into()));
            let _ = ws.send(Message::Text("hello".into()));
            while ws.read().is_ok() {}
        }
    });
    let mut cmd = ana.command();
    cmd.args(["sync", "--timeout", "3", "--server", &junk_url]);
    let out = run_bounded(cmd, Duration::from_secs(20));
    let err = assert_clean_failure("a sync with a server sending junk", &out);
    eprintln!("with a server sending junk: {err}");
    assert_same(&ana.snapshot(), &before, "the records changed");

    // init with an unreachable server keeps nothing and says what to check; offline init works.
    let offline = Crm::new();
    let err = offline.fail(&["init", "--user", "bruno", "--server", "ws://127.0.0.1:1"]);
    assert!(
        message(&err).contains("ws://127.0.0.1:1") && message(&err).contains("nothing was saved"),
        "{err}"
    );
    assert!(
        !offline.dir().exists(),
        "a failed init left {:?}",
        offline.dir()
    );
    offline.ok(&["init", "--user", "bruno"]);
    let id = offline.add(&["contact", "add", "--name", "Works Offline"]);
    assert_eq!(
        offline.json(&["contact", "show", &id])["name"],
        "Works Offline"
    );
    assert_eq!(contact_names(&offline), ["Works Offline"]);
}
