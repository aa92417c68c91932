//! Arguments of `crm activity`, `crm log` and `crm agenda`: meetings, calls, tasks and the week.

use super::{IdArg, ListArgs, RmArgs, IDS_FROM_STDIN};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ActivityCommand {
    /// Add an activity (with --repeat, a series); prints its id
    #[command(
        after_help = "Dates and times may be typed as 2026-12-01T10:00, `tomorrow 10:00`, `monday 14:30`, `+3d`, `2w`, or 31/12/2026 10:00 when `crm config locale` says dmy; each is told back in ISO form.\n\nWith --repeat daily|weekly|monthly --until DATE, every occurrence up to DATE is saved as an activity of its own (one transaction), so each can be moved, done or cancelled alone; the ids of all are printed, the first one first."
    )]
    Add(ActivityAdd),
    /// List activities
    List(ActivityListArgs),
    /// Show one activity
    Show(IdArg),
    /// Change fields of an activity (e.g. `--at "tomorrow 10:00" --location "..."`)
    Edit(ActivityEdit),
    /// Mark an activity done, optionally saying what came of it
    Done(DoneArgs),
    /// Remove an activity
    Rm(RmArgs),
}

#[derive(Debug, Args, Default)]
pub struct ActivityFields {
    /// call, meeting, visit, task, email or note
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub subject: Option<String>,
    /// When it starts, e.g. 2026-12-01T10:00
    #[arg(long)]
    pub at: Option<String>,
    /// When it ends
    #[arg(long)]
    pub end: Option<String>,
    /// When a task is due
    #[arg(long)]
    pub due: Option<String>,
    /// planned, done or cancelled [default: planned]
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub case: Option<String>,
    #[arg(long)]
    pub contact: Option<String>,
    #[arg(long)]
    pub org: Option<String>,
    /// A person attending (repeatable)
    #[arg(long = "attendee")]
    pub attendees: Vec<String>,
    #[arg(long)]
    pub location: Option<String>,
    /// Remind this long before: 30m, 2h, 1d
    #[arg(long)]
    pub remind: Option<String>,
    /// Notes
    #[arg(long)]
    pub notes: Option<String>,
    /// What came of it, e.g. "sent the price list"
    #[arg(long)]
    pub outcome: Option<String>,
    /// The user who owns it [default: you]
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
pub struct ActivityAdd {
    #[command(flatten)]
    pub fields: ActivityFields,
    /// Repeat it daily, weekly or monthly (needs --until)
    #[arg(long, requires = "until")]
    pub repeat: Option<String>,
    /// The last day of the series (with --repeat)
    #[arg(long, requires = "repeat")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoneArgs {
    /// The activity's id (or a unique prefix of it); `-` reads ids from stdin, one a line
    pub id: String,
    /// What came of it, e.g. "ordered 20 units"
    #[arg(long)]
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogKind {
    Call,
    Visit,
    Email,
    Meeting,
    Note,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// What it was
    #[arg(value_enum)]
    pub kind: LogKind,
    /// Who it was with
    #[arg(long)]
    pub contact: Option<String>,
    /// The organization [default: the contact's first]
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long)]
    pub case: Option<String>,
    /// [default: "Call with NAME", "Visit to NAME", ...]
    #[arg(long)]
    pub subject: Option<String>,
    /// What came of it
    #[arg(long)]
    pub outcome: Option<String>,
    /// When it happened [default: now], e.g. `today 9:30`, `yesterday 16:00`
    #[arg(long)]
    pub at: Option<String>,
    /// How long it took, e.g. 30m, 1h
    #[arg(long)]
    pub duration: Option<String>,
    #[arg(long)]
    pub location: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = IDS_FROM_STDIN)]
pub struct ActivityEdit {
    /// The id (or a unique prefix of it); `-` reads ids from stdin
    pub id: String,
    #[command(flatten)]
    pub fields: ActivityFields,
    /// Empty a field, e.g. `--clear remind` (repeatable)
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ActivityListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    #[arg(long)]
    pub case: Option<String>,
    #[arg(long)]
    pub contact: Option<String>,
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
    /// From this date (inclusive)
    #[arg(long)]
    pub from: Option<String>,
    /// To this date (inclusive)
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct AgendaArgs {
    /// One day [default]
    #[arg(long, conflicts_with = "week")]
    pub day: bool,
    /// Seven days
    #[arg(long)]
    pub week: bool,
    /// Whose agenda [default: yours]
    #[arg(long)]
    pub user: Option<String>,
    /// The first day [default: today]
    #[arg(long)]
    pub date: Option<String>,
}
