//! The command line (clap derive). Names of subcommands and flags are a contract: see docs/command-line.md.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
        after_help = "Examples:\n  crm duplicates\n  crm duplicates orgs\n  crm duplicates --json"
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

// ---------------------------------------------------------------- organizations

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Add an organization; prints its id
    Add(OrgFields),
    /// List organizations
    List(OrgListArgs),
    /// Show one organization with its contacts and cases
    Show(IdArg),
    /// Change fields of an organization
    Edit(OrgEdit),
    /// Remove an organization (it can be restored; concurrent edits are kept)
    Rm(RmArgs),
}

#[derive(Debug, Args, Default)]
pub struct OrgFields {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    /// prospect, customer, partner, reseller or competitor
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub website: Option<String>,
    /// A phone number, optionally labelled: `office=+33 1 23 45 67 89` (repeatable)
    #[arg(long = "phone")]
    pub phones: Vec<String>,
    /// An e-mail address, optionally labelled: `sales=sales@acme.com` (repeatable)
    #[arg(long = "email")]
    pub emails: Vec<String>,
    #[arg(long)]
    pub address: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Id of the parent organization
    #[arg(long)]
    pub parent: Option<String>,
    /// A tag (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub notes: Option<String>,
    /// The user who owns it [default: you]
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = IDS_FROM_STDIN)]
pub struct OrgEdit {
    /// The id (or a unique prefix of it); `-` reads ids from stdin
    pub id: String,
    #[command(flatten)]
    pub fields: OrgFields,
    #[command(flatten)]
    pub common: EditCommon,
}

#[derive(Debug, Args)]
pub struct OrgListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    #[arg(long)]
    pub kind: Option<String>,
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

// ---------------------------------------------------------------- contacts

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact; prints its id
    Add(ContactFields),
    /// List or search contacts
    List(ContactListArgs),
    /// Show one contact with its organizations, cases, timeline and relationships
    Show(IdArg),
    /// Who the contact is connected to (relationships, organizations, deals), and paths to decision makers
    Network(NetworkArgs),
    /// Change fields of a contact
    Edit(ContactEdit),
    /// Remove a contact (it can be restored; concurrent edits are kept)
    Rm(RmArgs),
}

#[derive(Debug, Args, Default)]
pub struct ContactFields {
    /// Full name
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub family_name: Option<String>,
    /// Job title
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    /// An e-mail address, optionally labelled: `home=ana@example.com` (repeatable)
    #[arg(long = "email")]
    pub emails: Vec<String>,
    /// A phone number, optionally labelled: `mobile=+351 912 345 678` (repeatable)
    #[arg(long = "phone")]
    pub phones: Vec<String>,
    #[arg(long)]
    pub address: Option<String>,
    /// Id of an organization this person works for, optionally with a role: `ID=buyer` (repeatable)
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// A tag (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub notes: Option<String>,
    /// yes or no
    #[arg(long)]
    pub do_not_call: Option<String>,
    /// Where the contact came from (fair, referral, web...)
    #[arg(long)]
    pub source: Option<String>,
    /// The user who owns it [default: you]
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = IDS_FROM_STDIN)]
pub struct ContactEdit {
    /// The id (or a unique prefix of it); `-` reads ids from stdin
    pub id: String,
    #[command(flatten)]
    pub fields: ContactFields,
    #[command(flatten)]
    pub common: EditCommon,
    /// Unlink an organization (repeatable)
    #[arg(long = "remove-org")]
    pub remove_orgs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    pub id: String,
    /// How many steps away to look
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=6))]
    pub depth: u32,
    /// Show the shortest path to this contact or organization
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContactListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Only contacts of this organization
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
}

// ---------------------------------------------------------------- cases

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Add a case; prints its id
    Add(CaseFields),
    /// List cases
    List(CaseListArgs),
    /// Show one case with its stage history and activities
    Show(IdArg),
    /// Change fields of a case
    Edit(CaseEdit),
    /// Move a case to another stage (recorded in its stage history)
    Move(MoveArgs),
    /// Tick (or with --undo untick) a step of the playbook of the case's stage
    Check(CheckArgs),
    /// Remove a case (it can be restored; concurrent edits are kept)
    Rm(RmArgs),
}

#[derive(Debug, Args, Default)]
pub struct CaseFields {
    #[arg(long)]
    pub title: Option<String>,
    /// Id of the organization
    #[arg(long)]
    pub org: Option<String>,
    /// Id of a contact, optionally with a deal role: `ID=decision-maker` (repeatable)
    #[arg(long = "contact")]
    pub contacts: Vec<String>,
    /// Amount as a decimal number, e.g. 12000.50
    #[arg(long, allow_hyphen_values = true)]
    pub amount: Option<String>,
    /// ISO 4217 code [default: EUR]
    #[arg(long)]
    pub currency: Option<String>,
    /// prospecting, qualification, needs-analysis, proposal, negotiation, won, lost
    #[arg(long)]
    pub stage: Option<String>,
    /// Win probability in percent, overriding the stage's default
    #[arg(long)]
    pub probability: Option<String>,
    /// A, B or C
    #[arg(long)]
    pub grade: Option<String>,
    /// Interest level, 1 to 5
    #[arg(long)]
    pub interest: Option<String>,
    /// The customer's budget, e.g. 15000
    #[arg(long, allow_hyphen_values = true)]
    pub budget: Option<String>,
    /// Expected close date, YYYY-MM-DD
    #[arg(long)]
    pub close_date: Option<String>,
    /// A competitor in the deal (repeatable)
    #[arg(long = "competitor")]
    pub competitors: Vec<String>,
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    /// The user who owns it [default: you]
    #[arg(long)]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = IDS_FROM_STDIN)]
pub struct CaseEdit {
    /// The id (or a unique prefix of it); `-` reads ids from stdin
    pub id: String,
    #[command(flatten)]
    pub fields: CaseFields,
    /// Empty a field, e.g. `--clear probability` (repeatable)
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Remove a contact from the case (repeatable)
    #[arg(long = "remove-contact")]
    pub remove_contacts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CaseListArgs {
    #[command(flatten)]
    pub list: ListArgs,
    #[arg(long)]
    pub stage: Option<String>,
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long)]
    pub grade: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Only cases of this organization
    #[arg(long)]
    pub org: Option<String>,
    /// Only cases expected to close before this date
    #[arg(long)]
    pub closing_before: Option<String>,
    /// Only open cases (not won or lost)
    #[arg(long)]
    pub open: bool,
    /// Only your cases (this data dir's user)
    #[arg(long, conflicts_with = "owner")]
    pub mine: bool,
    /// Only cases expected to close in this-month, next-month, this-quarter, next-quarter or this-year
    #[arg(long, value_name = "PERIOD")]
    pub closing: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = IDS_FROM_STDIN)]
pub struct MoveArgs {
    /// The id (or a unique prefix of it); `-` reads ids from stdin
    pub id: String,
    /// The new stage
    #[arg(long)]
    pub stage: String,
    /// Why the case was lost (required when moving to lost)
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    pub id: String,
    /// The step's key or number, as `crm case show` lists them
    pub step: String,
    /// Mark the step as not done
    #[arg(long)]
    pub undo: bool,
}

// ---------------------------------------------------------------- activities

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

// ---------------------------------------------------------------- the rest

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

#[derive(Debug, Args)]
pub struct RelateArgs {
    /// Id of a contact or organization
    pub a: String,
    /// Id of a contact or organization
    pub b: String,
    /// referred-by, reports-to, colleague, subsidiary-of, competitor-of (A is <kind> B)
    #[arg(long = "as")]
    pub kind: String,
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

// ---------------------------------------------------------------- settings

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the pipeline, playbook, grade thresholds and currencies
    Show,
    /// Set the default win probability of a stage
    Probability {
        /// prospecting, qualification, needs-analysis, proposal, negotiation, won, lost
        stage: String,
        /// Percent, 0 to 100
        percent: String,
    },
    /// Set the least number of open A, B and C cases each rep should hold
    Grades {
        #[arg(long)]
        a: Option<String>,
        #[arg(long)]
        b: Option<String>,
        #[arg(long)]
        c: Option<String>,
    },
    /// Add (or with --remove drop) a currency; --base makes it the base currency
    Currency {
        /// ISO 4217 code, e.g. USD
        code: String,
        #[arg(long, conflicts_with = "base")]
        remove: bool,
        #[arg(long)]
        base: bool,
    },
    /// Add or change (or with --remove drop) a playbook step of a stage
    Step(StepArgs),
    /// Set (or with --remove drop) an exchange rate: 1 CODE is RATE of the base currency
    #[command(
        after_help = "A rate holds from its date until a later rate of the same pair. Reports total their amounts in the base currency with the latest rate on or before the report's day (today, or --as-of), and say which rates they used.\n\nExamples:\n  crm settings rate USD 0.92                  (1 USD = 0.92 EUR from today)\n  crm settings rate GBP 1.17 --date 2026-01-01"
    )]
    Rate(RateArgs),
}

#[derive(Debug, Args)]
pub struct RateArgs {
    /// ISO 4217 code of the currency converted, e.g. USD
    pub code: String,
    /// What 1 of it is worth in the base currency (or --to), e.g. 0.92
    #[arg(required_unless_present = "remove", allow_hyphen_values = true)]
    pub rate: Option<String>,
    /// The currency the rate is in [default: the base currency]
    #[arg(long)]
    pub to: Option<String>,
    /// The day the rate holds from [default: today]
    #[arg(long)]
    pub date: Option<String>,
    /// Drop the rate of that day
    #[arg(long, conflicts_with = "rate")]
    pub remove: bool,
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The stage the step belongs to
    pub stage: String,
    /// A short key: lowercase letters, digits and dashes (e.g. send-proposal)
    pub key: String,
    /// What to do, e.g. "Send the proposal"
    #[arg(long)]
    pub title: Option<String>,
    /// Moving on without this step done warns
    #[arg(long, conflicts_with = "optional")]
    pub required: bool,
    /// The step is a suggestion
    #[arg(long)]
    pub optional: bool,
    /// Position in the checklist (lower first)
    #[arg(long)]
    pub order: Option<i64>,
    #[arg(long, conflicts_with_all = ["title", "required", "optional", "order"])]
    pub remove: bool,
}

// ---------------------------------------------------------------- handover and reports

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// Open value and probability-weighted value by stage (or owner, region, close month)
    Pipeline,
    /// How many cases entered each stage, and how many were lost at each
    Funnel,
    /// Days from creation to won, and time spent in each stage
    Cycle,
    /// Won amounts by month (or region, owner)
    Revenue,
    /// Open A/B/C cases per rep against the thresholds
    Grades,
    /// What each rep spends time on, next to their win rate
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportBy {
    Stage,
    Region,
    Owner,
    Month,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    pub kind: ReportKind,
    /// As things stood at the end of this date (or at this time, 2026-03-31T12:00)
    #[arg(long)]
    pub as_of: Option<String>,
    /// Group the rows by stage, region, owner or month
    #[arg(long, value_enum)]
    pub by: Option<ReportBy>,
    /// Only what happened from this date (inclusive): won or lost cases, activities
    #[arg(long)]
    pub from: Option<String>,
    /// Only what happened up to this date (inclusive)
    #[arg(long)]
    pub to: Option<String>,
    /// Only this month (YYYY-MM, or `last` for the month before this one)
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub month: Option<String>,
    /// Print comma-separated values
    #[arg(long)]
    pub csv: bool,
}

// ---------------------------------------------------------------- import and export

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import
    pub file: std::path::PathBuf,
    /// The file's format [default: recognised from its content and name]
    #[arg(long, value_enum)]
    pub format: Option<crate::interchange::Format>,
    /// Show what would be created, updated and skipped; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Read CSV column COLUMN as FIELD (name, given_name, family_name, title, department, org,
    /// email, phone, address, region, tags, notes, source, do_not_call, id, ignore)
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// The file's text encoding (utf-8, utf-16le, windows-1252, ...) [default: recognised]
    #[arg(long)]
    pub encoding: Option<String>,
}

/// What `crm export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportWhat {
    Contacts,
    Orgs,
    Cases,
    Activities,
    All,
}

/// The file format of `crm export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Vcard,
    Ical,
    Json,
}

/// The columns of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvLayout {
    /// One column per field, as `crm import` reads back
    Crm,
    /// Google Contacts' import layout
    Google,
    /// Outlook's import layout
    Outlook,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(value_enum)]
    pub what: ExportWhat,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to this file [default: standard output]
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// The columns of a CSV file
    #[arg(long, value_enum, default_value = "crm")]
    pub layout: CsvLayout,
    /// Only records found by these words (names, e-mails, phones, notes)
    #[arg(long)]
    pub search: Option<String>,
    /// Only records of this region
    #[arg(long)]
    pub region: Option<String>,
    /// Only records owned by this user
    #[arg(long)]
    pub owner: Option<String>,
    /// Only cases in this stage
    #[arg(long)]
    pub stage: Option<String>,
    /// Include removed records
    #[arg(long)]
    pub deleted: bool,
}

#[derive(Debug, Args)]
pub struct DuplicatesArgs {
    /// What to look for duplicates of: contacts or orgs
    #[arg(default_value = "contacts", value_parser = ["contacts", "orgs"])]
    pub kind: String,
    /// Show at most this many pairs in the table (default: a page; --json: all)
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct MergeRecordsArgs {
    /// The record to keep (id or a unique prefix of it)
    pub keep: String,
    /// The records merged into it
    #[arg(required = true, num_args = 1..)]
    pub others: Vec<String>,
    /// Take FIELD from record ID instead of the rule (repeatable), e.g. --take title=9Kd1
    #[arg(long, value_name = "FIELD=ID")]
    pub take: Vec<String>,
    /// Show what the merge would change, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

// ---------------------------------------------------------------- web UI

#[derive(Debug, Args)]
pub struct UiArgs {
    /// The port to listen on, on 127.0.0.1 [default: any free port]
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the address in the web browser
    #[arg(long)]
    pub open: bool,
}
