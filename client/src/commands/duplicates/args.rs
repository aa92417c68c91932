//! The command-line words of `crm duplicates dismiss` and `crm duplicates dismissed`.

use clap::{Args, Subcommand};

/// What `crm duplicates` does besides listing likely duplicates.
#[derive(Debug, Subcommand)]
pub enum DuplicatesAction {
    /// Say two records are not the same: `crm duplicates` stops listing the pair, for the team too
    #[command(
        long_about = "Say two contacts (or two organizations) are not the same, so `crm duplicates` no longer lists the pair nor flags it again.\n\nThe dismissal is kept on both records and syncs like any edit: the team stops seeing the pair once it has synced. `--undo` takes it back.",
        after_help = "Examples:\n  crm duplicates dismiss 7Hq2 9Kd1\n  crm duplicates dismiss 7Hq2 9Kd1 --undo"
    )]
    Dismiss(DismissArgs),
    /// List the pairs dismissed as not duplicates (undo one with `dismiss A B --undo`)
    Dismissed(DismissedArgs),
}

#[derive(Debug, Args)]
pub struct DismissArgs {
    /// One record of the pair (id or a unique prefix of it)
    pub a: String,
    /// The other record of the pair
    pub b: String,
    /// Take the dismissal back: the pair is listed again if it still looks alike
    #[arg(long)]
    pub undo: bool,
}

#[derive(Debug, Args)]
pub struct DismissedArgs {
    /// Whose dismissed pairs to list: contacts or orgs
    #[arg(default_value = "contacts", value_parser = ["contacts", "orgs"])]
    pub kind: String,
}
