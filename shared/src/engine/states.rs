//! Sync states kept across sessions: encoded for the shell to save, restored on a reconnect
//! (a state made this session wins), marked "the peer lacks it", or made as a completed sync
//! leaves them.

use std::collections::BTreeMap;

use automerge::sync;
use automerge::ChangeHash;

use super::settle::resettle;
use super::{Engine, SavedSyncStates};
use crate::document_id::DocumentId;
use crate::protocol::PeerId;

impl Engine {
    /// Restore saved sync states of a connected peer (invalid entries are skipped); returns how
    /// many were restored. Servers call this on [`super::Action::PeerConnected`] if they keep states.
    ///
    /// A document that already has a state with the peer keeps it: that state was made this
    /// session and is newer than any saved one. Where the summary found the peer lacks the
    /// document, the first message still carries every change: a saved state claiming the peer
    /// holds our heads may be stale (a server restored from a backup) and would leave our changes
    /// unsent.
    pub fn restore_sync_states(&mut self, peer: &PeerId, states: SavedSyncStates) -> usize {
        let ids: Vec<DocumentId> = states.iter().map(|(id, _)| *id).collect();
        let Some(p) = self.peers.get_mut(peer) else {
            return 0;
        };
        let n = restore_states(&mut p.states, states);
        for id in ids {
            let ours = self
                .docs
                .get(&id)
                .map(|s| s.heads.as_slice())
                .unwrap_or(&[]);
            resettle(p, id, ours, &mut self.unsettled_peers);
        }
        n
    }
}

/// The sync state of a document both sides hold at `heads`, as a completed sync leaves it.
pub(super) fn synced_state(heads: &[ChangeHash]) -> sync::State {
    sync::State {
        shared_heads: heads.to_vec(),
        last_sent_heads: heads.to_vec(),
        their_heads: Some(heads.to_vec()),
        their_need: Some(Vec::new()),
        their_have: Some(vec![sync::Have {
            last_sync: heads.to_vec(),
            ..sync::Have::default()
        }]),
        have_responded: true,
        ..sync::State::default()
    }
}

pub(super) fn encode_states(states: &BTreeMap<DocumentId, sync::State>) -> SavedSyncStates {
    states.iter().map(|(id, s)| (*id, s.encode())).collect()
}

/// Marks a sync state as with a peer known to hold nothing of the document (as if it had said
/// "heads: [], have: nothing"): the next message generated carries every change.
pub(super) fn mark_peer_lacks(state: &mut sync::State) {
    state.their_heads = Some(Vec::new());
    state.their_need = Some(Vec::new());
    state.their_have = Some(vec![sync::Have::default()]);
}

/// Decodes saved states into `into`. A state `into` already holds for a document is newer and
/// kept, except one only marked "the peer lacks it" ([`mark_peer_lacks`]): the saved state takes
/// its place with the mark, so the first message still carries every change, and the heads the
/// peer was last known to share still tell a refusal from a document it hides from us
/// ([`super::Action::Unavailable`]'s `unsent`).
pub(super) fn restore_states(
    into: &mut BTreeMap<DocumentId, sync::State>,
    saved: SavedSyncStates,
) -> usize {
    let mut n = 0;
    for (id, bytes) in saved {
        let marked = match into.get(&id) {
            None => false,
            Some(state)
                if state.their_heads.as_deref() == Some(&[]) && state.sent_hashes.is_empty() =>
            {
                true
            }
            Some(_) => continue,
        };
        if let Ok(mut state) = sync::State::decode(&bytes) {
            if marked {
                mark_peer_lacks(&mut state);
            }
            into.insert(id, state);
            n += 1;
        }
    }
    n
}
