//! The command line of `crm product`: the catalogue's products.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Add a product to the catalogue
    #[command(
        after_help = "Examples:\n  crm product add --sku FLEET --name \"Fleet licence\" --price 1000 --tax 23\n  crm product add --sku SUP-PRO --name \"Support plan\" --price 120.50 --unit month\n  crm product add --sku FLEET --name \"Fleet licence\" --price 1000 --requires SUP-STD --requires SUP-PRO --max-qty 100\n  crm product add --sku CONSULT --name Consulting --price 85 --unit hour --divisible\n  crm product add --sku KIT --name \"Fleet starter kit\" --price 1050 --bundle \"FLEET:1,SUP-PRO:1\""
    )]
    Add(ProductFields),
    /// The catalogue, by SKU (a SKU two people created offline is marked CLASH)
    List,
    /// One product with its rules
    Show { id: String },
    /// Change a product's fields (SKU or id)
    Edit {
        id: String,
        #[command(flatten)]
        fields: ProductEdit,
    },
    /// Remove a product (SKU or id); quotes already made keep their lines
    Rm { id: String },
    /// Add products from a CSV file with a header: sku,name,price[,currency,tax,unit,description]
    Import { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct ProductFields {
    /// Stock-keeping unit, unique in the catalogue
    #[arg(long)]
    pub sku: String,
    #[arg(long)]
    pub name: String,
    /// List price per unit (e.g. 1000 or 120.50)
    #[arg(long)]
    pub price: String,
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Tax rate in whole percent
    #[arg(long, default_value_t = 0)]
    pub tax: i64,
    /// Unit sold (licence, month, hour); whole quantities unless --divisible
    #[arg(long)]
    pub unit: Option<String>,
    /// Sold in fractions of its unit (hours, kg: up to three decimals); without it, whole units
    #[arg(long)]
    pub divisible: bool,
    /// A bundle of other products, SKU:QTY,... sold at this product's --price; its contents
    /// count as on the quote for the rules
    #[arg(long)]
    pub bundle: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// At least one of these SKUs must be on a quote that has this product (repeatable)
    #[arg(long)]
    pub requires: Vec<String>,
    /// None of these SKUs may be on the same quote (repeatable)
    #[arg(long)]
    pub excludes: Vec<String>,
    #[arg(long)]
    pub min_qty: Option<i64>,
    #[arg(long)]
    pub max_qty: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ProductEdit {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub price: Option<String>,
    #[arg(long)]
    pub tax: Option<i64>,
    #[arg(long)]
    pub unit: Option<String>,
    /// yes or no: sold in fractions of its unit (up to three decimals)
    #[arg(long)]
    pub divisible: Option<String>,
    /// A bundle's contents, SKU:QTY,... ("" makes it a plain product)
    #[arg(long)]
    pub bundle: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// yes or no: inactive products cannot be added to quotes
    #[arg(long)]
    pub active: Option<String>,
    #[arg(long)]
    pub max_qty: Option<i64>,
}
