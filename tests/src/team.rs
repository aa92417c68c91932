//! A team set up the way the README tells IT to: users with roles, books, grants and tokens on
//! the real `crm-sync-server`, and laptops (data dirs made with `crm init --user U --book B
//! --server URL --token T`), some of which keep `crm sync --watch` running.

use crate::{Crm, SyncServer, Watch};

/// A user of the team: their role, the book their new records go into, and their grant on it.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub name: &'static str,
    /// A manager sees and writes every book.
    pub manager: bool,
    /// The book of `crm init --book` (and of the rep's grant).
    pub home: &'static str,
    /// False for a read-only grant (`grant U B --read-only`).
    pub writes_home: bool,
}

impl Member {
    /// True when this user receives the records of `book`.
    pub fn reads(&self, book: &str) -> bool {
        self.manager || self.home == book
    }

    /// True when the server takes this user's changes to the records of `book`.
    pub fn writes(&self, book: &str) -> bool {
        self.manager || (self.writes_home && self.home == book)
    }
}

/// Creates `books` and the users of `team` on the server, with a grant on their home book for
/// each rep (`--read-only` when they may not write it) and the manager role for managers.
pub fn set_up(server: &SyncServer, books: &[&str], team: &[Member]) {
    for book in books {
        server.admin(&["book", "add", book]);
    }
    for m in team {
        let role = if m.manager { "manager" } else { "rep" };
        server.admin(&["user", "add", m.name, "--role", role]);
        if !m.manager {
            let mut grant = vec!["grant", m.name, m.home];
            if !m.writes_home {
                grant.push("--read-only");
            }
            server.admin(&grant);
        }
    }
}

/// A laptop: a data dir, and the `crm sync --watch` it may keep running (its output goes to
/// `watch.log` beside the data dir; it is killed with the laptop).
pub struct Laptop {
    pub crm: Crm,
    watch: Option<Watch>,
}

impl Laptop {
    pub fn new(crm: Crm) -> Laptop {
        Laptop { crm, watch: None }
    }

    /// Starts `crm sync --watch` on this data dir (with the server and token it remembers).
    pub fn start_watch(&mut self) {
        self.stop_watch();
        self.watch = Some(self.crm.watch());
    }

    /// Kills the watcher, if one was started.
    pub fn stop_watch(&mut self) {
        self.watch = None;
    }

    /// True when a watcher was started (and not stopped by [`Laptop::stop_watch`]).
    pub fn has_watch(&self) -> bool {
        self.watch.is_some()
    }

    /// The watcher's exit status, if one was started and has exited by itself.
    pub fn watch_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.watch.as_mut()?.exited()
    }

    /// Everything the watchers of this laptop printed so far.
    pub fn watch_log(&self) -> String {
        std::fs::read_to_string(self.crm.watch_log()).unwrap_or_default()
    }
}

/// The stdout a `crm` command printed, or why it failed (exit status and stderr).
pub fn outcome(out: &std::process::Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `crm init --user U --book B --server URL --token T` in a new data dir.
pub fn init(member: &Member, url: &str, token: &str) -> Result<Crm, String> {
    let crm = Crm::new();
    let out = crm.run(&[
        "init",
        "--user",
        member.name,
        "--book",
        member.home,
        "--server",
        url,
        "--token",
        token,
    ]);
    outcome(&out).map(|_| crm)
}
