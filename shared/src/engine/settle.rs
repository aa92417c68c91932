//! Settling: whether a (peer, document) pair has anything in flight, kept up to date at the end
//! of every `handle` for the pairs it touched, with a per-document count of unsettled peers; and
//! unloading documents once they are settled everywhere.

use std::collections::BTreeMap;

use automerge::sync;
use automerge::{Automerge, ChangeHash};

use super::batch::Out;
use super::connection::Peer;
use super::slots::DocState;
use super::Engine;
use crate::document_id::DocumentId;

impl Engine {
    /// Unloads loaded documents that no peer has anything in flight for (all their sync states
    /// are settled), but for the [`super::Config::keep_settled`] that settled most recently. Their
    /// heads stay in the catalog and their states with the peers; a later message loads them
    /// again.
    /// Shells call this after they persisted a round (the server after every group commit, the
    /// client after every merge), so memory follows the documents in flight rather than every
    /// document touched. Returns how many were unloaded.
    pub fn unload_settled(&mut self) -> usize {
        let mut gone = Vec::new();
        self.unload_settled_into(&mut gone)
    }

    /// [`Engine::unload_settled`], handing the unloaded documents to `gone` instead of dropping
    /// them here: freeing a document's memory costs about a tenth of what loading it did, which a
    /// shell may spend on another thread.
    pub fn unload_settled_into(&mut self, gone: &mut Vec<Automerge>) -> usize {
        for id in std::mem::take(&mut self.recently_used) {
            self.settles += 1;
            if let Some(at) = self.kept_at.insert(id, self.settles) {
                self.kept.remove(&at);
            }
            self.kept.insert(self.settles, id);
        }
        let mut n = 0;
        while self.kept.len() > self.config.keep_settled {
            let Some((_, id)) = self.kept.pop_first() else {
                break;
            };
            self.kept_at.remove(&id);
            let Some(slot) = self.docs.get_mut(&id) else {
                continue;
            };
            if !matches!(slot.state, DocState::Loaded(_)) {
                continue;
            }
            debug_assert_eq!(
                self.unsettled_peers.get(&id).copied().unwrap_or(0),
                self.peers
                    .values()
                    .filter(|p| p.unsettled.contains(&id))
                    .count(),
                "unsettled count of {id}"
            );
            if self.unsettled_peers.contains_key(&id) {
                continue; // in flight again: looked at when it settles
            }
            if let DocState::Loaded(doc) = std::mem::replace(&mut slot.state, DocState::Unloaded) {
                gone.push(*doc);
            }
            n += 1;
            if slot.heads.is_empty() {
                self.docs.remove(&id);
            }
        }
        n
    }

    pub(super) fn resettle_touched(&mut self, out: &mut Out) {
        let mut touched = std::mem::take(&mut out.touched);
        touched.sort_unstable();
        touched.dedup();
        let mut pairs = std::mem::take(&mut out.touched_states);
        pairs.sort_unstable();
        pairs.dedup();
        for (peer, id) in &pairs {
            if touched.binary_search(id).is_ok() {
                continue; // re-settled with every peer below
            }
            let ours = self.docs.get(id).map(|s| s.heads.as_slice()).unwrap_or(&[]);
            if let Some(p) = self.peers.get_mut(peer) {
                resettle(p, *id, ours, &mut self.unsettled_peers);
            }
        }
        for id in &touched {
            let ours = self.docs.get(id).map(|s| s.heads.as_slice()).unwrap_or(&[]);
            for p in self.peers.values_mut() {
                resettle(p, *id, ours, &mut self.unsettled_peers);
            }
        }
        // Settling only ever follows a touch: a document still in flight is looked at again
        // when it settles.
        for id in touched
            .into_iter()
            .chain(pairs.into_iter().map(|(_, id)| id))
        {
            let loaded = self
                .docs
                .get(&id)
                .is_some_and(|s| matches!(s.state, DocState::Loaded(_)));
            if loaded && !self.unsettled_peers.contains_key(&id) {
                self.recently_used.insert(id);
            }
        }
    }
}

/// Nothing in flight for one (peer, document): untouched this session (a restored state the
/// summary found equal, or a document not yet started), or the peer's last known heads are ours
/// (or the peer refuses our changes and has nothing pending from us).
/// Once we have spoken, we wait for an answer.
fn settled(state: &sync::State, ours: &[ChangeHash]) -> bool {
    match &state.their_heads {
        None => !state.have_responded && !state.in_flight,
        Some(theirs) => {
            // A peer that keeps our changes out (a read-only grant) will never reach our heads:
            // once nothing of ours is in flight, there is nothing left to wait for.
            crate::heads::same_heads(theirs, ours)
                || (state.is_peer_read_only() && !state.in_flight)
        }
    }
}

/// Recomputes whether `id` is settled with peer `p`.
/// Recomputes whether `id` is settled with peer `p`, keeping `counts` (peers unsettled per
/// document) in step.
pub(super) fn resettle(
    p: &mut Peer,
    id: DocumentId,
    ours: &[ChangeHash],
    counts: &mut BTreeMap<DocumentId, usize>,
) {
    match p.states.get(&id) {
        Some(st) if !settled(st, ours) => {
            if p.unsettled.insert(id) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        _ => {
            if p.unsettled.remove(&id) {
                uncount(counts, &id);
            }
        }
    }
}

pub(super) fn uncount(counts: &mut BTreeMap<DocumentId, usize>, id: &DocumentId) {
    if let Some(n) = counts.get_mut(id) {
        *n -= 1;
        if *n == 0 {
            counts.remove(id);
        }
    }
}
