//! Bad peers against the real `crm-sync-server` binary, while real `crm` clients sync through it:
//! a decompression bomb, an oversized frame, garbage bytes, floods of half-open connections (from
//! one address and from many), too many connections for one user, a peer that sends too fast. Each time only the bad connection
//! is closed (with a reason, counted in `/metrics`), the server's memory stays bounded, and the
//! other clients keep syncing.

use crm_shared::protocol::{self, Message, PeerId};
use crm_shared::DocumentId;
use crm_tests::peer::blocking::{self, closed, Socket};
use crm_tests::{contact_names, Crm, SyncServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, Message as Ws};

/// The value of one line of `/metrics` (the name with its labels); panics when it is missing.
fn metric(server: &SyncServer, name: &str) -> f64 {
    server
        .metric(name)
        .unwrap_or_else(|| panic!("no {name} in\n{}", metrics(server)))
}

fn metrics(server: &SyncServer) -> String {
    server.metrics().unwrap_or_default()
}

fn assert_running(server: &mut SyncServer) {
    assert!(server.is_running(), "the server died:\n{}", server.log());
}

/// Peak resident memory of the server process (VmHWM), in bytes.
fn peak_rss(server: &SyncServer) -> u64 {
    proc_status_kb(server.pid().expect("the server runs"), "VmHWM") * 1024
}

fn rss(server: &SyncServer) -> u64 {
    proc_status_kb(server.pid().expect("the server runs"), "VmRSS") * 1024
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A WebSocket to the server (reads time out: a test never hangs).
fn connect(server: &SyncServer) -> Socket {
    blocking::connect(&format!("{}/sync", server.url()))
}

/// A raw WebSocket peer, joined; returns the socket and the server's peer id.
fn raw_peer(server: &SyncServer, name: &str) -> (Socket, PeerId) {
    blocking::peer(&format!("{}/sync", server.url()), name)
}

/// Two reps syncing through the server: returns them, with one contact made by ana known to both.
fn two_reps(server: &SyncServer) -> (Crm, Crm) {
    let (ana, _) = Crm::init_with_server("ana", &server.url());
    let (bruno, _) = Crm::init_with_server("bruno", &server.url());
    ana.add(&["contact", "add", "--name", "Before Attack"]);
    ana.json(&["sync"]);
    bruno.json(&["sync"]);
    assert_eq!(contact_names(&bruno), ["Before Attack"]);
    (ana, bruno)
}

/// After the attack: a new edit of ana's reaches bruno.
fn still_syncing(ana: &Crm, bruno: &Crm, name: &str) {
    ana.add(&["contact", "add", "--name", name]);
    ana.json(&["sync"]);
    bruno.json(&["sync"]);
    assert!(
        contact_names(bruno).contains(&name.to_string()),
        "{:?}",
        contact_names(bruno)
    );
}

#[test]
fn a_decompression_bomb_is_refused_before_it_expands_and_others_keep_syncing() {
    let mut server = SyncServer::start_with(&[]);
    let (ana, bruno) = two_reps(&server);
    let before = rss(&server);
    // 256 MiB of "x" in one change: about 1.6 MB on the wire (this hand-made deflate stream
    // reaches 160:1; a real encoder gets ~1000:1, which the same limit catches sooner).
    let inflated: u64 = 256 << 20;
    let data = crm_tests::bomb::sync_message("notes", inflated);
    assert!(data.len() < 2 << 20, "{}", data.len());
    let (mut ws, server_peer) = raw_peer(&server, "bomber");
    let bomb = Message::Sync {
        sender_id: PeerId::try_from("bomber".to_string()).unwrap(),
        target_id: server_peer,
        document_id: DocumentId::from_random([0xbb; 16]),
        data,
    };
    ws.send(Ws::Binary(protocol::encode(&bomb).into())).unwrap();
    let (code, reason) = closed(&mut ws).expect("a close frame");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("inflate"), "{reason}");
    assert_running(&mut server);
    assert_eq!(
        metric(
            &server,
            "crm_sync_limit_refusals_total{limit=\"inflated_bytes\"}"
        ),
        1.0
    );
    // Refused before it expanded: the server's peak memory never came near the bomb's size
    // (Automerge would hold it at least twice while loading it).
    let peak = peak_rss(&server);
    eprintln!(
        "bomb: {} bytes on the wire, {inflated} inflated; server RSS before {} MB, peak {} MB",
        protocol::encode(&bomb).len(),
        before >> 20,
        peak >> 20
    );
    assert!(peak < 128 << 20, "peak RSS {} MB", peak >> 20);
    still_syncing(&ana, &bruno, "After Bomb");
    // Nothing of the bomb was stored or relayed.
    assert_eq!(contact_names(&bruno), ["After Bomb", "Before Attack"]);
}

#[test]
fn an_oversized_frame_and_garbage_close_only_their_connection() {
    let mut server = SyncServer::start_with(&["--max-frame-bytes", "1048576"]);
    let (ana, bruno) = two_reps(&server);
    // A frame over --max-frame-bytes.
    let (mut ws, _) = raw_peer(&server, "big");
    let _ = ws.send(Ws::Binary(vec![0u8; (1 << 20) + 1].into()));
    let close = closed(&mut ws);
    assert!(matches!(close, None | Some((1009, _))), "{close:?}");
    // Garbage WebSocket frames, before and after a join.
    let mut ws = connect(&server);
    ws.send(Ws::Binary(vec![0xff, 0x00, 0x13, 0x37].into()))
        .unwrap();
    assert!(closed(&mut ws).is_some_and(|(code, _)| code != 1000));
    let (mut ws, _) = raw_peer(&server, "junk");
    let mut seed = 12345u64;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 33) as u8
        })
        .collect();
    ws.send(Ws::Binary(junk.clone().into())).unwrap();
    assert!(closed(&mut ws).is_some());
    // Garbage instead of HTTP, and a text frame.
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(&junk).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let (mut ws, _) = raw_peer(&server, "text");
    ws.send(Ws::Text("hello".into())).unwrap();
    let _ = closed(&mut ws);
    assert_running(&mut server);
    assert!(metric(&server, "crm_sync_connections_refused_total") >= 1.0);
    assert!(metric(&server, "crm_sync_protocol_errors_total") >= 2.0);
    still_syncing(&ana, &bruno, "After Garbage");
}

#[test]
fn a_flood_of_half_open_connections_times_out_while_others_keep_syncing() {
    // Flood and reps share one address here: no share per address, only the timeout.
    let mut server =
        SyncServer::start_with(&["--handshake-timeout-secs", "2", "--max-pending-per-ip", "0"]);
    let (ana, bruno) = two_reps(&server);
    let t0 = Instant::now();
    // TCP connections that send nothing, half an HTTP request, or upgrade and never join.
    let mut silent = Vec::new();
    for i in 0..300 {
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        if i % 2 == 1 {
            tcp.write_all(b"GET /sync HTTP/1.1\r\nHost: x\r\n").unwrap();
        }
        silent.push(tcp);
    }
    let mut mute = Vec::new();
    for _ in 0..50 {
        mute.push(connect(&server));
    }
    // While they hang: the reps still sync.
    still_syncing(&ana, &bruno, "During Flood");
    // Every one of them is closed by the server once the handshake timeout passed.
    for tcp in &mut silent {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => panic!("a half-open connection was not closed: {e}"),
            }
        }
    }
    for ws in &mut mute {
        let (code, reason) = closed(ws).expect("a close frame");
        assert_eq!(code, 1008, "{reason}");
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_running(&mut server);
    assert!(
        metric(
            &server,
            "crm_sync_limit_refusals_total{limit=\"handshake_timeout\"}"
        ) >= 200.0,
        "{}",
        metrics(&server)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&server, "crm_sync_connections_open") > 0.0 {
        assert!(Instant::now() < deadline, "{}", metrics(&server));
        std::thread::sleep(Duration::from_millis(100));
    }
    still_syncing(&ana, &bruno, "After Flood");
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.2, ...: another source).
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// Whether the server closed this connection (end of stream or reset), waiting up to 10 s.
fn closed_by_server(tcp: &mut TcpStream) -> bool {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match tcp.read(&mut [0u8; 64]) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// Whether the server holds this connection open (nothing to read, not closed), now.
fn held_open(tcp: &TcpStream) -> bool {
    tcp.set_nonblocking(true).unwrap();
    let peeked = tcp.peek(&mut [0u8; 1]);
    tcp.set_nonblocking(false).unwrap();
    matches!(peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Polls a counter of `/metrics` until it reaches `at_least` (10 s at most); returns its value.
fn metric_reaches(server: &SyncServer, name: &str, at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = metric(server, name);
        if value >= at_least {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {value}, expected {at_least}:\n{}",
            metrics(server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const PER_IP_REFUSALS: &str = "crm_sync_limit_refusals_total{limit=\"pending_per_ip\"}";
const POOL_FULL: &str = "crm_sync_limit_refusals_total{limit=\"pending_connections\"}";

#[test]
fn one_address_cannot_fill_the_pending_pool_and_lock_others_out() {
    let mut server = SyncServer::start_with(&[
        "--max-pending-connections",
        "64",
        "--max-pending-per-ip",
        "16",
        // Long enough that the flood still holds when the reps are done.
        "--handshake-timeout-secs",
        "30",
    ]);
    let (ana, bruno) = two_reps(&server);
    // From 127.0.0.2: more half-open connections than the whole pool, silent or half a request.
    let mut flood: Vec<TcpStream> = (0..100)
        .map(|i| {
            let mut tcp = connect_from([127, 0, 0, 2], server.addr());
            if i % 2 == 1 {
                tcp.write_all(b"GET /sync HTTP/1.1\r\nHost: x\r\n").unwrap();
            }
            tcp
        })
        .collect();
    // The address's share is held; everything over it was dropped at once, and counted.
    assert_eq!(metric_reaches(&server, PER_IP_REFUSALS, 84.0), 84.0);
    for (i, tcp) in flood.iter_mut().enumerate().skip(16) {
        assert!(closed_by_server(tcp), "flood connection {i} is still open");
    }
    assert!(flood[..16].iter().all(held_open));
    // While the flood holds its share, the reps on 127.0.0.1 sync.
    still_syncing(&ana, &bruno, "During Flood");
    assert!(flood[..16].iter().all(held_open), "the flood timed out");
    // The pool never filled: nobody was closed to make room.
    assert_eq!(metric(&server, POOL_FULL), 0.0);
    assert_eq!(metric(&server, PER_IP_REFUSALS), 84.0);
    assert_running(&mut server);
}

#[test]
fn a_full_pending_pool_makes_room_at_the_expense_of_the_busiest_addresses() {
    let mut server = SyncServer::start_with(&[
        "--max-pending-connections",
        "64",
        "--max-pending-per-ip",
        "16",
        "--handshake-timeout-secs",
        "30",
    ]);
    let (ana, bruno) = two_reps(&server);
    // A rep on a slow link: half its upgrade request is sent before the flood starts.
    let mut slow = TcpStream::connect(server.addr()).unwrap();
    slow.write_all(b"GET /sync HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // From eight addresses, each within its share: twice as many silent connections as the pool
    // holds.
    let mut flood: Vec<TcpStream> = (0..128u8)
        .map(|i| connect_from([127, 0, 0, 2 + i % 8], server.addr()))
        .collect();
    // Each of the newest 64 closed one of the oldest 64 to make room, not the rep's.
    metric_reaches(&server, POOL_FULL, 64.0);
    for (i, tcp) in flood.iter_mut().enumerate().take(64) {
        assert!(closed_by_server(tcp), "flood connection {i} is still open");
    }
    assert!(held_open(&slow), "the slow rep's connection was closed");
    // The rest of the slow rep's request: it becomes a WebSocket.
    slow.write_all(
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        match slow.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            other => panic!("{other:?} after {:?}", String::from_utf8_lossy(&answer)),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    // The pool is still full of the flood, and the reps' connections get in too.
    still_syncing(&ana, &bruno, "Pool Full");
    assert!(flood[120..].iter().all(held_open), "the flood timed out");
    assert_eq!(metric(&server, PER_IP_REFUSALS), 0.0);
    assert_running(&mut server);
}

#[test]
fn one_user_cannot_hold_more_than_its_connections() {
    let mut server = SyncServer::start_with(&["--max-connections-per-user", "2"]);
    server.admin(&["user", "add", "ana", "--role", "admin"]);
    let token = server.admin(&["token", "issue", "ana"]);
    let connect = |token: &str| {
        let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "{}/sync",
            server.url()
        ))
        .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tungstenite::connect(req)
    };
    let a = connect(&token).unwrap();
    let b = connect(&token).unwrap();
    match connect(&token) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        metric(
            &server,
            "crm_sync_limit_refusals_total{limit=\"connections_per_user\"}"
        ),
        1.0
    );
    // A connection that ends frees its place.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(10);
    let c = loop {
        match connect(&token) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("{e}"),
        }
    };
    drop((b, c));
    assert_running(&mut server);
}

#[test]
fn a_peer_sending_too_fast_is_slowed_down_not_others() {
    let mut server = SyncServer::start_with(&["--rate-frames", "20"]);
    let (ana, bruno) = two_reps(&server);
    let (mut ws, server_peer) = raw_peer(&server, "fast");
    // 60 requests for unknown documents: each is answered (doc-unavailable), at 20 frames/s.
    let t0 = Instant::now();
    for i in 0..60u8 {
        let msg = Message::Request {
            sender_id: PeerId::try_from("fast".to_string()).unwrap(),
            target_id: server_peer.clone(),
            document_id: DocumentId::from_random([i; 16]),
            data: automerge_sync_request(),
        };
        ws.send(Ws::Binary(protocol::encode(&msg).into())).unwrap();
    }
    // Meanwhile the reps are not slowed down.
    let t_rep = Instant::now();
    still_syncing(&ana, &bruno, "While Throttled");
    let rep_took = t_rep.elapsed();
    let mut answered = 0;
    while answered < 60 {
        match ws.read().unwrap() {
            Ws::Binary(_) => answered += 1,
            Ws::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
    let took = t0.elapsed();
    eprintln!("60 frames at 20/s answered in {took:?}; the reps' sync took {rep_took:?}");
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    assert!(metric(&server, "crm_sync_rate_limited_total") >= 30.0);
    assert_running(&mut server);
}

/// An Automerge sync message from a peer with nothing.
fn automerge_sync_request() -> Vec<u8> {
    // V1: no heads, no needs, one empty "have", no changes.
    vec![0x42, 0, 0, 1, 0, 0, 0]
}

#[test]
fn a_rep_who_syncs_again_at_once_is_not_refused_for_the_connection_just_closed() {
    let server = SyncServer::start_with(&["--max-connections-per-user", "2"]);
    server.admin(&["user", "add", "ana"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    let token = server.admin(&["token", "issue", "ana"]);
    let ana = Crm::new();
    ana.ok(&[
        "init",
        "--user",
        "ana",
        "--server",
        &server.url(),
        "--token",
        &token,
    ]);
    for round in 0..12 {
        ana.add(&["contact", "add", "--name", &format!("Round {round}")]);
        ana.ok(&["sync"]);
    }
    assert_eq!(
        metric(
            &server,
            "crm_sync_limit_refusals_total{limit=\"connections_per_user\"}"
        ),
        0.0
    );
}
