//! Generating sync messages for a peer, and fanning a change out to every interested peer:
//! peers in the same sync state share one generated message.

use automerge::sync::{self, SyncDoc};

use super::ack;
use super::batch::{push_item, Out};
use super::slots::{DocSlot, DocState};
use super::Engine;
use crate::document_id::DocumentId;
use crate::protocol::{BatchItem, BatchKind, PeerId};

/// At most this many messages are generated in a row for one (peer, document).
const MAX_GENERATE: usize = 8;

/// Distinct sync states remembered while fanning one change out (peers in other states get
/// messages of their own).
const MEMO_STATES: usize = 8;

/// What generating did for one sync state: the state before and after, and the messages.
struct Generated {
    pub(super) before: sync::State,
    pub(super) after: sync::State,
    pub(super) messages: Vec<Vec<u8>>,
}

impl Engine {
    /// Send changes of a document to every interested peer but `except`.
    pub(super) fn fan_out(&mut self, id: DocumentId, except: Option<&PeerId>, out: &mut Out) {
        let targets: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(pid, p)| {
                Some(*pid) != except && (p.outbound || p.batch || p.states.contains_key(&id))
            })
            .map(|(pid, _)| pid.clone())
            .collect();
        // Peers in the same sync state (every subscriber that acknowledged the last change) get
        // the same messages: generated once, not once per peer.
        let mut memo = Vec::new();
        for peer in targets {
            if self.may_read(&peer, &id) {
                self.generate_with(&peer, id, BatchKind::Sync, &mut memo, out);
            }
        }
    }

    pub(super) fn generate(
        &mut self,
        peer: &PeerId,
        id: DocumentId,
        kind: BatchKind,
        out: &mut Out,
    ) {
        self.generate_with(peer, id, kind, &mut Vec::new(), out);
    }

    /// Generates the next messages of one document for `peer`, reusing what `memo` holds for a
    /// peer that was in the same state (generating depends only on the document and the state).
    fn generate_with(
        &mut self,
        peer: &PeerId,
        id: DocumentId,
        kind: BatchKind,
        memo: &mut Vec<Generated>,
        out: &mut Out,
    ) {
        out.touched_states.push((peer.clone(), id));
        let Some(DocSlot {
            state: DocState::Loaded(doc),
            heads,
            ..
        }) = self.docs.get(&id)
        else {
            return;
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let state = p.states.entry(id).or_default();
        let (conn, batch) = (p.conn, p.batch);
        if ack::nothing_to_send(doc, state, heads) {
            return;
        }
        let messages = match memo.iter().find(|g| g.before == *state) {
            Some(g) => {
                state.clone_from(&g.after);
                g.messages.clone()
            }
            None => {
                let before = state.clone();
                let mut messages = Vec::new();
                for _ in 0..MAX_GENERATE {
                    let Some(msg) = doc.generate_sync_message(state) else {
                        break;
                    };
                    messages.push(msg.encode());
                }
                if memo.len() < MEMO_STATES {
                    memo.push(Generated {
                        before,
                        after: state.clone(),
                        messages: messages.clone(),
                    });
                }
                messages
            }
        };
        for data in messages {
            let item = BatchItem {
                kind,
                document_id: id,
                data,
            };
            push_item(&self.config.peer_id, peer, conn, batch, item, out);
        }
    }
}
