//! What a `crm sync` tells the rep about records that did not travel: each record the server
//! refused (kind, name, id, why, what to do), each newly unshared one, and each that someone else
//! removed, grouped by cause with the why and the next step said once per group. Records the
//! server refused make `crm sync` exit with [`EXIT_REFUSED`].

use crate::output::{command_of, records};
use crate::session::SyncReport;
use crate::store::Store;
use anyhow::Result;
use crm_shared::protocol::Grants;
use crm_shared::{DocumentId, RecordKind};
use serde::Serialize;

/// The exit code of a `crm sync` that finished while records stayed on this laptop because the
/// server refused their changes (documented in `crm sync --help` and the README).
pub const EXIT_REFUSED: u8 = 3;

/// The error of a sync that left refused records on the laptop: `main` exits with
/// [`EXIT_REFUSED`].
#[derive(Debug, thiserror::Error)]
#[error("{count} stayed on this laptop: the server refused their changes (listed above with what to do)")]
pub struct RecordsRefused {
    count: String,
}

/// One record named in a sync's outcome.
#[derive(Debug, Serialize)]
pub struct Named {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub book: String,
}

/// A group of records with one cause.
#[derive(Debug, Serialize)]
pub struct Group {
    /// `refused`, `unshared` or `removed`.
    pub cause: &'static str,
    pub why: String,
    pub next: String,
    pub records: Vec<Named>,
}

/// The groups of a sync's report. `told_before` counts unshared records named by an earlier sync.
pub struct Outcome {
    pub groups: Vec<Group>,
    pub unshared_told_before: usize,
    /// Likely duplicates the sync brought in, newly flagged (`crm duplicates` lists them).
    pub duplicates: usize,
    /// The one line naming them.
    duplicates_line: Option<String>,
}

impl Outcome {
    /// Names the records of `report` (reading each from the store) and records the unshared
    /// ones as told.
    /// `grants`: what the server last said this user may do (kept by `crm sync`), if known.
    pub fn of(
        store: &mut Store,
        report: &SyncReport,
        grants: Option<&Grants>,
        now_ms: i64,
    ) -> Result<Outcome> {
        let mut groups = Vec::new();
        let mut settings = Vec::new();
        let mut refused = Vec::new();
        for id in &report.refused_ids {
            let named = name(store, *id);
            if named.kind == "settings" {
                settings.push(named);
            } else {
                refused.push(named);
            }
        }
        if !settings.is_empty() {
            groups.push(Group {
                cause: "refused",
                why: "only managers and admins change the workspace settings".into(),
                next: "ask a manager to make the change; `crm settings show` shows the team's settings once they sync".into(),
                records: settings,
            });
        }
        let mut books: Vec<String> = refused.iter().map(|r| r.book.clone()).collect();
        books.sort();
        books.dedup();
        for book in books {
            let records: Vec<Named> = refused
                .iter()
                .filter(|r| r.book == book)
                .map(|r| Named {
                    id: r.id.clone(),
                    kind: r.kind,
                    name: r.name.clone(),
                    book: r.book.clone(),
                })
                .collect();
            let (why, next) = refusal_cause(&book, grants);
            groups.push(Group {
                cause: "refused",
                why,
                next,
                records,
            });
        }
        let fresh = store.tell_unshared(&report.unshared_ids, now_ms)?;
        if !fresh.is_empty() {
            groups.push(Group {
                cause: "unshared",
                why: "the server no longer shares them with you (moved to a book you may not read, or your access changed)".into(),
                next: "nothing to do: they stay on this laptop as last synced; ask a manager if you still need them".into(),
                records: fresh.iter().map(|id| name(store, *id)).collect(),
            });
        }
        if !report.removed_ids.is_empty() {
            let records: Vec<Named> = report
                .removed_ids
                .iter()
                .map(|id| name(store, *id))
                .collect();
            let example = records
                .first()
                .map(|r| format!("`crm {} rm {} --restore`", command_of(r.kind), r.id))
                .unwrap_or_default();
            groups.push(Group {
                cause: "removed",
                why: "someone else removed them; any edits of yours are kept in them".into(),
                next: format!("{example} brings one back; `crm history ID` shows who removed it"),
                records,
            });
        }
        // Records a merge left inconsistent, grouped by what settles them.
        let mut whys: Vec<&String> = report.attention.iter().map(|(_, why)| why).collect();
        whys.sort();
        whys.dedup();
        for why in whys {
            let records = report
                .attention
                .iter()
                .filter(|(_, w)| w == why)
                .map(|(id, _)| name(store, *id))
                .collect();
            let (why, next) = why.split_once(": ").unwrap_or((why.as_str(), ""));
            groups.push(Group {
                cause: "attention",
                why: why.to_string(),
                next: next.to_string(),
                records,
            });
        }
        let flagged = store.flag_duplicates(&report.arrived, now_ms)?;
        Ok(Outcome {
            groups,
            unshared_told_before: report.unshared_ids.len() - fresh.len(),
            duplicates: flagged.len(),
            duplicates_line: crate::commands::duplicates::flagged_line(store, &flagged),
        })
    }

    /// The error to exit with when records stayed here because the server refused them.
    pub fn refusal(report: &SyncReport) -> Option<RecordsRefused> {
        (report.refused > 0).then(|| RecordsRefused {
            count: if report.refused == 1 {
                "1 record".into()
            } else {
                format!("{} records", report.refused)
            },
        })
    }

    /// Prints the groups for a person.
    pub fn print(&self) {
        for g in &self.groups {
            let what = match g.cause {
                "refused" => "not accepted by the server",
                "unshared" => "no longer shared with you",
                "attention" => "to settle",
                _ => "removed by someone else",
            };
            println!();
            println!("{} {what}: {}.", records(g.records.len() as u64), g.why);
            for r in g.records.iter().take(SHOWN) {
                println!("  {} \"{}\" ({}, book {})", r.kind, r.name, r.id, r.book);
            }
            if g.records.len() > SHOWN {
                println!(
                    "  ... and {} more (`crm sync --json` lists them all)",
                    g.records.len() - SHOWN
                );
            }
            println!("  Next: {}.", g.next);
        }
        if let Some(line) = &self.duplicates_line {
            println!("{line}");
        }
        if self.unshared_told_before > 0 {
            println!(
                "{} named before {} still not shared with you (kept here as last synced).",
                records(self.unshared_told_before as u64),
                if self.unshared_told_before == 1 {
                    "is"
                } else {
                    "are"
                }
            );
        }
    }
}

/// Why the server refused changes to records of `book`, and what to do, as far as the user's
/// grants tell.
fn refusal_cause(book: &str, grants: Option<&Grants>) -> (String, String) {
    if book == crm_shared::schema::CATALOGUE_BOOK && !grants.is_some_and(|g| g.may_write(book)) {
        return (
            "only managers and admins change the catalogue (products and their prices): your changes stay on this laptop".into(),
            "ask a manager to make the change; `crm product show SKU` shows the catalogue's values after they sync".into(),
        );
    }
    // Name the book to move them to when the user may write exactly one.
    let to = match grants.map(|g| g.writable()).as_deref() {
        Some([only]) => only.to_string(),
        _ => "BOOK".to_string(),
    };
    let move_them = format!("`crm move --all-from {book} --book {to}`");
    let ask_grant = if book == "default" {
        // The book of a data dir set up offline: no team shares it.
        format!("move them to a book you may write: {move_them}")
    } else {
        format!(
            "ask IT for write access to `{book}` (`crm-sync-server grant USER {book}`), or move them to a book you may write ({move_them})"
        )
    };
    let moved = "they were moved to another book: on this laptop (moving records between books is a manager's act), or by a manager to a book you may not read after you changed them";
    let move_back = "ask a manager to move them where they belong (a record you moved on this laptop: `crm move ID --book` its former book)".to_string();
    match grants {
        Some(g) if g.may_write(book) => (moved.to_string(), move_back),
        Some(g) if g.may_read(book) => (
            format!("your access to book `{book}` is read-only: your changes stay on this laptop"),
            ask_grant,
        ),
        Some(_) => (format!("you may not write book `{book}`"), ask_grant),
        None => (
            format!(
                "the server did not take changes to records in book `{book}`: you may not write that book, your access to it is read-only, or {moved}"
            ),
            format!("{ask_grant}; or {move_back}"),
        ),
    }
}

/// Records listed per group in the text output.
const SHOWN: usize = 20;

/// A record as the outcome names it (what the store can read of it).
fn name(store: &Store, id: DocumentId) -> Named {
    match store.record(id) {
        Ok(r) => {
            let name = match r.kind {
                RecordKind::Case => r.str("title"),
                RecordKind::Activity => r.str("subject"),
                _ => r.str("name"),
            }
            .unwrap_or("")
            .to_string();
            Named {
                id: id.to_string(),
                kind: r.kind.as_str(),
                name,
                book: r.book,
            }
        }
        Err(_) => Named {
            id: id.to_string(),
            kind: "record",
            name: String::new(),
            book: String::new(),
        },
    }
}
