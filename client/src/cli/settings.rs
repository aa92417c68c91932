//! Arguments of `crm settings`: the team's stages, probabilities, thresholds and rates.

use clap::{Args, Subcommand};

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
    /// Set the company's header on quote documents: name, address, terms, logo
    Company(crate::commands::settings_company::CompanyArgs),
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
