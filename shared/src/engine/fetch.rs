//! Whole-document fetch (`crmBatch` 3): a client asks with `fetch` for a document it lacks; the
//! server sends its stored bytes as they are (`doc`) without loading it, or syncs from memory
//! when it is loaded; the client's shell stores the bytes ([`Action::StoreDocument`]) and
//! answers [`super::Event::Stored`].

use super::batch::{push_item, Out};
use super::slots::{update_summary, DocSlot, DocState, Pending};
use super::states::{mark_peer_lacks, synced_state};
use super::{close_code, Action, Engine, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{BatchItem, BatchKind, PeerId};
use automerge::ChangeHash;

impl Engine {
    /// Ends the `Fetching` state of a document: `state` replaces it, and the work that waited
    /// runs (or waits for a load) as it would have.
    pub(super) fn leave_fetching(&mut self, id: DocumentId, state: DocState, out: &mut Out) {
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let queue = match std::mem::replace(&mut slot.state, state) {
            DocState::Fetching { queue, .. } => queue,
            other => {
                slot.state = other; // not fetching: left as it was
                return;
            }
        };
        let now = slot.last_used;
        out.touched.push(id);
        for work in queue {
            self.with_doc(now, id, work, out);
        }
    }

    /// A peer asks for a document whole (server side).
    pub(super) fn on_fetch(
        &mut self,
        now: Timestamp,
        peer: &PeerId,
        id: DocumentId,
        out: &mut Out,
    ) {
        if !self.peers.get(peer).is_some_and(|p| p.fetch) || !self.may_read(peer, &id) {
            return self.send_unavailable(peer, id, out);
        }
        let Some(slot) = self.docs.get(&id) else {
            return self.send_unavailable(peer, id, out);
        };
        if slot.heads.is_empty() {
            // Unknown here, or known empty: as for a `request`.
            return self.send_unavailable(peer, id, out);
        }
        if matches!(slot.state, DocState::Unloaded) {
            // Not in memory, so storage holds exactly its catalog heads: sent as stored.
            out.raw.entry(id).or_default().push(peer.clone());
            return;
        }
        // In memory (maybe with changes not yet persisted): the sync protocol, as for a
        // `request`, with everything in the first message.
        self.sync_whole(now, peer, id, out);
    }

    /// Starts syncing `id` with a peer that has nothing of it (its first message carries
    /// every change, as if the peer had said "heads: [], have: nothing").
    fn sync_whole(&mut self, now: Timestamp, peer: &PeerId, id: DocumentId, out: &mut Out) {
        if let Some(p) = self.peers.get_mut(peer) {
            mark_peer_lacks(p.states.entry(id).or_default());
        }
        self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
    }

    /// Stored bytes read for peers that fetched them (server side): each gets them as they are.
    pub(super) fn on_loaded_raw(
        &mut self,
        now: Timestamp,
        id: DocumentId,
        bytes: Option<Vec<u8>>,
        out: &mut Out,
    ) {
        let Some(peers) = self.awaiting_raw.remove(&id) else {
            return; // not asked for: ignore
        };
        let unloaded = self
            .docs
            .get(&id)
            .is_some_and(|s| matches!(s.state, DocState::Unloaded) && !s.heads.is_empty());
        for peer in peers {
            let Some(p) = self.peers.get(&peer) else {
                continue;
            };
            let conn = p.conn;
            match &bytes {
                // What storage holds is what the catalog says: the bytes go as they are. No
                // state is kept: the peer now holds these heads, and should the document change
                // before it goes, the next sync message starts from what the peer says.
                Some(bytes) if unloaded => {
                    let item = BatchItem {
                        kind: BatchKind::Doc,
                        document_id: id,
                        data: bytes.clone(),
                    };
                    push_item(&self.config.peer_id, &peer, conn, true, item, out);
                }
                // Loaded meanwhile: the sync protocol, from the copy in memory.
                Some(_) => self.sync_whole(now, &peer, id, out),
                None => self.send_unavailable(&peer, id, out),
            }
        }
    }

    /// A document we fetched came whole (client side): the shell stores it.
    pub(super) fn on_whole_document(
        &mut self,
        peer: &PeerId,
        id: DocumentId,
        bytes: Vec<u8>,
        out: &mut Out,
    ) {
        if !self
            .peers
            .get(peer)
            .is_some_and(|p| p.fetching.contains(&id))
        {
            return; // not asked for: ignore
        }
        let Some(DocSlot {
            state: DocState::Fetching { arrived, .. },
            ..
        }) = self.docs.get_mut(&id)
        else {
            return;
        };
        if *arrived {
            return; // a second copy: the first is being stored
        }
        *arrived = true;
        out.actions.push(Action::StoreDocument {
            document_id: id,
            bytes,
        });
    }

    /// The shell stored a fetched document (client side).
    pub(super) fn on_stored(
        &mut self,
        id: DocumentId,
        result: Result<Vec<ChangeHash>, String>,
        out: &mut Out,
    ) {
        if !matches!(
            self.docs.get(&id).map(|s| &s.state),
            Some(DocState::Fetching { arrived: true, .. })
        ) {
            return; // not being stored: ignore
        }
        let peers: Vec<PeerId> = self
            .peers
            .iter_mut()
            .filter_map(|(pid, p)| p.fetching.remove(&id).then(|| pid.clone()))
            .collect();
        match result {
            Ok(heads) => {
                if let Some(slot) = self.docs.get_mut(&id) {
                    let change = slot.set_heads(&id, heads.clone());
                    update_summary(self.deferred.as_mut(), &id, change);
                }
                // Both sides hold these heads, as after a completed sync: a later change of
                // either side costs only that change.
                for peer in &peers {
                    if let Some(p) = self.peers.get_mut(peer) {
                        p.states.insert(id, synced_state(&heads));
                    }
                }
                self.leave_fetching(id, DocState::Unloaded, out);
            }
            Err(error) => {
                self.leave_fetching(id, DocState::Unloaded, out);
                out.actions.push(Action::LoadFailed {
                    document_id: id,
                    error: error.clone(),
                });
                for peer in &peers {
                    if let Some(conn) = self.peers.get(peer).map(|p| p.conn) {
                        self.fail(
                            conn,
                            close_code::INVALID_DATA,
                            format!("document {id} does not load: {error}"),
                            out,
                        );
                    }
                }
            }
        }
    }
}
