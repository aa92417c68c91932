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
        /// Expire after this many days
        #[arg(long)]
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
}

impl ServeArgs {
    /// The defaults, for tests and embedding.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        ServeArgs {
            listen,
            data_dir,
            max_frame_bytes: 16 * 1024 * 1024,
            send_queue: 4096,
            idle_unload_secs: 300,
            idle_timeout_secs: 60,
        }
    }
}
