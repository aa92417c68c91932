//! [`SyncServer`]: the real `crm-sync-server` binary on a temporary data dir and a free port.

use crate::{sync_server_bin, Crm};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The real `crm-sync-server` binary serving a temporary data dir.
///
/// It listens on a free port of 127.0.0.1 (read from its `listening on ADDR` line); its log
/// (stderr, `CRM_SYNC_LOG` or `warn`) goes to a file beside the data dir, kept across restarts.
/// [`SyncServer::kill9`] SIGKILLs it, [`SyncServer::restart`] starts it again on the same data
/// dir; dropping it kills it. [`SyncServer::start_tls`] serves wss:// instead.
pub struct SyncServer {
    tmp: tempfile::TempDir,
    data_dir: PathBuf,
    child: Option<std::process::Child>,
    addr: std::net::SocketAddr,
    /// `--tls-cert` and `--tls-key`.
    tls: Option<(PathBuf, PathBuf)>,
    /// Other flags of `serve`, kept across restarts.
    flags: Vec<String>,
}

impl SyncServer {
    /// Starts a server on a new data dir and a free port.
    pub fn start() -> SyncServer {
        Self::launch(None, &[])
    }

    /// Starts a server on a new data dir and a free port, with more flags of `serve`
    /// (`--max-frame-bytes 1048576`).
    pub fn start_with(flags: &[&str]) -> SyncServer {
        Self::launch(None, flags)
    }

    /// Starts a server serving wss:// with this certificate chain and key (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> SyncServer {
        Self::launch(Some((cert.to_path_buf(), key.to_path_buf())), &[])
    }

    fn launch(tls: Option<(PathBuf, PathBuf)>, flags: &[&str]) -> SyncServer {
        let tmp = tempfile::Builder::new()
            .prefix("crm-sync-server-")
            .tempdir()
            .expect("a temporary dir");
        let data_dir = tmp.path().join("data");
        let mut server = SyncServer {
            tmp,
            data_dir,
            child: None,
            addr: ([127, 0, 0, 1], 0).into(),
            tls,
            flags: flags.iter().map(|f| f.to_string()).collect(),
        };
        if let Err(e) = server.spawn("127.0.0.1:0") {
            panic!("crm-sync-server did not start: {e}");
        }
        server
    }

    /// Runs an admin subcommand of the server on its data dir (`user add ana`, `grant ana
    /// north`, ...), which must succeed; returns its stdout, trimmed.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(sync_server_bin())
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("crm-sync-server can be started");
        assert!(
            out.status.success(),
            "crm-sync-server {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Issues a token for `user` and returns it.
    pub fn token(&self, user: &str) -> String {
        let t = self.admin(&["token", "issue", user]);
        assert!(t.starts_with("crm_"), "a token starts with crm_: {t}");
        t
    }

    /// Book `north` with reps `ana` and `bruno` granted it, each on a new device; returns their
    /// devices (ana's, bruno's).
    pub fn north_team(&self) -> (Crm, Crm) {
        for args in [
            &["user", "add", "ana"][..],
            &["user", "add", "bruno"],
            &["book", "add", "north"],
            &["grant", "ana", "north"],
            &["grant", "bruno", "north"],
        ] {
            self.admin(args);
        }
        let ana = self.device("ana", "north", &self.token("ana"));
        let bruno = self.device("bruno", "north", &self.token("bruno"));
        (ana, bruno)
    }

    /// A new device of `user` in `book`, set up the way the README tells a rep to
    /// (`crm init --user U --book B --server URL --token T`), which restores what the server holds.
    pub fn device(&self, user: &str, book: &str, token: &str) -> Crm {
        let crm = Crm::new();
        crm.ok(&[
            "init",
            "--user",
            user,
            "--book",
            book,
            "--server",
            &self.url(),
            "--token",
            token,
        ]);
        crm
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The URL to give `crm init --server` and `crm sync --server`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", self.addr)
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the server wrote on stderr so far (all runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn log_file(&self) -> PathBuf {
        self.tmp.path().join("server.log")
    }

    /// True while the server process runs.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server with SIGKILL and reaps it. Panics if it had already died by itself.
    pub fn kill9(&mut self) {
        let Some(mut child) = self.child.take() else {
            panic!("kill9: the server is not running");
        };
        let exited_before = child.try_wait().ok().flatten();
        child.kill().expect("SIGKILL can be sent to the server");
        let status = child.wait().expect("the killed server can be reaped");
        assert!(
            exited_before.is_none(),
            "the server had already exited ({status}) before the kill:\n{}",
            self.log()
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "the server did not die of SIGKILL ({status}):\n{}",
                self.log()
            );
        }
    }

    /// Starts the server again on the same data dir, on a new free port (killing it first if it
    /// runs). Returns the new URL.
    pub fn restart(&mut self) -> String {
        self.stop();
        if let Err(e) = self.spawn("127.0.0.1:0") {
            panic!("crm-sync-server did not restart: {e}");
        }
        self.url()
    }

    /// Starts the server again on the same data dir and the same address (killing it first if it
    /// runs). Fails, leaving it stopped, when the port cannot be bound again (e.g. someone else
    /// took it in between): the caller then restarts on another port or skips what needs it.
    pub fn restart_on_same_port(&mut self) -> Result<(), String> {
        self.stop();
        let addr = self.addr.to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match self.spawn(&addr) {
                Ok(()) => return Ok(()),
                Err(e) if std::time::Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }

    /// The `/metrics` text, if the server answers (over plain HTTP: none from a TLS server).
    pub fn metrics(&self) -> Option<String> {
        use std::io::{Read, Write};
        let timeout = Some(std::time::Duration::from_secs(10));
        let mut tcp = std::net::TcpStream::connect(self.addr).ok()?;
        tcp.set_read_timeout(timeout).ok()?;
        tcp.set_write_timeout(timeout).ok()?;
        write!(
            tcp,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut response = String::new();
        tcp.read_to_string(&mut response).ok()?;
        let (_, body) = response.split_once("\r\n\r\n")?;
        Some(body.to_string())
    }

    /// The value of one line of `/metrics`, named with its labels if it has any
    /// (`crm_sync_limit_refusals_total{limit="operations"}`), if the server answers.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics()?.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the binary listening on `listen`; waits for its `listening on ADDR` line.
    fn spawn(&mut self, listen: &str) -> Result<(), String> {
        use std::io::BufRead;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .expect("the server log file can be opened");
        let level = std::env::var("CRM_SYNC_LOG").unwrap_or_else(|_| "warn".into());
        let mut command = Command::new(sync_server_bin());
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(&self.data_dir);
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        command.args(&self.flags);
        let mut child = command
            .env("CRM_SYNC_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("crm-sync-server can be started");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait();
            return Err(format!(
                "first line {line:?}, exit {status:?}, log:\n{}",
                self.log()
            ));
        };
        self.addr = addr
            .parse()
            .map_err(|e| format!("bad address in {line:?}: {e}"))?;
        // Keep reading stdout, so that a later line never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        self.stop();
    }
}
