//! The command line (clap derive). Names of subcommands and flags are a contract: see docs/command-line.md.
//!
//! Here: the top level (`Cli`, `Command`) and the arguments many commands share; each area's
//! arguments are in a child module named after it (`cli/case.rs` holds `crm case`'s).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod activity;
mod case;
mod contact;
mod interchange;
mod org;
mod report;
mod settings;
mod ui;
mod workspace;

pub use activity::{
    ActivityAdd, ActivityCommand, ActivityEdit, ActivityFields, ActivityListArgs, AgendaArgs,
    DoneArgs, LogArgs, LogKind,
};
pub use case::{CaseCommand, CaseEdit, CaseFields, CaseListArgs, CheckArgs, MoveArgs};
pub use contact::{
    ContactCommand, ContactEdit, ContactFields, ContactListArgs, NetworkArgs, RelateArgs,
};
pub use interchange::{
    CsvLayout, DuplicatesArgs, ExportArgs, ExportFormat, ExportWhat, ImportArgs, MergeRecordsArgs,
};
pub use org::{OrgCommand, OrgEdit, OrgFields, OrgListArgs};
pub use report::{ReportArgs, ReportBy, ReportKind};
pub use settings::{RateArgs, SettingsCommand, StepArgs};
pub use ui::UiArgs;
pub use workspace::{
    BookMoveArgs, ConfigArgs, ConfigSetting, DemoArgs, HandoverArgs, InitArgs, MergeArgs, SyncArgs,
};

#[derive(Debug, Parser)]
#[command(
    name = "crm",
    version,
    about = "An offline-first CRM for field sales: contacts, organizations, cases and agenda on your laptop, merged with your team without losing an edit.",
    after_help = "Start with `crm init --user YOUR_NAME`, or try `crm demo-data` on an empty --data-dir."
)]
pub struct Cli {
    /// Where the CRM data lives [default: $CRM_HOME, else the platform data directory]
    #[arg(long, global = true, env = "CRM_HOME", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data dir for a user on this device
    Init(InitArgs),
    /// Organizations (accounts)
    #[command(subcommand)]
    Org(OrgCommand),
    /// Contacts (people)
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Cases (opportunities) and the pipeline
    #[command(subcommand)]
    Case(CaseCommand),
    /// Calls, meetings, visits, tasks, e-mails and notes
    #[command(subcommand)]
    Activity(ActivityCommand),
    /// The product catalogue: SKUs, list prices, tax rates, configuration rules
    #[command(subcommand)]
    Product(crate::commands::product::args::ProductCommand),
    /// Price lists per currency, region and customer kind that quotes are priced from
    #[command(subcommand)]
    PriceList(crate::commands::price_list::args::PriceListCommand),
    /// Quotes on a case: lines, totals, approval, the PDF and its verification
    #[command(subcommand)]
    Quote(crate::commands::quote::args::QuoteCommand),
    /// Your appointments and due tasks
    Agenda(AgendaArgs),
    /// Log a call, visit, e-mail, meeting or note that already happened, in one line
    #[command(
        after_help = "Examples:\n  crm log call --contact 7Hq2 --outcome \"wants a quote\"\n  crm log visit --contact 7Hq2 --at \"yesterday 15:00\" --duration 1h"
    )]
    Log(LogArgs),
    /// Relate two contacts or organizations (referred-by, reports-to, colleague, ...)
    Relate(RelateArgs),
    /// List every field that holds concurrent values from different people
    Conflicts,
    /// Settle a conflicted field by choosing its value
    Resolve(ResolveArgs),
    /// Who changed which field of a record, when, and from which device
    History(IdArg),
    /// Move a record to another book (territory); the server takes the move from a manager or an admin only
    #[command(
        long_about = "Move a record to another book (territory).\n\nThe move is an edit like any other: it is saved on this laptop at once and sent by the next `crm sync`. The server takes it from a manager or an admin only; then the reps of the new book receive the record and those of the old one no longer do. A rep's move is refused by the server and stays on this laptop (`crm sync` says how many records it refused).\n\n--all-from BOOK moves every record of a book in one transaction: a manager's or an admin's all; a rep's only into a book they may write, and only records the server never took (such as those made in `default` before the data dir knew its book: the server judges them as new records, by the book they arrive in).",
        after_help = "Examples:\n  crm move 7Hq2 --book south\n  crm case list --owner bruno --ids | crm move - --book south   (ids from stdin, one transaction)\n  crm move --all-from default --book north   (records made before this data dir knew its book)"
    )]
    Move(BookMoveArgs),
    /// Show or change this data dir's server, token, book and CA certificate
    #[command(
        long_about = "Show or change this data dir's server, token, book (where new records go) and CA certificate.\n\nWithout flags, shows them with what the server last said this user may do (role and books). With flags, the server is asked first (with the new server, token and CA) and the book is checked against what the user may write there; nothing is saved unless all of it holds.",
        after_help = "Examples:\n  crm config\n  crm config --server wss://sync.example.com --token crm_...\n  crm config --book north"
    )]
    Config(ConfigArgs),
    /// Sync with the team's server: send local changes, receive everyone else's
    #[command(
        long_about = "Sync with the team's server: send local changes, receive everyone else's.\n\nRecords that did not travel are named with why and what to do: those the server refused (they stay on this laptop), those it no longer shares with you (named once), and those someone else removed. `--watch` stays connected and prints one line per batch received or sent and per reconnect (JSON lines with --json).",
        after_help = "Exit codes: 0 synced; 3 synced, but the server refused the changes of some records (they stay on this laptop; listed with what to do); 1 any other failure (server unreachable, token refused, ...)."
    )]
    Sync(SyncArgs),
    /// Merge another data dir's records into this one (e.g. a copy from another laptop)
    Merge(MergeArgs),
    /// Fill a new data dir with a realistic sample book, or remove the sample records
    #[command(
        after_help = "Every record it makes is marked `demo: yes`. It refuses a data dir that holds real records or syncs with a server (the next sync would share the samples with the team) unless given --force; `crm demo-data --remove` removes every sample record, as `crm rm` does."
    )]
    DemoData(DemoArgs),
    /// Rebuild the read model (lists, search, agenda) from the documents
    Rebuild,
    /// Workspace settings: stage probabilities, the playbook, grade thresholds, currencies
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Hand an absent rep's open activities (and optionally cases) over to a colleague
    Handover(HandoverArgs),
    /// Reports on the pipeline, as of now or any earlier date
    Report(ReportArgs),
    /// Reports e-mailed on a schedule (sent by `crm agent`)
    #[command(subcommand)]
    Schedule(crate::commands::ScheduleCommand),
    /// The runner: syncs, sends scheduled reports, reminders and digests when due
    #[command(
        long_about = "The runner: each pass syncs this data dir, sends the schedules' runs that are due (only this user's schedules), the reminders whose time has come (to each activity's owner) and the morning digests, records what it sent in the workspace, and syncs again. Run it with --watch as a service or on a manager's laptop; a run missed while asleep is sent once on waking, marked late, and nothing is sent twice.",
        after_help = "Examples:\n  crm agent --watch\n  crm agent --dry-run --outbox /tmp/mail\n  crm agent --offline"
    )]
    Agent(crate::commands::AgentArgs),
    /// E-mail to a segment of contacts: a mail merge, once per contact
    #[command(subcommand)]
    Campaign(crate::commands::CampaignCommand),
    /// Saved views: a list command with its flags, kept under a name
    #[command(
        long_about = "Saved views: a list command with its flags, kept under a name in this data dir (views.json, not shared with the team).\n\n  crm view save NAME COMMAND...   save a list command (org/contact/case/activity list, agenda, report)\n  crm view NAME [FLAGS...]        run it (flags given here are added to the saved ones)\n  crm view list                   the saved views\n  crm view rm NAME                forget one",
        after_help = "Examples:\n  crm view save closing case list --open --mine --closing this-month\n  crm view closing\n  crm view closing --json"
    )]
    View(ViewArgs),
    /// Bring contacts and appointments in from CSV (Google, Outlook, any), vCard or iCalendar
    #[command(
        long_about = "Bring contacts in from CSV (Google Contacts, Outlook, or any CSV with a header) or vCard (2.1, 3.0, 4.0), and appointments and tasks from iCalendar.\n\nThe format and the text encoding are recognised from the file (give --format or --encoding to say). Records already here are found by the file's ids (vCard/iCalendar UID), e-mail or phone and updated, not duplicated: importing the same file again creates nothing. Rows that cannot be read are listed with their line and skipped; a damaged file (a card cut short, bytes that are not text, no header) is refused whole. Everything is saved in one transaction, or nothing is.\n\nA recurring event is imported as its first occurrence, with its rule (RRULE) kept in the notes.",
        after_help = "Examples:\n  crm import contacts.csv --dry-run\n  crm import google.csv\n  crm import outlook.csv --encoding windows-1252\n  crm import leads.csv --map \"Full Name=name\" --map \"Mail=email\"\n  crm import phone.vcf\n  crm import calendar.ics"
    )]
    Import(ImportArgs),
    /// Write contacts, organizations, cases or activities to a CSV, vCard, iCalendar or JSON file
    #[command(
        long_about = "Write records to a file: every record that matches the filters (no cap).\n\ncsv: one row per record (--layout google or outlook for a phone's or a mail program's import); vcard: vCard 4.0 with UID (the record id), REV, CATEGORIES and RELATED; ical: activities as VEVENT/VTODO with UID and SEQUENCE; json: the records as `show --json` gives them.",
        after_help = "Examples:\n  crm export contacts --format vcard --out book.vcf\n  crm export contacts --format csv --layout google --out google.csv\n  crm export activities --format ical --out agenda.ics\n  crm export all --format json --out backup.json"
    )]
    Export(ExportArgs),
    /// List likely duplicate contacts or organizations, with a score and why
    #[command(
        long_about = "List likely duplicate contacts or organizations, with a score (0-100) and why.\n\nTwo records are likely one when they share an e-mail (60), a phone number (45: its last 9 digits) or a name (40: after folding accents, letter case, punctuation, word order and script, so `Inês Duarte`, `DUARTE, Ines` and `Инес Дуарте` are one name), plus 20 when two contacts work for the same organization. A value shared by more than 20 records (a switchboard number) says little and is left out. Pairs that a `crm sync` or `crm merge` brought in are listed first, as needing attention. Merge a pair with `crm merge-records KEEP OTHER`.",
        after_help = "Examples:\n  crm duplicates\n  crm duplicates orgs\n  crm duplicates --json\n  crm duplicates dismiss 7Hq2 9Kd1     # not the same: stop listing the pair"
    )]
    Duplicates(DuplicatesArgs),
    /// Merge duplicate records into one (undo with `crm unmerge`)
    #[command(
        long_about = "Merge any number of contacts (or organizations) into KEEP.\n\nEach single-valued field keeps KEEP's value unless it is empty, then takes the value of the record that edited it last (or of the record named by --take FIELD=ID). E-mails, phones, tags and organizations are united, the others' notes appended. The cases, activities, relationships (and an organization's contacts and child organizations) that point at the others point at KEEP instead. The others are marked merged into KEEP: never removed, lists and search hide them, `crm contact show OTHER` says where they went. All in one transaction, offline like any edit; `crm unmerge` undoes it, keeping edits made since.",
        after_help = "Examples:\n  crm merge-records 7Hq2 9Kd1\n  crm merge-records 7Hq2 9Kd1 4Zz8 --take title=9Kd1 --dry-run"
    )]
    MergeRecords(MergeRecordsArgs),
    /// Undo merges: give back the records merged into a record (or one merged record)
    #[command(
        long_about = "Undo merges made by `crm merge-records`.\n\nGiven a merged record, it is taken out of the merge: listed again, the fields and values KEEP took from it given back, the links moved to KEEP pointed at it again. Given KEEP, every record merged into it is. What was edited since the merge stays as edited: a field of KEEP changed after the merge keeps its new value, a link moved elsewhere stays there."
    )]
    Unmerge(IdArg),
    /// Serve the web UI on this computer (127.0.0.1 only) and print the address to open
    Ui(UiArgs),
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// `save NAME COMMAND...`, `list`, `rm NAME`, or a view's NAME [FLAGS...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub words: Vec<String>,
}

/// The help of an edit's id: one record, or many read from stdin.
pub const IDS_FROM_STDIN: &str = "With `-` for the id, the ids are read from stdin, one a line (e.g. from `crm case list ... --ids`), and every record is changed in one transaction: all or none (a bad id refuses the batch, naming its line).";

#[derive(Debug, Args)]
pub struct IdArg {
    /// The record's id (or a unique prefix of it, at least 4 characters)
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The record's id (or a unique prefix of it)
    pub id: String,
    /// Undo an earlier removal
    #[arg(long)]
    pub restore: bool,
}

#[derive(Debug, Args, Default)]
pub struct ListArgs {
    /// Find by words in names, e-mails, phones, organizations and notes
    #[arg(long)]
    pub search: Option<String>,
    /// Include removed records
    #[arg(long)]
    pub deleted: bool,
    /// Show at most this many rows [default: 200 in a table, every row with --json]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Show every row
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// Print only the ids, one a line, every row unless --limit (to pipe into `edit -`)
    #[arg(long)]
    pub ids: bool,
}

/// Flags every `edit` has.
#[derive(Debug, Args, Default)]
pub struct EditCommon {
    /// Remove a tag (repeatable)
    #[arg(long = "untag")]
    pub untag: Vec<String>,
    /// Add another e-mail instead of replacing the first (repeatable)
    #[arg(long = "add-email")]
    pub add_emails: Vec<String>,
    /// Add another phone instead of replacing the first (repeatable)
    #[arg(long = "add-phone")]
    pub add_phones: Vec<String>,
    /// Empty a field, e.g. `--clear region` (repeatable)
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The record's id
    pub id: String,
    /// The conflicted field, as `crm conflicts` names it
    pub field: String,
    /// The value to keep
    pub value: String,
}
