//! The test harness of the workspace: runs the real `crm` and `crm-sync-server` binaries on
//! temporary data dirs. The end-to-end tests (`tests/tests/`) and the server's own tests
//! (`sync-server/tests/`, as a dev-dependency) share it.
//!
//! Besides [`Crm`] and [`SyncServer`]: [`wait_for`] and [`wait_until`] poll instead of sleeping,
//! [`peer`] is a raw protocol peer (and the one `join` message builder), [`bomb`] a decompression
//! bomb, [`team`] a team set up the way the README tells IT to, [`smtp`] an SMTP server.
//!
//! [`Crm`] owns one temporary data dir and runs commands in it; [`SyncServer`] runs the sync
//! server on a temporary data dir and a free port, and can SIGKILL and restart it. The binaries are
//! found next to the running test executable (in the same `target/<profile>` dir) and each is
//! built once, with `cargo build -p crm-client --bin crm` (`-p crm-sync-server --bin
//! crm-sync-server`), only when it is missing there, or older than its sources (then a failed
//! rebuild, e.g. of an edit in progress, leaves the old one).

pub mod bomb;
pub mod peer;
mod server;
pub mod smtp;
pub mod team;
mod wait;

pub use server::SyncServer;
pub use wait::{wait_for, wait_until};
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

/// Copies the files under `from` into `to` (created), recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the copy's folder can be made");
    for entry in std::fs::read_dir(from).expect("the data dir can be listed") {
        let entry = entry.expect("a data dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("an entry's type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a data dir file can be copied");
        }
    }
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

    /// A copy of `other`'s data dir in a new temporary folder, file by file, as a backup restored
    /// on another laptop (or a data dir copied with `cp -r`) would be. `other` must be idle.
    pub fn copy_of(other: &Crm) -> Crm {
        let crm = Crm::new();
        copy_tree(&other.dir, &crm.dir);
        crm
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

/// Runs `cmd` (e.g. [`Crm::command`] with its arguments) with `input` on its stdin.
pub fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm can be started");
    if let Some(mut stdin) = child.stdin.take() {
        // A command that stops reading early closes the pipe: not this helper's failure.
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("crm ends")
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
