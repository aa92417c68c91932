//! The server under test: started by the tool on a fresh data dir (optionally filled with
//! stored documents) or a running one, and its figures from `/proc`.

use crate::ServerOpts;
use anyhow::{bail, ensure, Context};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use crm_shared::DocumentId;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    pub(crate) child: Option<Child>,
    pub(crate) _stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
    pub(crate) data_dir: Option<PathBuf>,
}

impl Server {
    pub(crate) fn start(opts: &ServerOpts) -> anyhow::Result<Server> {
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

    pub(crate) fn stop(&mut self) {
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
pub(crate) fn populate(data_dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
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
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
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
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
pub(crate) fn status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
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
pub(crate) fn fd_limit(pid: &str) -> anyhow::Result<u64> {
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

pub(crate) fn check_fd_limits(server_pid: u32, connections: usize) -> anyhow::Result<()> {
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
