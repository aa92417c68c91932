//! The end-to-end test harness: runs the real `crm` and `crm-sync-server` binaries on temporary
//! data dirs.
//!
//! [`Crm`] owns one temporary data dir and runs commands in it; [`SyncServer`] runs the sync
//! server on a temporary data dir and a free port, and can SIGKILL and restart it. The binaries are
//! found next to the running test executable (in the same `target/<profile>` dir) and each is
//! built once, with `cargo build -p crm-client --bin crm` (`-p crm-sync-server --bin
//! crm-sync-server`), only when it is missing there, or older than its sources (then a failed
//! rebuild, e.g. of an edit in progress, leaves the old one).

pub mod team;
pub mod web_ui;

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The path of the `crm` binary of this build (built on first use if missing).
pub fn crm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        find_or_build(
            "crm-client",
            "crm",
            &[
                "client/src",
                "client/Cargo.toml",
                "shared/src",
                "shared/Cargo.toml",
                "Cargo.lock",
            ],
        )
    })
}

/// The path of the `crm-sync-server` binary of this build (built on first use if missing, or
/// rebuilt when older than the server's sources, like [`crm_bin`]).
pub fn sync_server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        find_or_build(
            "crm-sync-server",
            "crm-sync-server",
            &[
                "sync-server/src",
                "sync-server/Cargo.toml",
                "shared/src",
                "shared/Cargo.toml",
                "Cargo.lock",
            ],
        )
    })
}

/// The binary `bin` of `package` in the profile dir of the running test executable: built when
/// missing; rebuilt when older than `sources` (workspace-relative), keeping the old one when the
/// rebuild fails.
fn find_or_build(package: &str, bin: &str, sources: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test executable");
    let profile_dir = exe
        .ancestors()
        .find(|p| {
            matches!(
                p.file_name().and_then(OsStr::to_str),
                Some("debug" | "release")
            )
        })
        .unwrap_or_else(|| panic!("{} is not inside a debug or release dir", exe.display()))
        .to_path_buf();
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let status = build(&profile_dir, package, bin);
        assert!(
            status.success(),
            "cargo build -p {package} failed: {status}"
        );
    } else if is_stale(&path, sources) {
        let status = build(&profile_dir, package, bin);
        if !status.success() {
            // Someone's edit in progress does not build: test the last good binary.
            eprintln!(
                "warning: cannot rebuild {bin} ({status}); testing {}",
                path.display()
            );
        }
    }
    assert!(
        path.exists(),
        "building {bin} did not produce {}",
        path.display()
    );
    path
}

/// True when a file under `sources` (workspace-relative) is newer than `bin`, as when only this
/// crate's tests were built after an edit (`cargo test -p crm-tests`).
fn is_stale(bin: &Path, sources: &[&str]) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_file() {
            return meta.modified().ok();
        }
        std::fs::read_dir(path)
            .ok()?
            .flatten()
            .filter_map(|e| newest(&e.path()))
            .max()
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies inside the workspace");
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    let sources = sources
        .iter()
        .filter_map(|p| newest(&workspace.join(p)))
        .max();
    matches!((built, sources), (Some(b), Some(s)) if s > b)
}

/// Builds `bin` of `package` into the target dir that holds `profile_dir`.
fn build(profile_dir: &Path, package: &str, bin: &str) -> std::process::ExitStatus {
    let target_dir = profile_dir
        .parent()
        .expect("a profile dir lies inside a target dir");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies inside the workspace");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "-p", package, "--bin", bin, "--target-dir"])
        .arg(target_dir);
    if profile_dir.file_name() == Some(OsStr::new("release")) {
        cmd.arg("--release");
    }
    cmd.status()
        .unwrap_or_else(|e| panic!("cargo can be started to build {bin}: {e}"))
}

/// One data dir (a replica) in a temporary folder, and the commands to run in it.
pub struct Crm {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Default for Crm {
    fn default() -> Self {
        Self::new()
    }
}

impl Crm {
    /// A data dir that does not exist yet (no `crm init`).
    pub fn new() -> Crm {
        let tmp = tempfile::Builder::new()
            .prefix("crm-test-")
            .tempdir()
            .expect("a temporary dir");
        let dir = tmp.path().join("data");
        Crm { _tmp: tmp, dir }
    }

    /// A data dir initialised for `user`.
    pub fn init(user: &str) -> Crm {
        let crm = Crm::new();
        crm.ok(&["init", "--user", user]);
        crm
    }

    /// A data dir initialised for `user` with `crm init --server URL`, which restores everything
    /// from the server; returns it with what `init --json` printed.
    pub fn init_with_server(user: &str, url: &str) -> (Crm, Value) {
        let crm = Crm::new();
        let out = crm.json(&["init", "--user", user, "--server", url]);
        (crm, out)
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The temporary folder holding the data dir (free for other files of a test).
    pub fn scratch(&self) -> &Path {
        self._tmp.path()
    }

    /// The SQLite store file of the data dir.
    pub fn store_file(&self) -> PathBuf {
        self.dir.join("crm.sqlite3")
    }

    /// The bytes of the store file.
    pub fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(self.store_file()).expect("the store file is readable")
    }

    /// A `crm` command with no data dir set and `CRM_HOME` removed from its environment.
    pub fn bare_command() -> Command {
        let mut cmd = Command::new(crm_bin());
        cmd.env_remove("CRM_HOME")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// A `crm --data-dir DIR` command.
    pub fn command(&self) -> Command {
        let mut cmd = Self::bare_command();
        cmd.arg("--data-dir").arg(&self.dir);
        cmd
    }

    /// Runs `crm --data-dir DIR ARGS...`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("crm can be started")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_ok(args, self.run(args))
    }

    /// Runs a command with `--json` that must succeed; returns its output parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("crm {all:?} printed invalid JSON ({e}):\n{out}"))
    }

    /// Runs an `add` (or any command printing one id) and returns the id.
    pub fn add(&self, args: &[&str]) -> String {
        let out = self.ok(args);
        let id = out.trim_end_matches('\n');
        assert!(
            is_id(id),
            "crm {args:?} should print exactly a new id, printed {out:?}"
        );
        id.to_string()
    }

    /// Runs a command that must fail cleanly; returns its stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        expect_clean_failure(args, self.run(args))
    }

    /// Every organization, contact, case and activity (removed ones too) and every conflict,
    /// as `--json` prints them: two replicas that agree print the same snapshot.
    pub fn snapshot(&self) -> Value {
        let list = |what: &str| self.json(&[what, "list", "--deleted", "--limit", "100000"]);
        serde_json::json!({
            "orgs": list("org"),
            "contacts": list("contact"),
            "cases": list("case"),
            "activities": list("activity"),
            "conflicts": self.json(&["conflicts"]),
        })
    }

    /// The ids of the rows of `crm KIND list --deleted` (all of them).
    pub fn ids(&self, kind: &str) -> Vec<String> {
        rows(&self.json(&[kind, "list", "--deleted", "--limit", "100000"]))
            .iter()
            .map(|r| r["id"].as_str().expect("every row has an id").to_string())
            .collect()
    }
}

/// A `crm sync --watch` running on a data dir ([`Crm::watch`]): what it prints (stdout and
/// stderr) goes to a log file beside the data dir, kept across watches; killed when dropped.
pub struct Watch {
    child: std::process::Child,
    log: PathBuf,
}

impl Watch {
    /// Everything the watches of this data dir printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status, if it has exited by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Crm {
    /// Starts `crm sync --watch` on this data dir (with the server and token it remembers).
    pub fn watch(&self) -> Watch {
        let log = self.watch_log();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the watch log can be opened");
        let err = file.try_clone().expect("the watch log can be shared");
        let child = self
            .command()
            .args(["sync", "--watch"])
            .stdout(file)
            .stderr(err)
            .spawn()
            .expect("crm sync --watch can be started");
        Watch { child, log }
    }

    /// The file the watches of this data dir print to.
    pub fn watch_log(&self) -> PathBuf {
        self.scratch().join("watch.log")
    }
}

/// The rows of a `list --json` output.
pub fn rows(list: &Value) -> &Vec<Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list prints a JSON array, not {list}"))
}

/// The names of every contact `crm` lists, sorted.
pub fn contact_names(crm: &Crm) -> Vec<String> {
    let mut names: Vec<String> = rows(&crm.json(&["contact", "list", "--limit", "100000"]))
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?").to_string())
        .collect();
    names.sort();
    names
}

/// True when `s` looks like a record id (base58 of 20 bytes).
pub fn is_id(s: &str) -> bool {
    (20..=30).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Checks that a command succeeded without a panic; returns its stdout.
pub fn expect_ok(args: &[&str], out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "crm {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "crm {args:?} panicked:\n{stderr}"
    );
    stdout
}

/// Checks that a command failed the way bad input must fail: a non-zero exit code (not a panic,
/// not a signal), no panic message, and either one line `crm: error: ...` or clap's usage error.
/// Returns stderr.
pub fn expect_clean_failure(args: &[&str], out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "crm {args:?} should have failed, but succeeded:\nstdout: {stdout}\nstderr: {stderr}"
    );
    if let Err(problem) = check_failure(&out) {
        panic!("crm {args:?} did not fail cleanly: {problem}\nstdout: {stdout}\nstderr: {stderr}");
    }
    stderr
}

/// Why a failed command's output is not a clean failure (None: it is).
pub fn check_failure(out: &Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err("it panicked".into());
    }
    match out.status.code() {
        None => return Err(format!("it was killed by a signal ({})", out.status)),
        Some(101) => return Err("exit code 101 is a panic".into()),
        Some(0) => return Err("it succeeded".into()),
        Some(_) => {}
    }
    let text = stderr.strip_suffix('\n').unwrap_or(&stderr);
    if text.starts_with("crm: error: ") {
        if text.contains('\n') || text.contains('\r') {
            return Err("the error message is more than one line".into());
        }
        if text.trim_start_matches("crm: error: ").trim().is_empty() {
            return Err("the error message is empty".into());
        }
        return Ok(());
    }
    // clap's usage error: `error: ...`, then usage and a hint; or, for a missing subcommand,
    // the help with its usage line. Both exit with 2.
    let usage = (text.starts_with("error: ")
        && (text.contains("Usage:") || text.contains("For more information")))
        || text.contains("\nUsage: crm");
    if usage {
        if out.status.code() != Some(2) {
            return Err(format!("a usage error exits with 2, not {}", out.status));
        }
        return Ok(());
    }
    Err("stderr is neither `crm: error: ...` on one line nor a usage error".into())
}

/// The message of a `crm: error: MESSAGE` line.
pub fn message(stderr: &str) -> &str {
    stderr
        .trim_end()
        .strip_prefix("crm: error: ")
        .unwrap_or(stderr)
}

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
}

impl SyncServer {
    /// Starts a server on a new data dir and a free port.
    pub fn start() -> SyncServer {
        Self::start_with(None)
    }

    /// Starts a server serving wss:// with this certificate chain and key (PEM files).
    pub fn start_tls(cert: &Path, key: &Path) -> SyncServer {
        Self::start_with(Some((cert.to_path_buf(), key.to_path_buf())))
    }

    fn start_with(tls: Option<(PathBuf, PathBuf)>) -> SyncServer {
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

    /// The value of a counter or gauge of `/metrics` (without labels), if the server answers
    /// (over plain HTTP: none from a TLS server).
    pub fn metric(&self, name: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let timeout = Some(std::time::Duration::from_secs(5));
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
        body.lines().find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok())?
        })
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

/// Polls `done` every 100 ms until it holds or `limit` passes; false when it timed out.
pub fn wait_for(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}
