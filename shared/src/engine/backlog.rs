//! The backlog: documents a summary found differing, started with a peer a window at a time so
//! that memory on both sides follows the window, not the size of the book.

use automerge::Automerge;

use super::batch::{push_item, Out};
use super::slots::{DocSlot, DocState, Pending};
use super::states::mark_peer_lacks;
use super::{Engine, Timestamp};
use crate::protocol::{BatchItem, BatchKind, PeerId};

/// How a document a summary found differing starts syncing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Both sides have it: the sync protocol.
    Sync,
    /// Only we have it: the first message carries everything.
    PeerLacks,
    /// Only the peer has it: fetched whole where the peer speaks it, else requested.
    WeLack,
}

/// Documents started from a summary that may be in flight with one peer at a time. Wide enough
/// for several frames to be on the way, so that each side works on one while the other works
/// on the next (a 180k-record restore: 1000 took 53 s, 4000 39 s, on 2 cores).
const SYNC_WINDOW: usize = 4000;

/// Documents fetched whole that may be in flight with one peer at a time. They cost the server
/// nothing while in flight (it sends stored bytes and keeps no state), the client their bytes:
/// wide, so that the client can store them in big transactions while more arrive.
const FETCH_WINDOW: usize = 16_384;

impl Engine {
    /// Starts backlogged documents with `peer` while fewer than [`SYNC_WINDOW`] are in flight.
    pub(super) fn pump(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let mut sync_budget = SYNC_WINDOW.saturating_sub(p.unsettled.len() + self.loading);
        let mut fetch_budget = FETCH_WINDOW.saturating_sub(p.fetching.len());
        loop {
            let Some(p) = self.peers.get_mut(peer) else {
                return;
            };
            let Some(&(id, start)) = p.backlog.front() else {
                break;
            };
            let fetch = start == Start::WeLack && p.fetch && p.outbound;
            let budget = if fetch {
                &mut fetch_budget
            } else {
                &mut sync_budget
            };
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            p.backlog.pop_front();
            if fetch {
                // The summary says we hold nothing of it: ask for it whole. (Were it stored
                // after all, e.g. by another process since, its bytes merge harmlessly.)
                let slot = self
                    .docs
                    .entry(id)
                    .or_insert_with(|| DocSlot::new(DocState::Unloaded, now));
                if slot.heads.is_empty() && matches!(slot.state, DocState::Unloaded) {
                    slot.state = DocState::Fetching {
                        queue: Vec::new(),
                        arrived: false,
                    };
                    slot.last_used = now;
                    p.fetching.insert(id);
                    let item = BatchItem {
                        kind: BatchKind::Fetch,
                        document_id: id,
                        data: Vec::new(),
                    };
                    push_item(&self.config.peer_id, peer, p.conn, true, item, out);
                    continue;
                }
            }
            if start == Start::PeerLacks {
                // The peer's list is complete and lacks this document: its first message
                // carries every change, saving a round trip (as if the peer had said
                // "heads: [], have: nothing"). Were the list stale, resent changes are harmless.
                mark_peer_lacks(p.states.entry(id).or_default());
            }
            // The catalog is the client's list of stored documents: one it does not list is
            // requested at once, without a storage round trip. (Were it stored after all, the
            // server's answer merges harmlessly into it.)
            self.docs
                .entry(id)
                .or_insert_with(|| DocSlot::new(DocState::Loaded(Box::new(Automerge::new())), now));
            self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
        }
    }
}
