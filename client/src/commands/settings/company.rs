//! `crm settings company`: the company's header on quote documents (name, address, terms, logo),
//! kept in the workspace settings document. The logo is a PNG or JPEG file of at most 256 kB,
//! decoded in full before it is kept; anything else is refused and nothing changes.

use crate::pdf;
use anyhow::{Context, Result};
use clap::Args;
use crm_shared::schema::{CompanyEdit, SettingsEdit, MAX_LOGO_BYTES};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Shown on every quote document: the logo at the top left, the name and address above the quote, the terms at the end. An empty value removes it.\n\nExamples:\n  crm settings company --name \"Acme Fleet GmbH\" --address \"Hauptstraße 1\\n10115 Berlin\"\n  crm settings company --terms \"$(cat terms.txt)\" --logo logo.png"
)]
pub struct CompanyArgs {
    /// The company's name
    #[arg(long)]
    pub name: Option<String>,
    /// The postal address; several lines (a literal \n also breaks a line)
    #[arg(long)]
    pub address: Option<String>,
    /// Terms and conditions printed at the end of each quote; several lines
    #[arg(long)]
    pub terms: Option<String>,
    /// A PNG or JPEG file of at most 256 kB
    #[arg(long, conflicts_with = "no_logo")]
    pub logo: Option<PathBuf>,
    /// Remove the logo
    #[arg(long)]
    pub no_logo: bool,
}

/// A text given on the command line: `\n` typed literally breaks a line; empty removes it.
fn text(v: &str) -> Option<String> {
    let v = v.replace("\\n", "\n");
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// The settings edits `a` asks for, every value checked first.
pub fn edits(a: CompanyArgs) -> Result<Vec<SettingsEdit>> {
    let mut out = Vec::new();
    if let Some(n) = &a.name {
        out.push(CompanyEdit::Name(text(n)));
    }
    if let Some(v) = &a.address {
        out.push(CompanyEdit::Address(text(v)));
    }
    if let Some(v) = &a.terms {
        out.push(CompanyEdit::Terms(text(v)));
    }
    if let Some(file) = &a.logo {
        out.push(CompanyEdit::Logo(Some(logo(file)?)));
    }
    if a.no_logo {
        out.push(CompanyEdit::Logo(None));
    }
    if out.is_empty() {
        anyhow::bail!(
            "nothing to change: give --name, --address, --terms, --logo FILE or --no-logo"
        );
    }
    Ok(out.into_iter().map(SettingsEdit::Company).collect())
}

/// The bytes of a logo file, refused unless a PNG or JPEG image of at most 256 kB.
fn logo(file: &std::path::Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.len() > MAX_LOGO_BYTES {
        anyhow::bail!(
            "{} is {} kB: a logo may be at most {} kB (every laptop carries it); make it smaller; nothing was changed",
            file.display(),
            bytes.len().div_ceil(1024),
            MAX_LOGO_BYTES / 1024
        );
    }
    pdf::check_image(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a usable logo: {e}; give a PNG or JPEG file; nothing was changed",
            file.display()
        )
    })?;
    Ok(bytes)
}
