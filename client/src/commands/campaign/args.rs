//! The command line of `crm campaign`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// E-mail a template to every contact of a segment, once each (managers and admins)
    #[command(
        long_about = "E-mail a template to every contact of a segment (a mail merge), once each.\n\nThe template is a text file: a `Subject:` line, a blank line, then the body, with placeholders {{name}}, {{first_name}}, {{last_name}}, {{title}}, {{org}}, {{email}}, {{region}}, {{owner}}. Contacts marked do-not-contact (`crm contact edit ID --do-not-contact yes`, or an unsubscribe) and contacts without an e-mail address are skipped (counted and listed). Each message carries an unsubscribe note; `crm campaign unsubscribe ADDRESS` marks the contact do-not-contact. Each send is recorded in the workspace before it leaves, so a campaign run again (after a crash, or on another manager's laptop once synced) never writes twice to the same contact; an e-mail activity is logged on each contact written to.",
        after_help = "Examples:\n  crm campaign send --template spring.txt --to \"grade:A,B stage:proposal region:north\" --dry-run\n  crm campaign send --template spring.txt --to \"grade:A,B stage:proposal region:north\" --rate 30/min\n  crm campaign unsubscribe rui@example.com"
    )]
    Send(CampaignSendArgs),
    /// Mark the contacts with these addresses do-not-contact (they asked to unsubscribe)
    Unsubscribe {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
    },
    /// What a campaign sent, to whom
    Show { name: String },
}

#[derive(Debug, Args)]
pub struct CampaignSendArgs {
    /// The template: `Subject: ...`, a blank line, the body with {{field}} placeholders
    #[arg(long, value_name = "FILE")]
    pub template: PathBuf,
    /// The segment, e.g. "grade:A,B stage:proposal region:north owner:ana"
    #[arg(long, value_name = "SEGMENT")]
    pub to: String,
    /// The campaign's name, which keeps a contact from getting it twice [default: the
    /// template's file name without extension]
    #[arg(long)]
    pub name: Option<String>,
    /// Write the messages to a folder (--outbox) instead of sending them; records nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The folder of --dry-run [default: DATA_DIR/outbox]
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// At most this many messages per minute, second or hour, e.g. 30/min
    #[arg(long, default_value = "60/min")]
    pub rate: String,
}
