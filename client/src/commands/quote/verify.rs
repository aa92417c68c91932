//! `crm quote verify FILE`: reads the fingerprint back from a quote document (PDF or HTML),
//! makes the document again from the records at the fingerprint's heads and compares the bytes
//! (so a file altered after it was made is caught), then says which of its records changed here
//! since, and in which fields.

use super::document;
use super::snapshot::{parse_fingerprint, Snapshot, Source, MARK};
use crate::store::Store;
use anyhow::{Context, Result};
use crm_shared::schema;
use std::path::Path;

/// The result: `Ok(())` when the document matches; otherwise every difference, one a line.
pub fn verify(store: &Store, file: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let Some(sources) = find_fingerprint(&bytes) else {
        anyhow::bail!(
            "{} carries no quote fingerprint: it was not made by `crm quote pdf`, or the fingerprint was cut out",
            file.display()
        );
    };
    let mut differences = Vec::new();
    let mut missing = false;
    for s in &sources {
        if store.load(s.id).is_err() {
            differences.push(format!(
                "{} {} is not in this data dir: sync first",
                s.kind, s.id
            ));
            missing = true;
        } else if s.heads.iter().any(|h| !has_change(store, s, *h)) {
            differences.push(format!(
                "{} {} has changes this data dir has not received: sync first",
                s.kind, s.id
            ));
            missing = true;
        }
    }
    if missing {
        return Ok(differences);
    }
    let then = Snapshot::at(store, sources.clone())?;
    let (totals, _) = then.compute()?;
    let currency = super::currency_of(&then.quote)?;
    let again = if bytes.starts_with(b"%PDF") {
        document::pdf(&then, &totals, currency)?
    } else {
        document::html(&then, &totals, currency).into_bytes()
    };
    if again != bytes {
        differences.push(format!(
            "the file was altered after it was made: its content is not what quote {} gave at the fingerprint's heads",
            then.quote.str("number").unwrap_or("")
        ));
    }
    for s in &sources {
        let mut doc = store.load(s.id)?;
        let now = doc.get_heads();
        if now == s.heads {
            continue;
        }
        if s.kind == crm_shared::RecordKind::Settings {
            let mut then = doc.fork_at(&s.heads)?;
            let before = schema::read_settings(Some(then.document())).company;
            let after = schema::read_settings(Some(doc.document())).company;
            let changed: Vec<&str> = [
                ("name", before.name != after.name),
                ("address", before.address != after.address),
                ("terms", before.terms != after.terms),
                ("logo", before.logo != after.logo),
            ]
            .into_iter()
            .filter_map(|(k, differs)| differs.then_some(k))
            .collect();
            if !changed.is_empty() {
                differences.push(format!(
                    "the company header (settings) changed since the document was made: {}",
                    changed.join(", ")
                ));
            }
            continue;
        }
        let before = schema::read_record(s.id, doc.document(), Some(&s.heads))?;
        let after = schema::read_record(s.id, doc.document(), None)?;
        let mut fields: Vec<String> = after
            .fields
            .iter()
            .filter(|(k, v)| before.fields.get(*k) != Some(*v))
            .map(|(k, _)| k.to_string())
            .chain(
                before
                    .fields
                    .keys()
                    .filter(|k| !after.fields.contains_key(*k))
                    .map(|k| k.to_string()),
            )
            .collect();
        if after.is_deleted() && !before.is_deleted() {
            fields.push("removed".into());
        }
        if fields.is_empty() {
            continue;
        }
        if s.kind == crm_shared::RecordKind::PriceList {
            differences.push(format!(
                "the price list '{}' changed since the document was made: {}",
                after.title(),
                list_changes(store, &before, &after, &fields).join(", ")
            ));
            continue;
        }
        differences.push(format!(
            "{} \"{}\" ({}) changed since the document was made: {}",
            s.kind,
            after.title(),
            crate::output::short_id(&s.id.to_string()),
            fields.join(", ")
        ));
    }
    if let Ok(quote) = sources
        .iter()
        .find(|s| s.kind == crm_shared::RecordKind::Quote)
        .map(|s| s.id)
        .ok_or(())
    {
        let lines_now = super::snapshot::lines_of(store, quote)?;
        let named: Vec<_> = sources.iter().map(|s| s.id).collect();
        for l in lines_now.iter().filter(|l| !named.contains(l)) {
            differences.push(format!(
                "quote line {} was added since the document was made",
                crate::output::short_id(&l.to_string())
            ));
        }
    }
    Ok(differences)
}

/// A price list's changed fields in words, its products' prices named by SKU with the old and
/// new amounts.
fn list_changes(
    store: &Store,
    before: &schema::Record,
    after: &schema::Record,
    fields: &[String],
) -> Vec<String> {
    let currency = crm_shared::values::Currency::parse(after.str("currency").unwrap_or("EUR"))
        .unwrap_or(crm_shared::values::Currency::EUR);
    let empty = Default::default();
    let (old, new) = (
        before.links("prices").unwrap_or(&empty),
        after.links("prices").unwrap_or(&empty),
    );
    let money = |v: Option<&String>| match v.and_then(|m| m.parse::<i64>().ok()) {
        Some(m) => crm_shared::values::format_amount(m, currency),
        None => "none".into(),
    };
    let mut out = Vec::new();
    for f in fields {
        if f != "prices" {
            out.push(f.clone());
            continue;
        }
        for id in old
            .keys()
            .chain(new.keys().filter(|k| !old.contains_key(*k)))
        {
            if old.get(id) == new.get(id) {
                continue;
            }
            let sku = id
                .parse()
                .ok()
                .and_then(|id| store.record(id).ok())
                .and_then(|p| p.str("sku").map(String::from))
                .unwrap_or_else(|| id.clone());
            out.push(format!(
                "{sku}'s price {} -> {}",
                money(old.get(id)),
                money(new.get(id))
            ));
        }
    }
    out
}

fn has_change(store: &Store, s: &Source, h: automerge::ChangeHash) -> bool {
    store
        .load(s.id)
        .map(|mut d| d.get_change_by_hash(&h).is_some())
        .unwrap_or(false)
}

/// The fingerprint in a document's bytes (the PDF keywords are plain text).
fn find_fingerprint(bytes: &[u8]) -> Option<Vec<Source>> {
    let mark = MARK.as_bytes();
    let start = bytes.windows(mark.len()).position(|w| w == mark)?;
    let end = bytes[start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"-:=@+;_".contains(b)))
        .map_or(bytes.len(), |n| start + n);
    parse_fingerprint(std::str::from_utf8(&bytes[start..end]).ok()?)
}
