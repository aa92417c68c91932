//! `crm duplicates [contacts|orgs]`: likely duplicates with a score and why, those a sync or a
//! merge flagged as needing attention first; `dismiss` and `dismissed` (`duplicates/dismiss.rs`).

pub mod args;
mod dismiss;

use super::page::TABLE_ROWS;
use super::Ctx;
use crate::cli::DuplicatesArgs;
use crate::output;
use crate::store::{Pair, Store, MAX_GROUP};
use anyhow::Result;
use crm_shared::{DocumentId, RecordKind};
use rusqlite::OptionalExtension;
use serde::Serialize;

/// One record of a pair, as listed.
#[derive(Debug, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// One likely duplicate pair, as listed.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub score: u32,
    pub a: Named,
    pub b: Named,
    pub reasons: Vec<String>,
    /// Flagged by a sync or a merge, not yet merged.
    pub attention: bool,
}

pub fn run(ctx: &Ctx, a: DuplicatesArgs) -> Result<()> {
    match a.action {
        Some(args::DuplicatesAction::Dismiss(d)) => return dismiss::dismiss(ctx, d),
        Some(args::DuplicatesAction::Dismissed(d)) => return dismiss::list(ctx, d),
        None => {}
    }
    let store = ctx.open()?;
    let kind = match a.kind.as_str() {
        "orgs" => RecordKind::Organization,
        _ => RecordKind::Contact,
    };
    let found = store.likely_duplicates(kind)?;
    let flagged = store.flagged_duplicates(kind)?;
    let mut listed: Vec<Listed> = Vec::with_capacity(found.pairs.len());
    for p in &found.pairs {
        listed.push(Listed {
            score: p.score(),
            a: named(&store, kind, p.a)?,
            b: named(&store, kind, p.b)?,
            reasons: reasons(p),
            attention: flagged.contains(&(p.a, p.b)),
        });
    }
    // Stable: within each part, best first.
    listed.sort_by_key(|l| !l.attention);
    if ctx.json {
        let listed: Vec<&Listed> = listed.iter().take(a.limit.unwrap_or(usize::MAX)).collect();
        return output::json(&serde_json::json!({
            "kind": a.kind,
            "pairs": listed,
            "common_values_left_out": found.common_keys,
        }));
    }
    let limit = a.limit.unwrap_or(TABLE_ROWS as usize);
    let attention = listed.iter().filter(|l| l.attention).count();
    if attention > 0 {
        println!(
            "{} brought by a sync or a merge {} attention (marked !).",
            pairs(attention),
            if attention == 1 { "needs" } else { "need" }
        );
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .take(limit)
        .map(|l| {
            vec![
                format!("{}{}", if l.attention { "! " } else { "" }, l.score),
                format!(
                    "{} ({})",
                    output::one_line(&l.a.name),
                    output::short_id(&l.a.id)
                ),
                format!(
                    "{} ({})",
                    output::one_line(&l.b.name),
                    output::short_id(&l.b.id)
                ),
                l.reasons.join("; "),
            ]
        })
        .collect();
    let what = if kind == RecordKind::Organization {
        "organizations"
    } else {
        "contacts"
    };
    output::print_rows(
        &["SCORE", "RECORD", "LIKELY THE SAME AS", "WHY"],
        rows,
        &format!("No likely duplicate {what}."),
    );
    if listed.len() > limit {
        eprintln!(
            "showing {limit} of {} pairs (use --limit N or --json)",
            listed.len()
        );
    }
    if found.common_keys > 0 {
        eprintln!(
            "{} shared by more than {MAX_GROUP} {what} each (a switchboard number, a common name) left out: too common to tell.",
            if found.common_keys == 1 { "1 value".to_string() } else { format!("{} values", found.common_keys) }
        );
    }
    if let Some(first) = listed.first() {
        eprintln!(
            "Merge a pair with `crm merge-records {a} {b}` (`--dry-run` shows what it would change); if they are not the same, `crm duplicates dismiss {a} {b}`.",
            a = output::short_id(&first.a.id),
            b = output::short_id(&first.b.id)
        );
    }
    Ok(())
}

fn pairs(n: usize) -> String {
    if n == 1 {
        "1 likely duplicate pair".into()
    } else {
        format!("{n} likely duplicate pairs")
    }
}

/// Why a pair is listed, as people read it.
pub fn reasons(p: &Pair) -> Vec<String> {
    let mut out: Vec<String> = p
        .keys
        .iter()
        .filter_map(|k| {
            let (prefix, value) = (k.get(..2)?, k.get(2..)?);
            Some(match prefix {
                "e:" => format!("same e-mail {value}"),
                "p:" => format!("same phone ...{value}"),
                "n:" => "same name".to_string(),
                _ => return None,
            })
        })
        .collect();
    if p.same_org {
        out.push("same organization".into());
    }
    out
}

/// A record's id and name from the read model.
fn named(store: &Store, kind: RecordKind, id: DocumentId) -> Result<Named> {
    let table = match kind {
        RecordKind::Organization => "rm_orgs",
        _ => "rm_contacts",
    };
    let name: Option<String> = store
        .conn()
        .prepare_cached(&format!("SELECT name FROM {table} WHERE id = ?1"))?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(Named {
        id: id.to_string(),
        name: name.unwrap_or_default(),
    })
}

/// One line naming pairs a sync or a merge flagged, for its outcome (`None`: none).
pub fn flagged_line(store: &Store, fresh: &[Pair]) -> Option<String> {
    let first = fresh.first()?;
    let kind = if store.record(first.a).map(|r| r.kind).ok() == Some(RecordKind::Organization) {
        RecordKind::Organization
    } else {
        RecordKind::Contact
    };
    let a = named(store, kind, first.a).ok()?;
    let b = named(store, kind, first.b).ok()?;
    let more = match fresh.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "{} to look at: \"{}\" and \"{}\" ({}){more}: `crm duplicates` lists them, `crm merge-records` merges.",
        pairs(fresh.len()),
        output::one_line(&a.name),
        output::one_line(&b.name),
        reasons(first).join("; ")
    ))
}
