//! Arguments of `crm case`: sales cases through the pipeline.

use super::{IdArg, ListArgs, RmArgs, IDS_FROM_STDIN};
use clap::{Args, Subcommand};

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
