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

mod fanout;
mod idle;
mod peer;
mod report;
mod server;

use fanout::fanout;
use idle::idle;
use server::{check_fd_limits, Server};

use anyhow::ensure;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
