//! Arguments of `crm contact` and `crm relate`: people and how they are related.

use super::{EditCommon, IdArg, ListArgs, RmArgs, IDS_FROM_STDIN};
use clap::{Args, Subcommand};

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
    /// yes or no: no campaign e-mail to this contact (`crm campaign` skips them; an
    /// unsubscribe sets it)
    #[arg(long)]
    pub do_not_contact: Option<String>,
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
