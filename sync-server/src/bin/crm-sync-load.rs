//! `crm-sync-load`: a load generator for `crm-sync-server`, speaking the raw automerge-repo
//! protocol over loopback WebSockets. It measures what the server targets promise:
//!
//! - `fanout --peers K --edits N`: K peers subscribe to one document, one writer makes N edits one
//!   after another; per edit, the time from the writer's send until every one of the K peers has
//!   received the change (p50/p99/max), and the server's CPU time per edit (utime+stime from
//!   `/proc/<pid>/stat`, over the whole run, including the peers' acknowledgements).
//!   Target: K = 100, p99 <= 20 ms and <= 2 ms server CPU per edit.
//! - `idle --conns C`: C connections that join and then stay idle; the server's resident memory
//!   (`VmRSS` of `/proc/<pid>/status`) before and after. Target: 1,000 connections <= 100 MB.
//!
//! The tool starts the server itself (`--server PATH`, default: `crm-sync-server` next to this
//! binary, on a fresh temporary data dir, killed at the end) or measures a running one
//! (`--addr 127.0.0.1:PORT --server-pid PID`). It only connects to loopback addresses, bounds every
//! count and its total run time (`--max-secs`), and stops by itself. Linux only (`/proc`).
//!
//! Every peer is a real sync peer: subscribers apply each change to their copy and acknowledge it
//! like automerge-repo does, so the server does the work it would do with real clients. Peers and
//! server share the machine: the tool's own CPU time is printed too.

use anyhow::{bail, ensure, Context};
use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ReadDoc, ROOT};
use clap::{Args, Parser, Subcommand};
use crm_shared::protocol::{self, Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Ws;

#[derive(Debug, Parser)]
#[command(
    name = "crm-sync-load",
    about = "Load generator for crm-sync-server (loopback only): fan-out latency and CPU, idle connection memory."
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    #[command(flatten)]
    server: ServerOpts,
    /// Abort the whole run after this many seconds
    #[arg(long, global = true, default_value_t = 300)]
    max_secs: u64,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// K peers subscribed to one document, one writer makes N edits: latency until all K have
    /// each edit, server CPU per edit
    Fanout {
        /// Subscribed peers (1..=10000)
        #[arg(long, default_value_t = 100)]
        peers: usize,
        /// Edits (1..=100000)
        #[arg(long, default_value_t = 500)]
        edits: usize,
        /// Edits made first and left out of the figures
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Pause between edits, in milliseconds
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
        /// Subscribers apply every change before acknowledging it (by default they acknowledge
        /// with automerge's own acknowledgement, checked on their first changes, and so keep this
        /// process's CPU for timing; the server sees the same bytes)
        #[arg(long)]
        full_peers: bool,
    },
    /// C idle joined connections: server resident memory
    Idle {
        /// Connections (1..=20000)
        #[arg(long, default_value_t = 1000)]
        conns: usize,
        /// Seconds to hold them before measuring
        #[arg(long, default_value_t = 3)]
        hold_secs: u64,
    },
}

#[derive(Debug, Args)]
struct ServerOpts {
    /// The crm-sync-server binary to start (default: the one next to this tool)
    #[arg(long, global = true, conflicts_with = "addr")]
    server: Option<PathBuf>,
    /// Measure a running server at this loopback address instead (with --server-pid)
    #[arg(long, global = true, requires = "server_pid")]
    addr: Option<SocketAddr>,
    /// The pid of the running server (for /proc figures)
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Store this many small documents before starting the server (0..=1000000), as a real
    /// server holds a whole team's records; only with a server the tool starts
    #[arg(long, global = true, default_value_t = 0, conflicts_with = "addr")]
    stored_docs: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    let max = Duration::from_secs(cli.max_secs);
    let fds_needed = match cli.mode {
        Mode::Fanout { peers, edits, .. } => {
            ensure!((1..=10_000).contains(&peers), "--peers must be 1..=10000");
            ensure!((1..=100_000).contains(&edits), "--edits must be 1..=100000");
            peers + 1
        }
        Mode::Idle { conns, .. } => {
            ensure!((1..=20_000).contains(&conns), "--conns must be 1..=20000");
            conns
        }
    };
    runtime.block_on(async move {
        // Stopped (killed, its temporary data removed) on drop, whatever happens below.
        let mut server = Server::start(&cli.server)?;
        check_fd_limits(server.pid, fds_needed)?;
        let run = async {
            match cli.mode {
                Mode::Fanout {
                    peers,
                    edits,
                    warmup,
                    pause_ms,
                    full_peers,
                } => {
                    fanout(
                        &server,
                        peers,
                        edits,
                        warmup.min(edits - 1),
                        pause_ms,
                        full_peers,
                    )
                    .await
                }
                Mode::Idle { conns, hold_secs } => {
                    idle(&server, conns, Duration::from_secs(hold_secs.min(600))).await
                }
            }
        };
        let result = match tokio::time::timeout(max, run).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "gave up after --max-secs {}",
                max.as_secs()
            )),
        };
        server.stop();
        result
    })
}

// ------------------------------------------------------------------------------------------------
// The server under test

struct Server {
    addr: SocketAddr,
    pid: u32,
    child: Option<Child>,
    _stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
    data_dir: Option<PathBuf>,
}

impl Server {
    fn start(opts: &ServerOpts) -> anyhow::Result<Server> {
        if let Some(addr) = opts.addr {
            ensure!(
                addr.ip().is_loopback(),
                "{addr} is not a loopback address: this tool only loads local servers"
            );
            let pid = opts.server_pid.context("--addr needs --server-pid")?;
            return Ok(Server {
                addr,
                pid,
                child: None,
                _stdout: None,
                data_dir: None,
            });
        }
        let binary = match &opts.server {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("no directory for this binary")?
                .join("crm-sync-server"),
        };
        let data_dir = std::env::temp_dir().join(format!(
            "crm-sync-load-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        ensure!(
            opts.stored_docs <= 1_000_000,
            "--stored-docs must be 0..=1000000"
        );
        if opts.stored_docs > 0 {
            if let Err(e) = populate(&data_dir, opts.stored_docs) {
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(e);
            }
        }
        let mut child = Command::new(&binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env("CRM_SYNC_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        // Kept open: the server must never write to a closed pipe.
        let mut stdout = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            bail!("the server did not start: {line:?}");
        };
        let addr: SocketAddr = addr.parse()?;
        eprintln!(
            "started {} on {addr} (pid {}, data {})",
            binary.display(),
            child.id(),
            data_dir.display()
        );
        Ok(Server {
            addr,
            pid: child.id(),
            child: Some(child),
            _stdout: Some(stdout),
            data_dir: Some(data_dir),
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.data_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes `n` small documents into a fresh store, as the server itself would have stored them.
fn populate(data_dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    use crm_sync_server::storage::{Append, SqliteStorage, Storage};
    let t = Instant::now();
    std::fs::create_dir_all(data_dir)?;
    let mut storage = SqliteStorage::open(&crm_sync_server::data_dir::store_path(data_dir))?;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "contact")?;
        doc.put(ROOT, "name", format!("Contact {i}"))?;
        doc.put(ROOT, "email", format!("contact{i}@example.com"))?;
        doc.commit();
        batch.push(Append {
            document_id: DocumentId::from_random(rand::random()),
            changes: doc.save(),
            heads: doc.get_heads(),
        });
        if batch.len() == 1000 || i + 1 == n {
            storage.append(&batch)?;
            batch.clear();
        }
    }
    eprintln!("stored {n} documents in {:?}", t.elapsed());
    Ok(())
}

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .context("unexpected /proc/<pid>/stat")?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    // USER_HZ is 100 on every Linux configuration that matters.
    Ok(Duration::from_millis((utime + stime) * 10))
}

/// The 1-minute load average: figures taken on a busy machine are not worth much.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad status line")?
        .parse()?)
}

/// The soft `Max open files` limit of a process.
fn fd_limit(pid: &str) -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no open files limit")?;
    Ok(line
        .split_whitespace()
        .nth(3)
        .context("bad limits line")?
        .parse()
        .unwrap_or(u64::MAX))
}

fn check_fd_limits(server_pid: u32, connections: usize) -> anyhow::Result<()> {
    let need = connections as u64 + 64;
    for (who, pid) in [
        ("this tool", "self".to_string()),
        ("the server", server_pid.to_string()),
    ] {
        let limit = fd_limit(&pid)?;
        ensure!(
            limit >= need,
            "{who} may open {limit} files but needs about {need}: raise `ulimit -n` (and restart the server)"
        );
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Raw protocol peers

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Peer {
    tx: SplitSink<Socket, Ws>,
    rx: SplitStream<Socket>,
    me: PeerId,
    server: PeerId,
}

impl Peer {
    async fn join(addr: SocketAddr, name: String) -> anyhow::Result<Peer> {
        // Small buffers: thousands of these live in this process.
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/"),
            Some(config),
            true, // TCP_NODELAY, as browsers and the `ws` package do
        )
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
        let (mut tx, mut rx) = ws.split();
        let me = PeerId::try_from(name)?;
        let join = Message::Join {
            sender_id: me.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: Some(vec!["1".into()]),
        };
        tx.send(Ws::Binary(protocol::encode(&join).into())).await?;
        let server = match next_message(&mut rx).await? {
            (Message::Peer { sender_id, .. }, _) => sender_id,
            (other, _) => bail!("expected `peer`, got {other:?}"),
        };
        Ok(Peer { tx, rx, me, server })
    }

    async fn send_sync(
        &mut self,
        id: DocumentId,
        data: Vec<u8>,
        request: bool,
    ) -> anyhow::Result<()> {
        let (sender_id, target_id, document_id) = (self.me.clone(), self.server.clone(), id);
        let msg = Message::doc_sync(request, sender_id, target_id, document_id, data);
        self.tx
            .send(Ws::Binary(protocol::encode(&msg).into()))
            .await?;
        Ok(())
    }

    /// Syncs `doc` until `done`, answering the server.
    async fn sync_until(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
        state: &mut automerge::sync::State,
        request: bool,
        done: impl Fn(&AutoCommit, &automerge::sync::State) -> bool,
    ) -> anyhow::Result<()> {
        let mut request = request;
        if let Some(m) = doc.sync().generate_sync_message(state) {
            self.send_sync(id, m.encode(), request).await?;
            request = false;
        }
        while !done(doc, state) {
            let msg = tokio::time::timeout(Duration::from_secs(30), next_message(&mut self.rx))
                .await
                .context("no answer from the server in 30 s")??
                .0;
            match msg {
                Message::Sync {
                    document_id, data, ..
                } if document_id == id => {
                    let m = automerge::sync::Message::decode(&data)?;
                    doc.sync().receive_sync_message(state, m)?;
                    if let Some(m) = doc.sync().generate_sync_message(state) {
                        self.send_sync(id, m.encode(), request).await?;
                        request = false;
                    }
                }
                Message::DocUnavailable { .. } => bail!("the server says {id} is unavailable"),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The next protocol message and when its frame arrived.
async fn next_message(rx: &mut SplitStream<Socket>) -> anyhow::Result<(Message, Instant)> {
    loop {
        match rx.next().await {
            Some(Ok(Ws::Binary(b))) => {
                let at = Instant::now();
                return Ok((protocol::decode(&b)?, at));
            }
            Some(Ok(Ws::Close(frame))) => bail!("the server closed the connection: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the connection"),
        }
    }
}

/// Opens `n` joined peers, `batch` handshakes at a time.
async fn join_many(addr: SocketAddr, n: usize, prefix: &str) -> anyhow::Result<Vec<Peer>> {
    let mut peers = Vec::with_capacity(n);
    let batch = 100;
    for start in (0..n).step_by(batch) {
        let joins = (start..(start + batch).min(n))
            .map(|i| tokio::spawn(Peer::join(addr, format!("{prefix}-{i}"))));
        for j in joins.collect::<Vec<_>>() {
            peers.push(j.await??);
        }
    }
    Ok(peers)
}

// ------------------------------------------------------------------------------------------------
// fanout

/// A subscriber received a change: (peer, heads of the message, arrival).
type Arrival = (usize, Vec<ChangeHash>, Instant);

async fn fanout(
    server: &Server,
    k: usize,
    edits: usize,
    warmup: usize,
    pause_ms: u64,
    full_peers: bool,
) -> anyhow::Result<()> {
    let id = DocumentId::from_random(rand::random());
    let mut writer = Peer::join(server.addr, "load-writer".into()).await?;
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "title", "fan-out load test")?;
    doc.put(ROOT, "n", 0)?;
    doc.commit();
    let mut state = automerge::sync::State::new();
    let heads = doc.get_heads();
    writer
        .sync_until(id, &mut doc, &mut state, false, |_, s| {
            s.shared_heads == heads
        })
        .await?;

    // Subscribers fetch the document (the server then pushes them every change).
    let t = Instant::now();
    let peers = join_many(server.addr, k, "load-sub").await?;
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<Arrival>();
    let (ready_tx, mut ready) = mpsc::channel::<anyhow::Result<()>>(k);
    let mut tasks = Vec::with_capacity(k);
    for (index, peer) in peers.into_iter().enumerate() {
        let heads = heads.clone();
        let arrivals = arrivals_tx.clone();
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(subscriber(
            index, peer, id, full_peers, heads, ready, arrivals,
        )));
    }
    drop(arrivals_tx);
    for _ in 0..k {
        ready.recv().await.context("a subscriber died")??;
    }
    eprintln!("{k} subscribers joined and synced in {:?}", t.elapsed());

    // Edits, one after another: each waits until every subscriber has it and the server acked it.
    let load_before = loadavg();
    let cpu_before = cpu_time(server.pid)?;
    let own_before = cpu_time(std::process::id())?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(edits);
    let mut firsts = Vec::with_capacity(edits);
    let mut cpu_warm = Duration::ZERO;
    let mut warm_started = started;
    for i in 1..=edits {
        if i == warmup + 1 {
            cpu_warm = cpu_time(server.pid)?;
            warm_started = Instant::now();
        }
        doc.put(ROOT, "n", i as i64)?;
        doc.commit();
        let head = doc.get_heads()[0];
        let m = doc
            .sync()
            .generate_sync_message(&mut state)
            .context("the writer has nothing to send")?;
        let sent = Instant::now();
        writer.send_sync(id, m.encode(), false).await?;
        let mut reached = vec![false; k];
        let mut remaining = k;
        let mut acked = false;
        let mut last = sent;
        let mut first: Option<Instant> = None;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        while remaining > 0 || !acked {
            tokio::select! {
                a = arrivals.recv() => {
                    let (peer, heads, at) = a.context("every subscriber died")?;
                    if heads.contains(&head) && !reached[peer] {
                        reached[peer] = true;
                        remaining -= 1;
                        last = last.max(at);
                        first = Some(first.map_or(at, |f| f.min(at)));
                    }
                }
                m = next_message(&mut writer.rx) => {
                    if let (Message::Sync { data, .. }, _) = m? {
                        let m = automerge::sync::Message::decode(&data)?;
                        acked |= m.heads.contains(&head);
                        doc.sync().receive_sync_message(&mut state, m)?;
                    }
                }
                _ = &mut deadline => bail!("edit {i}: {remaining} of {k} peers still lack it after 10 s"),
            }
        }
        if i > warmup {
            latencies.push(last - sent);
            firsts.push(first.unwrap_or(last) - sent);
        }
        if pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
    }
    let elapsed = warm_started.elapsed();
    // Let the last acknowledgements land so their cost is counted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cpu = cpu_time(server.pid)? - cpu_warm;
    let cpu_all = cpu_time(server.pid)? - cpu_before;
    let own = cpu_time(std::process::id())? - own_before;
    for t in tasks {
        t.abort();
    }
    let measured = latencies.len();
    latencies.sort();
    firsts.sort();
    let pct = |p: f64| latencies[((measured as f64 * p).ceil() as usize).clamp(1, measured) - 1];
    let per_edit = cpu / measured as u32;
    let metrics = scrape_metrics(server.addr).await.unwrap_or_default();
    println!();
    println!(
        "fanout: {k} {} peers, {edits} edits ({warmup} warm-up left out), {:.0} edits/s, server pid {}, load average {load_before} -> {}",
        if full_peers { "full" } else { "light" },
        measured as f64 / elapsed.as_secs_f64(),
        server.pid,
        loadavg()
    );
    let target = k == 100;
    let first_p50 = ms(firsts[measured / 2]);
    let rows = [
        ("latency to the first peer p50", first_p50, None),
        ("latency to all peers p50", ms(pct(0.50)), None),
        (
            "latency to all peers p99",
            ms(pct(0.99)),
            target.then_some((20.0, "ms")),
        ),
        (
            "latency to all peers max",
            ms(latencies[measured - 1]),
            None,
        ),
        (
            "server CPU per edit",
            ms(per_edit),
            target.then_some((2.0, "ms")),
        ),
        (
            "server CPU per edit per peer",
            ms(per_edit) * 1000.0 / k as f64,
            None,
        ),
        ("load tool CPU per edit", ms(own / edits as u32), None),
    ];
    print_table(&rows, k);
    println!(
        "  (server CPU {:.2} s over the measured edits, {:.2} s including warm-up; CPU counted in 10 ms ticks)",
        cpu.as_secs_f64(),
        cpu_all.as_secs_f64()
    );
    for name in [
        "crm_sync_storage_commits_total",
        "crm_sync_storage_commit_seconds_sum",
        "crm_sync_storage_commit_seconds_max",
        "crm_sync_frames_sent_total",
        "crm_sync_frames_received_total",
    ] {
        if let Some(v) = metric(&metrics, name) {
            println!("  {name} {v}");
        }
    }
    Ok(())
}

/// Automerge's acknowledgement `template` of one change, for a change leading to `heads`.
fn acknowledge(
    template: &automerge::sync::Message,
    heads: &[ChangeHash],
) -> automerge::sync::Message {
    let mut m = template.clone();
    m.heads = heads.to_vec();
    for have in &mut m.have {
        have.last_sync = heads.to_vec();
    }
    m
}

#[allow(clippy::too_many_arguments)]
async fn subscriber(
    index: usize,
    mut peer: Peer,
    id: DocumentId,
    full: bool,
    heads: Vec<ChangeHash>,
    ready: mpsc::Sender<anyhow::Result<()>>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) {
    let mut doc = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let synced = peer
        .sync_until(id, &mut doc, &mut state, true, |d, _| {
            heads.iter().all(|h| d.get_change_by_hash(h).is_some())
        })
        .await;
    let failed = synced.is_err();
    let _ = ready.send(synced).await;
    if failed {
        return;
    }
    // The reader only stamps arrivals; applying and acknowledging happen in another task, so that
    // one peer's work does not delay the next peer's timestamp (they share this process's cores).
    let Peer {
        mut tx,
        mut rx,
        me,
        server,
    } = peer;
    let (work_tx, mut work) = mpsc::unbounded_channel::<automerge::sync::Message>();
    let worker = tokio::spawn(async move {
        // Light mode: once automerge's own acknowledgement of a change has been seen twice to be
        // "our new heads, nothing needed, last sync = those heads", acknowledge further changes
        // with that message and the new heads, without applying them: the server gets the same
        // bytes and this process spends its CPU on timing rather than on merging.
        let mut template: Option<automerge::sync::Message> = None;
        let mut light = false;
        let mut full = full;
        while let Some(m) = work.recv().await {
            let change = !m.changes.is_empty();
            let reply = if light && change {
                template.as_ref().map(|t| acknowledge(t, &m.heads))
            } else if light {
                None // nothing to answer once acknowledgements are crafted
            } else {
                let heads = m.heads.clone();
                if doc.sync().receive_sync_message(&mut state, m).is_err() {
                    return;
                }
                let reply = doc.sync().generate_sync_message(&mut state);
                if let (Some(r), true, false) = (&reply, change, full) {
                    match &template {
                        None => template = Some(r.clone()),
                        Some(t) => {
                            light = acknowledge(t, &heads).encode() == r.clone().encode();
                            if !light {
                                eprintln!("peer {index}: automerge's acknowledgement differs from the light one: staying a full peer");
                                full = true;
                            }
                        }
                    }
                }
                reply
            };
            if let Some(reply) = reply {
                let ack = Message::Sync {
                    sender_id: me.clone(),
                    target_id: server.clone(),
                    document_id: id,
                    data: reply.encode(),
                };
                if tx
                    .send(Ws::Binary(protocol::encode(&ack).into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    while let Ok((msg, at)) = next_message(&mut rx).await {
        let Message::Sync {
            document_id, data, ..
        } = msg
        else {
            continue;
        };
        if document_id != id {
            continue;
        }
        let Ok(m) = automerge::sync::Message::decode(&data) else {
            break;
        };
        if !m.changes.is_empty() && arrivals.send((index, m.heads.clone(), at)).is_err() {
            break;
        }
        if work_tx.send(m).is_err() {
            break;
        }
    }
    worker.abort();
}

// ------------------------------------------------------------------------------------------------
// idle

async fn idle(server: &Server, conns: usize, hold: Duration) -> anyhow::Result<()> {
    let before = status_kb(server.pid, "VmRSS")?;
    let t = Instant::now();
    let peers = join_many(server.addr, conns, "load-idle").await?;
    let joined = t.elapsed();
    // Keep reading so pings are answered, as an idle client does.
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|mut p| {
            tokio::spawn(async move {
                while let Some(Ok(_)) = p.rx.next().await {}
                drop(p.tx);
            })
        })
        .collect();
    tokio::time::sleep(hold).await;
    let after = status_kb(server.pid, "VmRSS")?;
    let hwm = status_kb(server.pid, "VmHWM")?;
    let metrics = scrape_metrics(server.addr).await.unwrap_or_default();
    let open = metric(&metrics, "crm_sync_connections_open").unwrap_or_default();
    for t in &tasks {
        t.abort();
    }
    println!();
    println!(
        "idle: {conns} joined connections (opened in {joined:?}, held {hold:?}); server reports {open} open; server pid {}, load average {}",
        server.pid,
        loadavg()
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    let target = conns == 1000;
    let rows = [
        ("server RSS before", mb(before), None),
        (
            "server RSS with the connections",
            mb(after),
            target.then_some((100.0, "MB")),
        ),
        ("server RSS peak (VmHWM)", mb(hwm), None),
        (
            "server RSS per connection (KB)",
            (after.saturating_sub(before)) as f64 / conns as f64,
            None,
        ),
    ];
    print_table(&rows, conns);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Output

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A row of the figures table: name, measured value, target (limit and unit) if there is one.
type Row<'a> = (&'a str, f64, Option<(f64, &'a str)>);

fn print_table(rows: &[Row], n: usize) {
    println!(
        "  {:<34} {:>10}  {:<14} verdict",
        "figure", "measured", "target"
    );
    for (name, value, target) in rows {
        let (target, verdict) = match target {
            Some((limit, unit)) => (
                format!("<= {limit} {unit}"),
                if value <= limit { "OK" } else { "MISSED" },
            ),
            None => (format!("(none at {n})"), ""),
        };
        println!("  {name:<34} {value:>10.3}  {target:<14} {verdict}");
    }
}

async fn scrape_metrics(addr: SocketAddr) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await??;
    Ok(out)
}

fn metric(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
}
