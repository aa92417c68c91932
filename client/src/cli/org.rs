//! Arguments of `crm org`: organizations (accounts).

use super::{EditCommon, IdArg, ListArgs, RmArgs, IDS_FROM_STDIN};
use clap::{Args, Subcommand};

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
