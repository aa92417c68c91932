//! The team simulation: a seeded, randomized run of a real team on the real `crm-sync-server`
//! (users, books `north` and `south`, grants, tokens) and real `crm` processes.
//!
//! Max (a manager) and four reps work: Ana and Bruno in `north`, Carla and Duarte in `south`
//! (Duarte's grant is read-only, so he only reads). Bruno and Carla keep `crm sync --watch`
//! running; the others run `crm sync` now and then. Each step draws one operation from a seeded
//! RNG: adds, edits of the same and of different fields of one record on two laptops, notes typed
//! on two laptops at once, removal and restore, a manager's move between books, a manager's
//! settings change (and a rep's attempt, which must be refused on the laptop), a handover, a
//! server `kill -9` and restart, a backup while serving and a later restore, token revoke and
//! re-issue, and a laptop replaced by a fresh device.
//!
//! The test tracks what the server acknowledged: a change made on a laptop is acknowledged by a
//! later `crm sync` of that laptop that exits 0 (for a watcher's laptop too: the one-shot sync).
//! A restore keeps only what the backup held, but laptops re-offer what they hold, so a change is
//! legitimately lost only when the one laptop known to hold it was replaced while the server did
//! not hold it (never synced, or synced after the backup that was restored).
//!
//! At the end the server runs, each watcher must deliver a new record and receive an edit live,
//! then every laptop syncs until a round changes nothing, and the test checks: (1) every record a
//! user may see is on their laptop with the same `--json` as on the manager's; (2) every record
//! that a change not lost touched exists, and a field set by exactly one change (lost or not)
//! holds that change's value; a record removed once and never restored is removed; (3) no laptop
//! holds a record that was never in a book its user may read; (4) `crm conflicts --json` lists
//! the same for every record a user may see; and the workspace settings are the same everywhere.
//!
//! Every finding names the seed; the run continues to collect them, and the test fails at the end
//! listing them all, with the log of the operations of that seed on stderr.
//!
//! `cargo test -p crm-tests --test team` runs seeds 1 to 3 with 60 steps each. Replay one seed
//! with `CRM_SIM_SEED=N` (the operations are drawn the same way; what a watcher did meanwhile may
//! differ); `CRM_SIM_STEPS=N` sets the steps per seed, `CRM_SIM_SEEDS=K` runs K seeds from
//! `CRM_SIM_SEED` (default 1). A longer run:
//! `CRM_SIM_SEED=100 CRM_SIM_SEEDS=20 CRM_SIM_STEPS=200 cargo test -p crm-tests --test team -- --nocapture`.

use crm_tests::team::{self, outcome, Laptop, Member};
use crm_tests::{check_failure, wait_for, SyncServer};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

mod check;
mod failures;
mod probe;
mod work;

const BOOKS: [&str; 2] = ["north", "south"];

const TEAM: [Member; 5] = [
    Member {
        name: "max",
        manager: true,
        home: "north",
        writes_home: true,
    },
    Member {
        name: "ana",
        manager: false,
        home: "north",
        writes_home: true,
    },
    Member {
        name: "bruno",
        manager: false,
        home: "north",
        writes_home: true,
    },
    Member {
        name: "carla",
        manager: false,
        home: "south",
        writes_home: true,
    },
    Member {
        name: "duarte",
        manager: false,
        home: "south",
        writes_home: false,
    },
];

/// The members (by index in [`TEAM`]) who keep `crm sync --watch` running.
const WATCHERS: [usize; 2] = [2, 3];
const MANAGER: usize = 0;

/// How long a change may take to travel live (through a watcher) before it counts as stuck.
const LIVE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Org,
    Contact,
    Case,
    Activity,
}

const KINDS: [Kind; 4] = [Kind::Org, Kind::Contact, Kind::Case, Kind::Activity];

impl Kind {
    fn cmd(self) -> &'static str {
        match self {
            Kind::Org => "org",
            Kind::Contact => "contact",
            Kind::Case => "case",
            Kind::Activity => "activity",
        }
    }

    /// The text fields the simulation edits: each is `--FIELD` on the command line and `FIELD`
    /// in `show --json`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Org => &["name", "industry", "region", "notes"],
            Kind::Contact => &["name", "title", "department", "region", "notes"],
            Kind::Case => &["title", "region", "notes"],
            Kind::Activity => &["subject", "location", "notes"],
        }
    }
}

/// Keys of `show --json` that are views of other records (a user who may read fewer books
/// legitimately sees fewer of them); they are compared only between users who read the same books.
const VIEWS_OF_OTHERS: [&str; 5] = [
    "activities",
    "cases",
    "contacts",
    "timeline",
    "relationships",
];

/// One change made on one laptop.
struct Op {
    step: usize,
    /// The laptop ([`Device::id`]) it was made on.
    device: usize,
    /// The record ("settings" for the workspace settings) and the fields it set, with the value
    /// `show --json` must print when nothing else touched the field.
    record: String,
    fields: Vec<(&'static str, Value)>,
    /// A `crm sync` of its laptop succeeded after it, and the server has not been restored to a
    /// backup older than that since.
    acked: bool,
    /// Its laptop was replaced while the server did not hold it: it may be gone.
    lost: bool,
}

struct Record {
    kind: Kind,
    /// The book the last move put it in (or its first).
    book: &'static str,
    /// Every book it was ever in.
    books_ever: BTreeSet<&'static str>,
    moved: bool,
}

struct Device {
    /// Unique over the run: a replaced laptop's successor gets a new one.
    id: usize,
    member: usize,
    laptop: Laptop,
    /// The token this laptop uses.
    token: String,
    /// Passed to the next `crm sync` until one succeeds (`--server`, `--token`).
    pending_server: Option<String>,
    pending_token: bool,
    /// Its watcher may have stopped for a reason the test caused (a revoked token).
    watch_may_die: bool,
}

struct Backup {
    file: PathBuf,
    acked: BTreeSet<usize>,
    valid_tokens: BTreeSet<String>,
}

struct Sim {
    seed: u64,
    rng: StdRng,
    server: SyncServer,
    up: bool,
    url: String,
    /// Every token issued, by user, and those the server takes now.
    issued: Vec<(&'static str, String)>,
    valid_tokens: BTreeSet<String>,
    devices: Vec<Device>,
    next_device: usize,
    records: BTreeMap<String, Record>,
    ops: Vec<Op>,
    backups: Vec<Backup>,
    scratch: tempfile::TempDir,
    step: usize,
    log: Vec<String>,
    findings: Vec<String>,
    started: std::time::Instant,
    reported: BTreeSet<String>,
    /// A live delivery already failed this run (each further try would only wait as long again).
    live_broken: bool,
    /// The server was restored from a backup and not every laptop has synced since: a rep's
    /// laptop may relay a manager's move the restored server lost, which it refuses from a rep
    /// until the manager's laptop sends it again (`crm sync` exits 3 meanwhile).
    restored: bool,
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|e| panic!("{name}={v} is not a number: {e}")),
    )
}

#[test]
fn a_team_works_through_failures_and_every_acknowledged_change_survives() {
    let first = env_number("CRM_SIM_SEED").unwrap_or(1);
    let seeds = env_number("CRM_SIM_SEEDS").unwrap_or(if std::env::var("CRM_SIM_SEED").is_ok() {
        1
    } else {
        3
    });
    let steps = env_number("CRM_SIM_STEPS").unwrap_or(60) as usize;
    let mut failed = Vec::new();
    for seed in first..first + seeds {
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(|| run(seed, steps));
        let findings = match result {
            Ok(findings) => findings,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                vec![format!("seed {seed}: the run stopped: {msg}")]
            }
        };
        eprintln!(
            "team simulation: seed {seed}, {steps} steps, {} findings, {:.1} s",
            findings.len(),
            started.elapsed().as_secs_f64()
        );
        failed.extend(findings);
    }
    assert!(
        failed.is_empty(),
        "the team simulation found {} problems (replay one seed with CRM_SIM_SEED=N \
         CRM_SIM_STEPS={steps}; its operations are logged on stderr):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Runs one seed; returns its findings (each naming the seed), after printing the operation log
/// on stderr when there are any.
fn run(seed: u64, steps: usize) -> Vec<String> {
    let mut sim = Sim::new(seed);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for step in 1..=steps {
            sim.step = step;
            sim.random_step();
            sim.mind_watchers();
        }
        sim.step = steps + 1;
        sim.finish();
    }));
    if let Err(panic) = outcome {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let step = sim.step;
        sim.finding(format!("step {step}: panicked: {msg}"));
    }
    if !sim.findings.is_empty() {
        eprintln!("--- seed {seed}: operations ---");
        for line in &sim.log {
            eprintln!("{line}");
        }
        eprintln!("--- seed {seed}: findings ---");
        for f in &sim.findings {
            eprintln!("{f}");
        }
    }
    std::mem::take(&mut sim.findings)
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let server = SyncServer::start();
        team::set_up(&server, &BOOKS, &TEAM);
        let url = server.url();
        let mut sim = Sim {
            seed,
            rng: StdRng::seed_from_u64(seed),
            server,
            up: true,
            url,
            issued: Vec::new(),
            valid_tokens: BTreeSet::new(),
            devices: Vec::new(),
            next_device: 0,
            records: BTreeMap::new(),
            ops: Vec::new(),
            backups: Vec::new(),
            scratch: tempfile::Builder::new()
                .prefix("crm-team-sim-")
                .tempdir()
                .expect("a temporary dir"),
            step: 0,
            log: Vec::new(),
            findings: Vec::new(),
            reported: BTreeSet::new(),
            live_broken: false,
            restored: false,
            started: std::time::Instant::now(),
        };
        for (member, m) in TEAM.iter().enumerate() {
            let token = sim.issue(m.name);
            let crm = team::init(m, &sim.url, &token)
                .unwrap_or_else(|e| panic!("seed {seed}: crm init for {} failed: {e}", m.name));
            let id = sim.new_device_id();
            sim.devices.push(Device {
                id,
                member,
                laptop: Laptop::new(crm),
                token,
                pending_server: None,
                pending_token: false,
                watch_may_die: false,
            });
        }
        for w in WATCHERS {
            sim.devices[w].laptop.start_watch();
        }
        sim
    }

    fn new_device_id(&mut self) -> usize {
        self.next_device += 1;
        self.next_device
    }

    fn note(&mut self, line: String) {
        let at = self.started.elapsed().as_secs_f64();
        self.log
            .push(format!("step {} ({at:.1} s): {line}", self.step));
    }

    /// Records a problem once (the same text at a later step is only logged).
    fn finding(&mut self, what: String) {
        self.log.push(format!("  FINDING: {what}"));
        if self.reported.insert(what.clone()) {
            let line = format!(
                "seed {} step {}: {what} (replay: CRM_SIM_SEED={})",
                self.seed, self.step, self.seed
            );
            self.findings.push(line);
        }
    }

    fn name(&self, d: usize) -> &'static str {
        TEAM[self.devices[d].member].name
    }

    fn member(&self, d: usize) -> &'static Member {
        &TEAM[self.devices[d].member]
    }

    fn issue(&mut self, user: &'static str) -> String {
        let token = self.server.token(user);
        self.issued.push((user, token.clone()));
        self.valid_tokens.insert(token.clone());
        token
    }

    fn token_valid(&self, d: usize) -> bool {
        self.valid_tokens.contains(&self.devices[d].token)
    }

    /// Runs `crm ARGS` on laptop `d`; a failure is a finding (None).
    fn crm(&mut self, d: usize, args: &[&str]) -> Option<String> {
        let out = self.devices[d].laptop.crm.run(args);
        match outcome(&out) {
            Ok(stdout) => Some(stdout),
            Err(e) => {
                let who = self.name(d);
                self.finding(format!("{who}: crm {args:?} failed: {e}"));
                None
            }
        }
    }

    fn show(&self, d: usize, kind: Kind, id: &str) -> Option<Value> {
        let out = self.devices[d]
            .laptop
            .crm
            .run(&["--json", kind.cmd(), "show", id]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The ids of `kind` on laptop `d`, sorted (so that the draws replay).
    fn ids(&self, d: usize, kind: Kind) -> Vec<String> {
        let mut ids = self.devices[d].laptop.crm.ids(kind.cmd());
        ids.sort();
        ids
    }

    /// Records a change; returns its index.
    fn record_op(&mut self, d: usize, record: &str, fields: Vec<(&'static str, Value)>) -> usize {
        self.ops.push(Op {
            step: self.step,
            device: self.devices[d].id,
            record: record.to_string(),
            fields,
            acked: false,
            lost: false,
        });
        self.ops.len() - 1
    }

    /// `crm sync` on laptop `d` (with `--server`/`--token` while they are new). It must succeed
    /// exactly when the server runs and takes the laptop's token; success acknowledges every
    /// change made on the laptop. Returns the `--json` report of a successful sync.
    fn sync(&mut self, d: usize) -> Option<Value> {
        let expect_ok = self.up && self.token_valid(d);
        let mut args = vec!["--json".to_string(), "sync".to_string()];
        if let Some(url) = &self.devices[d].pending_server {
            args.extend(["--server".to_string(), url.clone()]);
        }
        if self.devices[d].pending_token {
            args.extend(["--token".to_string(), self.devices[d].token.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.devices[d].laptop.crm.run(&args);
        let who = self.name(d);
        if !expect_ok {
            let why = if self.up {
                "its token is revoked"
            } else {
                "the server is down"
            };
            if out.status.success() {
                self.finding(format!("{who}: crm sync succeeded although {why}"));
            } else if let Err(e) = check_failure(&out) {
                self.finding(format!(
                    "{who}: crm sync failed badly ({why}): {e}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            self.note(format!("{who}: crm sync fails ({why})"));
            return None;
        }
        // Exit code 3: synced, but the server refused the changes of the records it names.
        let report = match outcome(&out) {
            Ok(stdout) => serde_json::from_str::<Value>(&stdout).unwrap_or(Value::Null),
            Err(_) if out.status.code() == Some(3) => {
                serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
            }
            Err(e) => {
                self.finding(format!("{who}: crm sync failed: {e}"));
                return None;
            }
        };
        let refused_ids: BTreeSet<String> = report["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| g["cause"] == "refused")
            .flat_map(|g| g["records"].as_array().into_iter().flatten())
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        let refused = report["refused"].as_u64().unwrap_or(0);
        if out.status.code() == Some(3) && refused == 0 {
            self.finding(format!(
                "{who}: crm sync exited 3 but its report names no refusal"
            ));
        }
        let dev = &mut self.devices[d];
        dev.pending_server = None;
        dev.pending_token = false;
        let id = dev.id;
        for op in self.ops.iter_mut().filter(|op| op.device == id) {
            op.acked |= !refused_ids.contains(&op.record);
        }
        self.note(format!(
            "{who}: crm sync: created {}, updated {}, refused {refused} {refused_ids:?}, unshared {}",
            report["created"], report["updated"], report["unshared"]
        ));
        // A record a manager moved to a book this user may not read, which the user's laptop
        // changed since (a handover, an edit of its stale copy), is rightly refused: their
        // changes stay on the laptop, named by `crm sync`.
        let member = self.member(d);
        let moved_away = |id: &String| {
            self.records
                .get(id)
                .is_some_and(|r| r.moved && !member.reads(r.book))
        };
        let refused_wrongly = refused_ids.iter().filter(|id| !moved_away(id)).count();
        if refused_wrongly > 0 && !self.restored {
            self.finding(format!(
                "{who}: the server refused {refused} records {refused_ids:?}, although \
                 {who} changed only records of books they may write"
            ));
        }
        Some(report)
    }

    /// Restarts watchers that should run: after a new token or server address took, and checks
    /// that none stopped by itself otherwise.
    fn mind_watchers(&mut self) {
        for w in WATCHERS {
            if let Some(status) = self.devices[w].laptop.watch_exited() {
                if !self.devices[w].watch_may_die {
                    let who = self.name(w);
                    let log = self.devices[w].laptop.watch_log();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    self.finding(format!(
                        "{who}: crm sync --watch stopped by itself ({status}); last lines: {tail:?}"
                    ));
                }
                self.devices[w].laptop.stop_watch();
            }
            let dev = &self.devices[w];
            let settled = dev.pending_server.is_none() && !dev.pending_token;
            if !dev.laptop.has_watch() && settled && self.token_valid(w) {
                self.devices[w].watch_may_die = false;
                self.devices[w].laptop.start_watch();
                let who = self.name(w);
                self.note(format!("{who}: crm sync --watch started"));
            }
        }
    }

    fn random_step(&mut self) {
        if !self.up {
            // While the server is down the team keeps working offline, and IT brings it back.
            match self.rng.random_range(0..10) {
                0..=2 => self.server_up(),
                3..=5 => self.add(),
                6..=7 => self.edit(),
                _ => {
                    let d = self.rng.random_range(0..self.devices.len());
                    self.sync(d);
                }
            }
            return;
        }
        match self.rng.random_range(0..100) {
            0..=13 => self.add(),
            14..=27 => self.edit(),
            28..=34 => self.concurrent_edit(false),
            35..=38 => self.concurrent_edit(true),
            39..=42 => self.remove_or_restore(),
            43..=46 => self.manager_moves(),
            47..=48 => self.manager_changes_settings(),
            49 => self.rep_tries_settings(),
            50..=51 => self.handover(),
            52..=67 => {
                let d = self.rng.random_range(0..self.devices.len());
                self.sync(d);
            }
            68..=72 => self.server_down(),
            73..=75 => self.backup(),
            76..=77 => self.restore(),
            78..=80 => self.revoke(),
            81..=84 => self.reissue(),
            85..=87 => self.replace_laptop(),
            88..=89 => self.live_probe(),
            _ => {
                // Everyone syncs now and then in one sitting (a team meeting).
                for d in 0..self.devices.len() {
                    self.sync(d);
                }
            }
        }
    }

    /// A laptop whose user may write: anyone but the read-only rep.
    fn writer(&mut self) -> usize {
        let writers: Vec<usize> = (0..self.devices.len())
            .filter(|&d| self.member(d).writes_home)
            .collect();
        *writers.choose(&mut self.rng).expect("a writer")
    }

    fn value(&mut self, field: &str, d: usize) -> String {
        let who = self.name(d);
        let n: u32 = self.rng.random_range(0..1000);
        format!("{field} {who} s{} {n}", self.step)
    }
}
