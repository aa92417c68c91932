//! Command line and environment of `crm-sync-server`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "crm-sync-server",
    version,
    about = "The sync server of the offline CRM: relays and stores the team's documents over the automerge-repo WebSocket protocol."
)]
pub struct Cli {
    /// A TOML file of settings whose keys are the long flags (`listen = "0.0.0.0:3030"`,
    /// `max-frame-bytes = 1048576`); flags and environment variables override it
    #[arg(long, global = true, env = "CRM_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format
    #[arg(
        long,
        global = true,
        env = "CRM_SYNC_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve WebSocket sync on `/` and `/sync`, health on `/healthz`, metrics on `/metrics`
    Serve(ServeArgs),
    /// Users and their roles
    #[command(subcommand)]
    User(UserCommand),
    /// Books (territories or teams): every record belongs to one
    #[command(subcommand)]
    Book(BookCommand),
    /// Let a user read (and write) a book
    Grant(GrantArgs),
    /// Take a user's access to a book away
    Revoke(RevokeArgs),
    /// Access tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy the store (documents, users, books, tokens) to a file; safe while the server runs
    Backup(BackupArgs),
    /// Replace the store with a backup; refuses while a server uses the data dir
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist)
    #[arg(long)]
    pub to: PathBuf,
    #[command(flatten)]
    pub dir: DataDir,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore (made by `backup`)
    #[arg(long)]
    pub from: PathBuf,
    #[command(flatten)]
    pub dir: DataDir,
}

/// Where the admin commands find the server's data.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// The server's data dir (the one `serve` uses)
    #[arg(long, env = "CRM_SYNC_DATA_DIR", default_value = "./crm-sync-data")]
    pub data_dir: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user
    Add {
        user: String,
        /// rep (sees granted books), manager or admin (see every book)
        #[arg(long, default_value = "rep")]
        role: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Change a user's role
    Role {
        user: String,
        role: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List users with their books and live tokens
    List {
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Debug, Subcommand)]
pub enum BookCommand {
    /// Add a book
    Add {
        book: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List books
    List {
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    pub user: String,
    pub book: String,
    /// Read and write [default]
    #[arg(long, conflicts_with = "read_only")]
    pub read_write: bool,
    /// Read only: the user's edits stay on their laptop
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub dir: DataDir,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    pub user: String,
    pub book: String,
    #[command(flatten)]
    pub dir: DataDir,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new token for a user and print it (once: only its hash is kept)
    Issue {
        user: String,
        /// Expire after this long: a number and a unit, s, m, h, d or w (`90m`, `12h`, `30d`)
        #[arg(long, value_name = "DURATION", value_parser = parse_expiry, conflicts_with = "expires_in_days")]
        expires_in: Option<u64>,
        /// Expire after this many days (as `--expires-in Nd`)
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke a token (by id) or every token of a user; live connections close within a second
    Revoke {
        /// The token id (see `token list`)
        id: Option<i64>,
        /// Revoke every token of this user
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List tokens (ids, users, dates; never the tokens themselves)
    List {
        #[command(flatten)]
        dir: DataDir,
    },
}

/// The seconds of a token lifetime like `90m`, `12h`, `30d` (at most 100 years).
pub fn parse_expiry(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a duration: give a number and a unit, s, m, h, d or w (90m, 12h, 30d)"
        )
    };
    let s = s.trim();
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = s.split_at(unit_at);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let seconds = n.checked_mul(factor).ok_or_else(bad)?;
    if seconds == 0 {
        return Err(format!(
            "`{s}` would expire the token at once: give a positive duration"
        ));
    }
    if seconds > 100 * 366 * 86_400 {
        return Err(format!(
            "`{s}` is more than 100 years: leave --expires-in out for a token that does not expire"
        ));
    }
    Ok(seconds)
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "CRM_SYNC_LISTEN", default_value = "127.0.0.1:3030")]
    pub listen: SocketAddr,
    /// Where the server keeps its SQLite store
    #[arg(long, env = "CRM_SYNC_DATA_DIR", default_value = "./crm-sync-data")]
    pub data_dir: PathBuf,
    /// Largest WebSocket message accepted, in bytes
    #[arg(long, env = "CRM_SYNC_MAX_FRAME_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Frames queued for one connection before it is closed as too slow
    #[arg(long, env = "CRM_SYNC_SEND_QUEUE", default_value_t = 4096)]
    pub send_queue: usize,
    /// Unload a document from memory after this many seconds without use
    #[arg(long, env = "CRM_SYNC_IDLE_UNLOAD_SECS", default_value_t = 300)]
    pub idle_unload_secs: u64,
    /// Close a connection that sent nothing (not even a pong) for this many seconds
    #[arg(long, env = "CRM_SYNC_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Close a connection whose HTTP request, TLS handshake or `join` takes longer than this
    #[arg(long, env = "CRM_SYNC_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10)]
    pub handshake_timeout_secs: u64,
    /// Largest size the Automerge changes of one incoming frame may inflate to, in bytes
    #[arg(long, env = "CRM_SYNC_MAX_CHANGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_change_bytes: u64,
    /// Most operations the Automerge changes of one incoming frame may hold
    #[arg(long, env = "CRM_SYNC_MAX_CHANGE_OPS", default_value_t = 2_000_000)]
    pub max_change_ops: u64,
    /// Frames per second one connection may send (0: no limit); faster senders are slowed down
    #[arg(long, env = "CRM_SYNC_RATE_FRAMES", default_value_t = 2000)]
    pub rate_frames: u64,
    /// Bytes per second one connection may send (0: no limit); faster senders are slowed down
    #[arg(long, env = "CRM_SYNC_RATE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub rate_bytes: u64,
    /// Open WebSocket connections per user at most
    #[arg(long, env = "CRM_SYNC_MAX_CONNECTIONS_PER_USER", default_value_t = 16)]
    pub max_connections_per_user: usize,
    /// Open WebSocket connections at most
    #[arg(long, env = "CRM_SYNC_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// TCP connections not yet upgraded to WebSocket (TLS or HTTP in progress) at most; when
    /// full, a new one closes the oldest of the address holding the most
    #[arg(long, env = "CRM_SYNC_MAX_PENDING_CONNECTIONS", default_value_t = 1024)]
    pub max_pending_connections: usize,
    /// Of those, from one source address at most (IPv6: one /64; IPv4-mapped IPv6 counts as
    /// IPv4); more are dropped at once. 0: no limit per address (behind a proxy, every
    /// connection comes from the proxy's address)
    #[arg(long, env = "CRM_SYNC_MAX_PENDING_PER_IP", default_value_t = 128)]
    pub max_pending_per_ip: usize,
    /// Threads that run connections (WebSocket, TLS, decoding); the hub, which applies and
    /// stores every change, has a thread of its own. 0: one per core but the hub's (at least
    /// one): more would take turns with the hub on its core, and each frame would cost more
    #[arg(long, env = "CRM_SYNC_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Serve TLS (wss://) with this certificate chain (PEM); needs --tls-key
    #[arg(long, env = "CRM_SYNC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, env = "CRM_SYNC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// Connection threads to start: `--workers`, or one per core but the hub's.
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.saturating_sub(1).max(1)
    }

    /// The defaults, for tests and embedding.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ServeArgs {
            listen,
            data_dir,
            max_frame_bytes: 16 * 1024 * 1024,
            send_queue: 4096,
            idle_unload_secs: 300,
            idle_timeout_secs: 60,
            handshake_timeout_secs: 10,
            max_change_bytes: 16 * 1024 * 1024,
            max_change_ops: 2_000_000,
            rate_frames: 2000,
            rate_bytes: 64 * 1024 * 1024,
            max_connections_per_user: 16,
            max_connections: 10_000,
            max_pending_connections: 1024,
            max_pending_per_ip: 128,
            workers: 0,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Parses the command line, with the settings of `--config FILE` (or `CRM_SYNC_CONFIG`) beneath
/// flags and environment variables.
pub fn parse() -> anyhow::Result<Cli> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(path) = config_path(&args) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
        for (var, value) in
            config_env(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?
        {
            // The environment wins over the file; flags win over both (clap).
            if std::env::var_os(&var).is_none() {
                std::env::set_var(var, value);
            }
        }
    }
    Ok(Cli::parse_from(args))
}

fn config_path(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("CRM_SYNC_CONFIG").map(PathBuf::from)
}

/// The environment variables a config file stands for: each key is a long flag (`-` or `_`)
/// of some subcommand that has an environment variable.
pub fn config_env(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    use clap::CommandFactory;
    let table: toml::Table = text.parse()?;
    let mut known = std::collections::BTreeMap::new();
    let cli = Cli::command();
    let mut commands = vec![&cli];
    let mut i = 0;
    while i < commands.len() {
        let c = commands[i];
        for arg in c.get_arguments() {
            if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
                if long != "config" {
                    known.insert(long.to_string(), env.to_string_lossy().into_owned());
                }
            }
        }
        commands.extend(c.get_subcommands());
        i += 1;
    }
    let mut out = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        let Some(env) = known.get(&flag) else {
            let names: Vec<&String> = known.keys().collect();
            anyhow::bail!("unknown setting `{key}` (known: {names:?})");
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                anyhow::bail!("setting `{key}`: expected a string, number or boolean, got {other}")
            }
        };
        out.push((env.clone(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn the_pending_share_per_address_is_a_flag_a_variable_and_a_setting() {
        use clap::Parser;
        let serve = |args: &[&str]| match super::Cli::parse_from(args).command {
            super::Command::Serve(a) => a.max_pending_per_ip,
            other => panic!("{other:?}"),
        };
        if std::env::var_os("CRM_SYNC_MAX_PENDING_PER_IP").is_none() {
            assert_eq!(serve(&["crm-sync-server", "serve"]), 128);
        }
        assert_eq!(
            serve(&["crm-sync-server", "serve", "--max-pending-per-ip", "0"]),
            0
        );
        let env = super::config_env("max-pending-per-ip = 8").unwrap();
        assert_eq!(
            env,
            [("CRM_SYNC_MAX_PENDING_PER_IP".to_string(), "8".to_string())]
        );
    }

    #[test]
    fn connection_threads_leave_the_hub_a_core() {
        let mut args = super::ServeArgs::new(
            "127.0.0.1:0".parse().unwrap(),
            std::path::PathBuf::from("unused"),
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(args.worker_threads(), cores.saturating_sub(1).max(1));
        args.workers = 3;
        assert_eq!(args.worker_threads(), 3);
    }

    #[test]
    fn token_lifetimes_take_a_unit() {
        assert_eq!(parse_expiry("90m"), Ok(5_400));
        assert_eq!(parse_expiry("12h"), Ok(43_200));
        assert_eq!(parse_expiry("30d"), Ok(2_592_000));
        assert_eq!(parse_expiry("2w"), Ok(1_209_600));
        assert_eq!(parse_expiry("3s"), Ok(3));
        for bad in [
            "",
            "12",
            "h",
            "-1d",
            "1.5h",
            "1y",
            "0d",
            "101000d",
            "99999999999999999999s",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
