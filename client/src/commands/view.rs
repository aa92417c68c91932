//! `crm view ...`: saved views, a list command with its flags kept under a name.
//!
//! Views are kept in this data dir alone (`views.json`, written whole), not in a document: they
//! are one person's shortcuts, not the team's data. A view is checked when saved (it must parse
//! as one of the list commands) and parsed again when run, so a later version's flags apply.

use super::Ctx;
use crate::cli::{Cli, Command, ViewArgs};
use crate::output;
use anyhow::{Context, Result};
use clap::Parser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of a data dir holding its views (JSON: name -> the command's words).
pub const VIEWS_FILE: &str = "views.json";

/// Words that are `crm view`'s own and cannot name a view.
const RESERVED: [&str; 3] = ["save", "list", "rm"];

type Views = BTreeMap<String, Vec<String>>;

pub fn run(ctx: &Ctx, a: ViewArgs) -> Result<()> {
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["list"] => list(ctx),
        ["save", name, command @ ..] => save(ctx, name, command),
        ["save", ..] => anyhow::bail!(
            "give the view a name and a command: `crm view save NAME case list --open`"
        ),
        ["rm", name] => rm(ctx, name),
        ["rm", ..] => anyhow::bail!("name the one view to forget: `crm view rm NAME`"),
        [name, extra @ ..] => show(ctx, name, extra),
    }
}

fn file(dir: &Path) -> PathBuf {
    dir.join(VIEWS_FILE)
}

fn read(dir: &Path) -> Result<Views> {
    let path = file(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a views file; move it away", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Views::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write(dir: &Path, views: &Views) -> Result<()> {
    let path = file(dir);
    let json = serde_json::to_vec_pretty(views)?;
    crate::replace_file::replace(&path, &json)
        .with_context(|| format!("writing {}; nothing was saved", path.display()))
}

/// The command `words` make, checked to be one a view may hold.
fn parse(words: &[&str]) -> Result<Cli> {
    let cli =
        Cli::try_parse_from(std::iter::once("crm").chain(words.iter().copied())).map_err(|e| {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            anyhow::anyhow!("`{}` is not a command crm takes: {first}", words.join(" "))
        })?;
    let listing = matches!(
        &cli.command,
        Command::Org(crate::cli::OrgCommand::List(_))
            | Command::Contact(crate::cli::ContactCommand::List(_))
            | Command::Case(crate::cli::CaseCommand::List(_))
            | Command::Activity(crate::cli::ActivityCommand::List(_))
            | Command::Agenda(_)
            | Command::Report(_)
    );
    if !listing {
        anyhow::bail!(
            "a view holds a list (org, contact, case or activity list, agenda or report), not `{}`",
            words.join(" ")
        );
    }
    if cli.data_dir.is_some() {
        anyhow::bail!("a view is of this data dir: leave --data-dir out of it");
    }
    Ok(cli)
}

fn save(ctx: &Ctx, name: &str, command: &[&str]) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
        && !RESERVED.contains(&name);
    if !ok {
        anyhow::bail!(
            "`{name}` cannot name a view: use lowercase letters, digits, - and _ (not save, list or rm)"
        );
    }
    if command.is_empty() {
        anyhow::bail!("give the command to save: `crm view save {name} case list --open`");
    }
    parse(command)?;
    ctx.open()?; // a view belongs to an existing data dir
    let mut views = read(&ctx.data_dir)?;
    let replaced = views
        .insert(
            name.to_string(),
            command.iter().map(|w| w.to_string()).collect(),
        )
        .is_some();
    write(&ctx.data_dir, &views)?;
    if ctx.json {
        return output::json(&serde_json::json!({ "name": name, "command": command }));
    }
    eprintln!(
        "{} view {name}: crm {}. Run it with `crm view {name}`.",
        if replaced { "Replaced" } else { "Saved" },
        command.join(" ")
    );
    Ok(())
}

fn list(ctx: &Ctx) -> Result<()> {
    let views = read(&ctx.data_dir)?;
    if ctx.json {
        return output::json(&views);
    }
    let rows = views
        .iter()
        .map(|(name, words)| vec![name.clone(), format!("crm {}", words.join(" "))])
        .collect();
    output::print_rows(
        &["VIEW", "COMMAND"],
        rows,
        "No saved views: `crm view save NAME case list --open --mine` saves one.",
    );
    Ok(())
}

fn rm(ctx: &Ctx, name: &str) -> Result<()> {
    let mut views = read(&ctx.data_dir)?;
    if views.remove(name).is_none() {
        anyhow::bail!("no view `{name}` (see `crm view list`)");
    }
    write(&ctx.data_dir, &views)?;
    eprintln!("Forgot view {name}.");
    Ok(())
}

fn show(ctx: &Ctx, name: &str, extra: &[&str]) -> Result<()> {
    let views = read(&ctx.data_dir)?;
    let Some(saved) = views.get(name) else {
        let known: Vec<&str> = views.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no view `{name}` (saved: {}; `crm view save {name} ...` saves it)",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let words: Vec<&str> = saved
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    let mut cli = parse(&words)?;
    cli.data_dir = Some(ctx.data_dir.clone());
    cli.json |= ctx.json;
    super::dispatch(cli)
}
