//! The command line of `crm price-list`: named price lists per currency, region and customer
//! kind, with validity dates, per-product prices and a percentage off list.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum PriceListCommand {
    /// Create a price list (managers and admins); every laptop gets it at its next sync
    #[command(
        after_help = "Examples:\n  crm price-list add \"North resellers 2026\" --currency EUR --region north --kind reseller --from 2026-01-01 --until 2026-12-31 --percent-off 5\n  crm price-list add \"Export USD\" --currency USD"
    )]
    Add {
        /// The list's name, unique in the workspace
        name: String,
        #[command(flatten)]
        terms: TermArgs,
    },
    /// Give a product its own price on a list (wins over the list's --percent-off)
    #[command(
        after_help = "Example:\n  crm price-list set-price \"North resellers 2026\" FLEET 900"
    )]
    SetPrice {
        /// The list's name or id
        list: String,
        /// SKU or product id
        product: String,
        /// Unit price in the list's currency (e.g. 900 or 120.50)
        price: String,
    },
    /// Remove a product's own price from a list (the list's --percent-off applies again)
    UnsetPrice { list: String, product: String },
    /// The price lists, by name (`--json` for scripts)
    List,
    /// One list: its terms and its products' prices
    Show { list: String },
    /// Change a list's terms (an empty value clears an optional one: --region "")
    Edit {
        list: String,
        #[command(flatten)]
        terms: TermArgs,
    },
    /// Remove a price list (quotes already priced from it keep their prices)
    Rm { list: String },
    /// Set many products' prices from a CSV file with a header: sku,price
    Import { list: String, file: PathBuf },
}

#[derive(Debug, Args, Default)]
pub struct TermArgs {
    /// The currency of its prices (required when adding)
    #[arg(long)]
    pub currency: Option<String>,
    /// Only for customers in this region (their organization's region)
    #[arg(long)]
    pub region: Option<String>,
    /// Only for customers of this kind (prospect, customer, partner, reseller, competitor)
    #[arg(long)]
    pub kind: Option<String>,
    /// First day it applies (any date form, e.g. 2026-01-01 or monday)
    #[arg(long)]
    pub from: Option<String>,
    /// Last day it applies
    #[arg(long)]
    pub until: Option<String>,
    /// Percentage off the products' list prices (e.g. 5 or 12.5)
    #[arg(long)]
    pub percent_off: Option<String>,
}
