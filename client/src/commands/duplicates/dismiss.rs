//! `crm duplicates dismiss A B [--undo]` and `crm duplicates dismissed`: pairs said not to be
//! duplicates, marked on both records in one transaction (`schema::distinct`), so the mark syncs
//! with the records and `crm duplicates` leaves the pair out on every laptop.

use super::args::{DismissArgs, DismissedArgs};
use super::{named, Ctx};
use crate::output;
use crate::store::dismissed_pairs;
use anyhow::{bail, Result};
use crm_shared::schema::{distinct_from, Edit};
use crm_shared::RecordKind;

pub fn dismiss(ctx: &Ctx, a: DismissArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let (first, kind) = store.resolve(&a.a, None)?;
    let (second, other_kind) = store.resolve(&a.b, None)?;
    if !matches!(kind, RecordKind::Contact | RecordKind::Organization) {
        bail!(
            "{} is a {kind}: only contacts and organizations are listed as duplicates",
            a.a
        );
    }
    if other_kind != kind {
        bail!(
            "{} is a {kind} and {} a {other_kind}: a pair of duplicates is two contacts or two organizations",
            a.a,
            a.b
        );
    }
    if first == second {
        bail!("{} and {} are the same record: give two records", a.a, a.b);
    }
    let dismissed = !a.undo;
    let already = {
        let mut doc = store.load(first)?;
        distinct_from(doc.document()).contains(&second)
    };
    let (x, y) = (named(&store, kind, first)?, named(&store, kind, second)?);
    let pair = format!(
        "\"{}\" ({}) and \"{}\" ({})",
        output::one_line(&x.name),
        output::short_id(&x.id),
        output::one_line(&y.name),
        output::short_id(&y.id)
    );
    if already == dismissed {
        eprintln!(
            "{pair} {} already: nothing changed.",
            if dismissed {
                "are dismissed as not duplicates"
            } else {
                "are not dismissed"
            }
        );
    } else {
        let action = if dismissed {
            format!(
                "dismissed as not a duplicate of {}",
                output::short_id(&y.id)
            )
        } else {
            format!("undid the dismissal of {}", output::short_id(&y.id))
        };
        let mark = |other| {
            vec![Edit::MarkDistinct {
                other,
                distinct: dismissed,
            }]
        };
        store.edit_records(ctx.now_ms, &action, |_| {
            Ok(((), vec![(first, mark(second)), (second, mark(first))]))
        })?;
        if dismissed {
            eprintln!(
                "Dismissed {pair} as not duplicates: `crm duplicates` no longer lists them (undo: `crm duplicates dismiss {} {} --undo`).",
                output::short_id(&x.id),
                output::short_id(&y.id)
            );
        } else {
            eprintln!("{pair} may be listed as likely duplicates again.");
        }
    }
    if ctx.json {
        return output::json(&serde_json::json!({
            "a": x, "b": y, "dismissed": dismissed,
        }));
    }
    Ok(())
}

pub fn list(ctx: &Ctx, a: DismissedArgs) -> Result<()> {
    let store = ctx.open()?;
    let kind = match a.kind.as_str() {
        "orgs" => RecordKind::Organization,
        _ => RecordKind::Contact,
    };
    let mut listed = Vec::new();
    for (x, y) in dismissed_pairs(store.conn())? {
        let (Ok((x, kx)), Ok((y, ky))) = (store.resolve(&x, None), store.resolve(&y, None)) else {
            continue;
        };
        if kx == kind && ky == kind {
            listed.push((named(&store, kind, x)?, named(&store, kind, y)?));
        }
    }
    if ctx.json {
        let pairs: Vec<_> = listed
            .iter()
            .map(|(a, b)| serde_json::json!({"a": a, "b": b}))
            .collect();
        return output::json(&serde_json::json!({ "kind": a.kind, "pairs": pairs }));
    }
    let rows = listed
        .iter()
        .map(|(x, y)| {
            vec![
                format!(
                    "{} ({})",
                    output::one_line(&x.name),
                    output::short_id(&x.id)
                ),
                format!(
                    "{} ({})",
                    output::one_line(&y.name),
                    output::short_id(&y.id)
                ),
            ]
        })
        .collect();
    output::print_rows(
        &["RECORD", "NOT THE SAME AS"],
        rows,
        "No pairs dismissed as not duplicates.",
    );
    Ok(())
}
