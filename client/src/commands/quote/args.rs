//! The command line of `crm quote`: quotes on a case, their lines, status, document and proof.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum QuoteCommand {
    /// Start a draft quote on a case (numbered Q-YEAR-USER-NNNN), priced from a price list
    #[command(
        after_help = concat!(
            "Price list: the one given with --price-list (refused when it is of another currency or not valid today), else the rule's choice, recorded on the quote. The rule: among the lists in the quote's currency valid on the quote date whose region and customer kind, where set, are the customer's (its organization's region and kind), the most specific wins (region and kind > one of them > neither), then the latest valid-from, then the name. With no list, lines take the products' list prices.\n\n",
            "Examples:\n  crm quote new 7Hq2\n  crm quote new 7Hq2 --valid-until 2026-12-31\n  crm quote new 7Hq2 --price-list \"North resellers 2026\""
        )
    )]
    New {
        /// The case (id or unique prefix); not won or lost
        case: String,
        /// Last day the offer holds (default: 30 days from today)
        #[arg(long)]
        valid_until: Option<String>,
        /// Currency of the quote (default: the case's, else EUR)
        #[arg(long)]
        currency: Option<String>,
        /// Price from this list (name or id) instead of the one the rule chooses
        #[arg(long)]
        price_list: Option<String>,
    },
    /// Add a product to a draft quote
    #[command(
        after_help = "Examples:\n  crm quote add-line Q-2026-ana-0001 FLEET --qty 20 --discount 5%\n  crm quote add-line Q-2026-ana-0001 SUP-PRO --qty 1 --price 99.90"
    )]
    AddLine {
        /// Quote number or id
        quote: String,
        /// SKU or product id
        product: String,
        /// Quantity: a whole number, or up to three decimals for a divisible product (2.5 hours)
        #[arg(long, default_value = "1", allow_hyphen_values = true)]
        qty: String,
        /// Discount off the line (e.g. 10% or 12.5); over your role's limit needs `crm quote approve`
        #[arg(long)]
        discount: Option<String>,
        /// Unit price instead of the price list's (or the product's list price)
        #[arg(long)]
        price: Option<String>,
    },
    /// Change a line's quantity or discount (the line id is shown by `crm quote show`)
    EditLine(LineEdit),
    /// Remove a line from a draft quote
    RmLine { line: String },
    /// The quote: lines, totals per tax rate, broken rules
    Show { quote: String },
    /// Quotes, newest first (of one case with --case)
    List {
        #[arg(long)]
        case: Option<String>,
    },
    /// Mark a draft as sent: refused while rules are broken or the quote has expired
    Send { quote: String },
    /// The customer accepted; --win also sets the case's amount and moves it to won
    Accept {
        quote: String,
        #[arg(long)]
        win: bool,
    },
    /// The customer rejected it
    Reject { quote: String },
    /// A manager's approval of discounts up to a limit on this quote, recorded on it
    Approve {
        quote: String,
        /// The largest line discount approved (e.g. 25%)
        #[arg(long)]
        discount: String,
    },
    /// Make the next revision (v2, ...) as a draft; this one is kept read-only
    Revise { quote: String },
    /// Write the quote document (PDF, or HTML with --html)
    Pdf {
        quote: String,
        #[arg(long)]
        out: PathBuf,
        /// Write HTML instead of PDF
        #[arg(long)]
        html: bool,
    },
    /// Check a quote document against the quote, its products and prices as recorded here
    Verify { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct LineEdit {
    /// The line's id (or a unique prefix)
    pub line: String,
    #[arg(long, allow_hyphen_values = true)]
    pub qty: Option<String>,
    #[arg(long)]
    pub discount: Option<String>,
}
