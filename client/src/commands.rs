//! One function per command. Each opens the store, does its work in one transaction when it
//! writes, and prints the result as a table or as JSON.

mod activity;
mod agenda;
mod agent;
pub use agent::AgentArgs;
mod bulk;
mod campaign;
pub use campaign::CampaignCommand;
mod case;
mod changes;
mod config;
mod contact;
mod credentials;
mod deliver;
mod demo;
pub(crate) mod duplicates;
mod edits;
mod export;
mod handover;
mod import;
mod init;
mod log;
mod mail_config;
pub use mail_config::SmtpArgs;
mod merge;
mod merge_records;
mod r#move;
mod network;
mod org;
mod page;
pub mod price_list;
pub mod product;
pub mod quote;
mod rebuild;
mod record;
mod report;
mod review;
mod roles;
mod rows;
mod schedule;
pub use schedule::ScheduleCommand;
mod series;
mod settings;
pub use settings::company as settings_company;
mod sync;
pub use sync::{RecordsRefused, EXIT_REFUSED};
mod timeline;
mod view;

use crate::cli::{Cli, Command};
use crate::store::Store;
use anyhow::Result;
use crm_shared::DocumentId;
use rand::RngCore;
use std::path::PathBuf;

/// What every command gets: where the data is, how to print, and the time.
pub struct Ctx {
    pub data_dir: PathBuf,
    pub json: bool,
    pub now_ms: i64,
    pub today: chrono::NaiveDate,
    /// Now in local time, for reading the dates people type (`tomorrow 10:00`).
    pub now_local: chrono::NaiveDateTime,
}

impl Ctx {
    pub fn new(cli: &Cli) -> Result<Ctx> {
        let data_dir = match &cli.data_dir {
            Some(d) => d.clone(),
            None => dirs::data_dir().map(|d| d.join("crm")).ok_or_else(|| {
                anyhow::anyhow!(
                    "no data directory on this system: pass --data-dir DIR or set CRM_HOME"
                )
            })?,
        };
        let (now_ms, now_local) = now()?;
        Ok(Ctx {
            data_dir,
            json: cli.json,
            now_ms,
            today: now_local.date(),
            now_local,
        })
    }

    /// Opens the store, rebuilding the read model with a progress bar if it is stale.
    pub fn open(&self) -> Result<Store> {
        let mut bar: Option<indicatif::ProgressBar> = None;
        let mut progress = |done: u64, total: u64| {
            let b = bar.get_or_insert_with(|| {
                eprintln!("Rebuilding the read model from {total} documents...");
                indicatif::ProgressBar::new(total)
            });
            b.set_position(done);
        };
        let mut store = Store::open(&self.data_dir, &mut progress)?;
        store.dates.now = self.now_local;
        Ok(store)
    }
}

/// The environment variable that fixes "now" (local time, `2026-06-30T12:00`), for tests and
/// demos that need stage histories and report dates to be the same on every run.
pub const NOW_VAR: &str = "CRM_NOW";

/// Now, in ms since the epoch and in local time: the clock's, or `CRM_NOW`'s.
pub(crate) fn now() -> Result<(i64, chrono::NaiveDateTime)> {
    use chrono::TimeZone;
    match std::env::var(NOW_VAR) {
        Ok(text) if !text.trim().is_empty() => {
            let dt = crm_shared::values::parse_datetime(&text)
                .map_err(|e| anyhow::anyhow!("{NOW_VAR}: {e}"))?;
            let local = chrono::Local
                .from_local_datetime(&dt)
                .earliest()
                .ok_or_else(|| anyhow::anyhow!("{NOW_VAR}: {text} does not exist in local time"))?;
            Ok((local.timestamp_millis(), dt))
        }
        _ => {
            let now = chrono::Local::now();
            Ok((now.timestamp_millis(), now.naive_local()))
        }
    }
}

/// Milliseconds since the epoch of a local date-time.
pub fn local_ms(dt: chrono::NaiveDateTime) -> Option<i64> {
    use chrono::TimeZone;
    chrono::Local
        .from_local_datetime(&dt)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// A new random record id.
pub fn new_id() -> DocumentId {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    DocumentId::from_random(bytes)
}

/// Runs the command; what it noted for stderr is told only if it succeeds.
pub fn run(cli: Cli) -> Result<()> {
    let done = dispatch(cli);
    if done.is_ok() {
        crate::output::flush_notes();
    }
    done
}

fn dispatch(cli: Cli) -> Result<()> {
    let ctx = Ctx::new(&cli)?;
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Org(c) => org::run(&ctx, c),
        Command::Contact(c) => contact::run(&ctx, c),
        Command::Case(c) => case::run(&ctx, c),
        Command::Activity(c) => activity::run(&ctx, c),
        Command::PriceList(c) => price_list::run(&ctx, c),
        Command::Product(c) => product::run(&ctx, c),
        Command::Quote(c) => quote::run(&ctx, c),
        Command::Agenda(a) => agenda::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Relate(a) => contact::relate(&ctx, a),
        Command::Conflicts => review::conflicts(&ctx),
        Command::Resolve(a) => review::resolve(&ctx, a),
        Command::History(a) => review::history(&ctx, a),
        Command::Move(a) => r#move::run(&ctx, a),
        Command::Config(a) => config::run(&ctx, a),
        Command::Sync(a) => sync::run(&ctx, a),
        Command::Merge(a) => merge::run(&ctx, a),
        Command::DemoData(a) => demo::run(&ctx, a),
        Command::Rebuild => rebuild::run(&ctx),
        Command::Settings(c) => settings::run(&ctx, c),
        Command::Handover(a) => handover::run(&ctx, a),
        Command::Report(a) => report::run(&ctx, a),
        Command::View(a) => view::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Duplicates(a) => duplicates::run(&ctx, a),
        Command::MergeRecords(a) => merge_records::run(&ctx, a),
        Command::Unmerge(a) => merge_records::unmerge(&ctx, a),
        Command::Ui(a) => crate::ui::run(&ctx, a),
        Command::Schedule(c) => schedule::run(&ctx, c),
        Command::Agent(a) => agent::run(&ctx, a),
        Command::Campaign(c) => campaign::run(&ctx, c),
    }
}

impl Ctx {
    /// The same data dir and output, at the time of now (a long-running command's each request).
    pub fn refreshed(&self) -> Result<Ctx> {
        let (now_ms, now_local) = now()?;
        Ok(Ctx {
            data_dir: self.data_dir.clone(),
            json: self.json,
            now_ms,
            today: now_local.date(),
            now_local,
        })
    }
}

/// What the web UI (`crate::ui`) shares with the commands: one product, two faces.
pub(crate) mod shared {
    pub(crate) use super::activity::{
        edits as activity_edits, needs_a_time as activity_needs_a_time,
    };
    pub(crate) use super::agenda::agenda;
    pub(crate) use super::case::{
        add_edits as case_add_edits, edits as case_edits, move_case, playbook,
    };
    pub(crate) use super::contact::{
        cases_of as contact_cases, edits as contact_edits, list as contact_list,
    };
    pub(crate) use super::network::network;
    pub(crate) use super::org::{edits as org_edits, list as org_list, members as org_members};
    pub(crate) use super::record::{field_rows, save_edit, save_new};
    pub(crate) use super::report::Batch as ReportBatch;
    pub(crate) use super::review::resolve_field;
    pub(crate) use super::rows::{query, Row};
    pub(crate) use super::settings::{
        currency_edits, grade_edits, percent_value, rate_edits,
        require_manager as may_change_settings, save as save_settings, step_edits,
    };
    pub(crate) use super::sync::last::read as last_sync;
    pub(crate) use super::timeline::{timeline, Subject};
}
