//! The command line of `crm agent`.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Keep running: sync, send what is due, wait --every seconds, again (Ctrl-C to stop)
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two passes of --watch
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub every: u64,
    /// Work from what this data dir holds: no sync before and after
    #[arg(long)]
    pub offline: bool,
    /// Write the messages to a folder (--outbox) instead of sending them; records nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The folder of --dry-run [default: DATA_DIR/outbox]
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
}
