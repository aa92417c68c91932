//! A record as it stood after each moment of its history, for reports "as of" an earlier date,
//! and the edits that were made concurrently with a handover.

use super::author::ChangeAuthor;
use super::read::{read_record, ReadError, Record};
use automerge::{Automerge, ChangeHash, ReadDoc, ROOT};
use std::collections::{BTreeSet, HashSet};

/// The record as it stood from `since_ms` on (until the next version).
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Milliseconds since the epoch: the time of the latest changes it includes.
    pub since_ms: i64,
    pub record: Record,
}

/// The versions of the record in `doc`, oldest first: one per distinct change time `t`, holding
/// every change made at or before `t` (with their ancestors). The last is the record now:
/// `current` when the caller has read it already (`read_record(id, doc, None)`), else read here.
///
/// Change times are whole seconds, as Automerge records them. A change whose author's clock was
/// behind is placed by its own time, so "as of T" means "every change stamped at or before T".
pub fn versions(
    id: crate::DocumentId,
    doc: &Automerge,
    current: Option<Record>,
) -> Result<Vec<Version>, ReadError> {
    let metas = doc.get_changes_meta(&[]);
    let times: BTreeSet<i64> = metas.iter().map(|m| m.timestamp).collect();
    let mut out = Vec::with_capacity(times.len().max(1));
    let last = times.last().copied().unwrap_or(0);
    let mut current = current;
    let mut now = || match current.take() {
        Some(r) => Ok(r),
        None => read_record(id, doc, None),
    };
    for &t in &times {
        let record = if t == last {
            now()?
        } else {
            let heads: Vec<ChangeHash> = metas
                .iter()
                .filter(|m| m.timestamp <= t)
                .map(|m| m.hash)
                .collect();
            read_record(id, doc, Some(&heads))?
        };
        out.push(Version {
            since_ms: t.saturating_mul(1000),
            record,
        });
    }
    if out.is_empty() {
        out.push(Version {
            since_ms: 0,
            record: now()?,
        });
    }
    Ok(out)
}

/// A change made concurrently with a handover by the user who handed the record over: it was
/// merged (nothing is lost) and is worth a look by the new owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HandoverEdit {
    pub user: String,
    /// Seconds since the epoch, as recorded in the change.
    pub at: i64,
    pub hash: String,
}

/// The changes by `from_user` that are concurrent with the change that set `handed_over_from`
/// (neither made before it nor after seeing it): offline edits of the absent rep that arrived
/// after the handover.
pub fn handover_edits(doc: &Automerge) -> Vec<HandoverEdit> {
    let Ok(values) = doc.get_all(ROOT, "handed_over_from") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (value, opid) in values {
        let Some(from) = value.as_str().map(str::to_string) else {
            continue;
        };
        let Some(h) = doc.hash_for_opid(&opid) else {
            continue;
        };
        let metas = doc.get_changes_meta(&[]);
        // Ancestors of the handover change.
        let mut before: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = vec![h];
        while let Some(x) = stack.pop() {
            if let Some(m) = doc.get_change_meta_by_hash(&x) {
                for d in m.deps.iter() {
                    if before.insert(*d) {
                        stack.push(*d);
                    }
                }
            }
        }
        // Descendants (to a fixed point, whatever order the metas come in).
        let mut after: HashSet<ChangeHash> = HashSet::from([h]);
        loop {
            let n = after.len();
            for m in &metas {
                if m.deps.iter().any(|d| after.contains(d)) {
                    after.insert(m.hash);
                }
            }
            if after.len() == n {
                break;
            }
        }
        for m in &metas {
            if before.contains(&m.hash) || after.contains(&m.hash) {
                continue;
            }
            let author = ChangeAuthor::from_message(m.message.as_deref());
            if author.as_ref().map(|a| a.user.as_str()) == Some(from.as_str()) {
                out.push(HandoverEdit {
                    user: from.clone(),
                    at: m.timestamp,
                    hash: m.hash.to_string(),
                });
            }
        }
    }
    out
}
