//! The command line of `crm schedule`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Schedule a report to be e-mailed (managers and admins)
    #[command(
        after_help = "The report is rendered by the runner (`crm agent`) of the schedule's owner, from that data dir: recipients see what the owner may see.\n\nExamples:\n  crm schedule add monday --report \"pipeline --by owner\" --cron \"0 8 * * MON\" --to carla@example.com --to rui@example.com\n  crm schedule add revenue --report \"revenue --by region\" --cron \"0 7 1 * *\" --to cfo@example.com --format csv --tz Europe/Lisbon"
    )]
    Add(ScheduleAddArgs),
    /// The schedules, each with its next run in words and how its last run went
    List,
    /// One schedule and its runs
    Show { name: String },
    /// Remove a schedule (managers and admins)
    Rm { name: String },
    /// Send a schedule's report now
    Run(ScheduleRunArgs),
}

#[derive(Debug, Args)]
pub struct ScheduleAddArgs {
    /// A name for the schedule (letters, digits, dashes)
    pub name: String,
    /// The report, as typed after `crm report`, e.g. "pipeline --by owner"
    #[arg(long)]
    pub report: String,
    /// When, as a 5-field cron pattern (minute hour day month weekday), e.g. "0 8 * * MON"
    #[arg(long)]
    pub cron: String,
    /// A recipient's e-mail address (repeatable)
    #[arg(long = "to", required = true, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// The e-mail's form: html (a table, CSV attached), csv (plain text, CSV attached) or pdf
    /// (a table, the report attached as PDF)
    #[arg(long, default_value = "html")]
    pub format: String,
    /// The time zone the pattern is read in [default: this machine's]
    #[arg(long)]
    pub tz: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScheduleRunArgs {
    pub name: String,
    /// Write the message to a folder (--outbox) instead of sending it; records nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The folder of --dry-run [default: DATA_DIR/outbox]
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
}
