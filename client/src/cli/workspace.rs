//! Arguments of the commands that set up, sync and move a data dir's records: `init`, `config`, `sync`, `merge`, `move`, `handover`, `demo-data`.

use super::IDS_FROM_STDIN;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Your user name (lowercase letters, digits, . - _)
    #[arg(long)]
    pub user: String,
    /// Your full name
    #[arg(long)]
    pub name: Option<String>,
    /// Sync server URL, e.g. ws://sync.example.com:3030
    #[arg(long)]
    pub server: Option<String>,
    /// Access token for the sync server
    #[arg(long)]
    pub token: Option<String>,
    /// Also trust the CA certificate(s) in this PEM file for wss:// (a private CA); a copy is kept
    #[arg(long, env = "CRM_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The book (territory) new records go into [default: with --server, the only book you may
    /// write there; offline, `default`]
    #[arg(long)]
    pub book: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "all_from"])))]
#[command(after_help = IDS_FROM_STDIN)]
pub struct BookMoveArgs {
    /// The record's id (or a unique prefix of it, at least 4 characters); `-` reads ids from stdin
    pub id: Option<String>,
    /// Move every record of this book instead (e.g. those made in `default` before the data dir
    /// knew its book), in one transaction
    #[arg(long, value_name = "BOOK", conflicts_with = "id")]
    pub all_from: Option<String>,
    /// The book to move it to, as the server names it (lowercase letters, digits, . - _)
    #[arg(long)]
    pub book: String,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Sync with this server from now on (ws://HOST:PORT or wss://HOST:PORT)
    #[arg(long)]
    pub server: Option<String>,
    /// Use this access token from now on
    #[arg(long)]
    pub token: Option<String>,
    /// Put new records into this book from now on (one you may write on the server)
    #[arg(long)]
    pub book: Option<String>,
    /// Also trust the CA certificate(s) in this PEM file for wss:// (a copy is kept)
    #[arg(long, env = "CRM_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub setting: Option<ConfigSetting>,
}

/// Settings of this data dir alone (not the workspace's: see `crm settings`).
#[derive(Debug, Subcommand)]
pub enum ConfigSetting {
    /// How dates typed with slashes are read: dmy (31/12/2026), mdy (12/31/2026) or iso (refused)
    Locale {
        /// dmy, mdy or iso; without it, shows the current one
        order: Option<String>,
    },
    /// The SMTP server that sends reports, reminders and campaigns (shown without --host)
    Smtp(crate::commands::SmtpArgs),
    /// A morning e-mail of your overdue tasks, sent by the team's runner: on or off
    Digest {
        state: String,
        /// The time of day it comes, in your time zone (HH:MM) [default: 07:00]
        #[arg(long, value_name = "HH:MM")]
        at: Option<String>,
    },
    /// Your e-mail address, where your reminders and digests go (kept in your user record)
    Email { address: String },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Stay connected: push and receive changes live, reconnecting when the connection drops
    #[arg(long)]
    pub watch: bool,
    /// Use this server (and remember it) instead of the one given at `crm init`
    #[arg(long)]
    pub server: Option<String>,
    /// Use this access token (and remember it)
    #[arg(long)]
    pub token: Option<String>,
    /// Also trust the CA certificate(s) in this PEM file for wss:// (and remember them)
    #[arg(long, env = "CRM_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Give up when the server sends nothing for this many seconds
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The other data dir
    #[arg(long)]
    pub from: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(..=10_000_000))]
    pub contacts: u64,
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(..=10_000_000))]
    pub orgs: u64,
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(..=10_000_000))]
    pub cases: u64,
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(..=10_000_000))]
    pub activities: u64,
    /// Seed for the random generator (same seed, same names and figures)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// User name when the data dir is new
    #[arg(long, default_value = "demo")]
    pub user: String,
    /// Add the sample records even to a data dir that holds real records or syncs with a server
    #[arg(long)]
    pub force: bool,
    /// Remove every sample record (marked removed, as `crm rm` does) and say how many
    #[arg(long, conflicts_with = "force")]
    pub remove: bool,
}

#[derive(Debug, Args)]
pub struct HandoverArgs {
    /// The absent rep
    #[arg(long)]
    pub from: String,
    /// The colleague taking over
    #[arg(long)]
    pub to: String,
    /// Only activities from this date (inclusive)
    #[arg(long)]
    pub from_date: Option<String>,
    /// Only activities up to this date (inclusive)
    #[arg(long)]
    pub to_date: Option<String>,
    /// Also hand over the rep's open cases
    #[arg(long)]
    pub cases: bool,
}
