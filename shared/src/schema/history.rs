//! The history of a record: who changed which fields, when, from which device.

use super::author::ChangeAuthor;
use automerge::{Automerge, Prop};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// One change of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub hash: String,
    /// Seconds since the epoch, as recorded in the change.
    pub at: i64,
    pub user: Option<String>,
    pub device: Option<String>,
    pub offline: Option<bool>,
    /// What the change did beyond its fields (a merge of records, an unmerge), if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The top-level fields this change touched.
    pub fields: Vec<String>,
}

/// Every change of the record in `doc`, oldest first: in causal order, with concurrent changes
/// ordered by time, then hash, so every replica lists the same history in the same order.
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    let metas: Vec<_> = doc
        .get_changes_meta(&[])
        .into_iter()
        .map(|m| m.into_owned())
        .collect();
    causal_order(metas)
        .into_iter()
        .map(|meta| {
            let patches = doc.diff(&meta.deps, &[meta.hash]);
            let fields: BTreeSet<String> = patches
                .iter()
                .filter(|p| !creates_empty_container(p))
                .filter_map(|p| match p.path.first() {
                    Some((_, Prop::Map(key))) => Some(key.clone()),
                    Some((_, Prop::Seq(_))) => None,
                    None => match &p.action {
                        automerge::PatchAction::PutMap { key, .. }
                        | automerge::PatchAction::DeleteMap { key } => Some(key.clone()),
                        _ => None,
                    },
                })
                .filter(|k| {
                    !INTERNAL_KEYS.contains(&k.as_str())
                        && !super::merge::is_log_key(k)
                        && !super::distinct::is_distinct_key(k)
                })
                .collect();
            let author = ChangeAuthor::from_message(meta.message.as_deref());
            HistoryEntry {
                hash: meta.hash.to_string(),
                at: meta.timestamp,
                user: author.as_ref().map(|a| a.user.clone()),
                device: author.as_ref().map(|a| a.device.clone()),
                offline: author.as_ref().map(|a| a.offline),
                action: author.and_then(|a| a.action),
                fields: fields.into_iter().collect(),
            }
        })
        .collect()
}

/// Keys every record gets when created; not interesting in a history.
const INTERNAL_KEYS: [&str; 5] = ["schema", "type", "id", "created_at", "created_by"];

/// The creation of an empty container (notes, tags...) with the record is not a field change;
/// what is later put inside it is.
fn creates_empty_container(p: &automerge::Patch) -> bool {
    p.path.is_empty()
        && matches!(
            &p.action,
            automerge::PatchAction::PutMap {
                value: (automerge::Value::Object(_), _),
                ..
            }
        )
}

/// A topological order of changes (every change after its dependencies) that breaks ties by
/// (time, hash), independent of the order the changes arrived in.
fn causal_order(
    metas: Vec<automerge::ChangeMetadata<'static>>,
) -> Vec<automerge::ChangeMetadata<'static>> {
    let index: HashMap<automerge::ChangeHash, usize> =
        metas.iter().enumerate().map(|(i, m)| (m.hash, i)).collect();
    let mut waiting: Vec<usize> = metas
        .iter()
        .map(|m| m.deps.iter().filter(|d| index.contains_key(d)).count())
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); metas.len()];
    for (i, m) in metas.iter().enumerate() {
        for d in m.deps.iter().filter_map(|d| index.get(d)) {
            dependents[*d].push(i);
        }
    }
    let key = |i: usize| Reverse((metas[i].timestamp, metas[i].hash));
    let mut ready: BinaryHeap<(Reverse<(i64, automerge::ChangeHash)>, usize)> = (0..metas.len())
        .filter(|i| waiting[*i] == 0)
        .map(|i| (key(i), i))
        .collect();
    let mut order = Vec::with_capacity(metas.len());
    while let Some((_, i)) = ready.pop() {
        order.push(i);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push((key(j), j));
            }
        }
    }
    let mut slots: Vec<Option<automerge::ChangeMetadata<'static>>> =
        metas.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
