//! Arguments of `crm import`, `crm export`, `crm duplicates` and `crm merge-records`.

use clap::Args;

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
#[command(args_conflicts_with_subcommands = true)]
pub struct DuplicatesArgs {
    #[command(subcommand)]
    pub action: Option<crate::commands::duplicates::args::DuplicatesAction>,
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
