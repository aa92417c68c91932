//! Arguments of `crm report`.

use clap::Args;

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
    /// Quotes sent, accepted and rejected, acceptance rate, average discount, value accepted
    Quotes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportBy {
    Stage,
    Region,
    Owner,
    Month,
    /// A quote's status (the quotes report)
    Status,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    pub kind: ReportKind,
    /// As things stood at the end of this day (2026-03-31, yesterday, 31/03/2026 by `crm config
    /// locale`) or at this time (2026-03-31T12:00)
    #[arg(long)]
    pub as_of: Option<String>,
    /// Group the rows by stage, region, owner or month (quotes: owner, month or status)
    #[arg(long, value_enum)]
    pub by: Option<ReportBy>,
    /// Only what happened from this day (inclusive): won or lost cases, activities; days as
    /// for --as-of
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
    /// Write the report as a PDF (A4) to --out FILE
    #[arg(long, requires = "out", conflicts_with = "csv")]
    pub pdf: bool,
    /// The file of --pdf
    #[arg(long, value_name = "FILE", requires = "pdf")]
    pub out: Option<std::path::PathBuf>,
}
