//! The per-document exchange: a peer's `sync`, `request` and `doc-unavailable` for one document,
//! checked against the access policy, applied to the loaded document (changes persisted before
//! anything is sent, see the durability contract) and answered; local changes too.

use automerge::sync::{self, SyncDoc};
use automerge::Automerge;

use super::ack;
use super::batch::{push_item, Out};
use super::slots::{update_summary, DocState, Pending};
use super::states::mark_peer_lacks;
use super::{close_code, Action, ConnectionId, Engine, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{self, BatchItem, BatchKind, PeerId};

impl Engine {
    pub(super) fn run(&mut self, id: DocumentId, work: Pending, out: &mut Out) {
        match work {
            Pending::Incoming {
                peer,
                conn,
                kind,
                data,
            } => {
                // The peer may have gone (or reconnected elsewhere) while the document loaded.
                if self.peers.get(&peer).map(|p| p.conn) == Some(conn) {
                    self.receive(&peer, conn, kind, id, &data, out);
                }
            }
            Pending::SyncWith(peer) => {
                if self.peers.contains_key(&peer) && self.may_read(&peer, &id) {
                    let empty = self.docs.get(&id).is_none_or(|s| s.heads.is_empty());
                    let kind = if empty {
                        BatchKind::Request
                    } else {
                        BatchKind::Sync
                    };
                    self.generate(&peer, id, kind, out);
                }
            }
            Pending::Denied { peer, conn, data } => {
                if self.peers.get(&peer).map(|p| p.conn) != Some(conn) {
                    return;
                }
                let held = match (
                    self.docs.get(&id).map(|s| &s.state),
                    sync::Message::decode(&data),
                ) {
                    (Some(DocState::Loaded(doc)), Ok(msg)) => msg
                        .heads
                        .iter()
                        .all(|h| automerge::ReadDoc::get_change_by_hash(&**doc, h).is_some()),
                    _ => false,
                };
                let item = BatchItem {
                    kind: BatchKind::DocUnavailable,
                    document_id: id,
                    data: if held {
                        protocol::UNAVAILABLE_HELD.to_vec()
                    } else {
                        Vec::new()
                    },
                };
                push_item(&self.config.peer_id, &peer, conn, true, item, out);
            }
            Pending::Local(changes) => {
                let Some(slot) = self.docs.get_mut(&id) else {
                    return;
                };
                let DocState::Loaded(doc) = &mut slot.state else {
                    return;
                };
                // A local change the shell could not load is the shell's bug, not a peer's:
                // report it like a failed load and keep going.
                if let Err(e) = doc.load_incremental(&changes) {
                    out.actions.push(Action::LoadFailed {
                        document_id: id,
                        error: e.to_string(),
                    });
                    return;
                }
                let heads = doc.get_heads();
                let change = slot.set_heads(&id, heads);
                update_summary(self.deferred.as_mut(), &id, change);
                out.touched.push(id);
                // A document never synced with our server (no state, saved or from this
                // session: a record made while connected) may be new to it, and a server that
                // screens new documents by their book judges one only by its changes: the first
                // message carries them all, as for a document the summary found missing there.
                // (Were the server holding it after all, resent changes are harmless.)
                for p in self.peers.values_mut().filter(|p| p.outbound) {
                    if let std::collections::btree_map::Entry::Vacant(v) = p.states.entry(id) {
                        mark_peer_lacks(v.insert(sync::State::new()));
                    }
                }
                // Always fan out: the change may already have been in the loaded bytes.
                self.fan_out(id, None, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_doc_message(
        &mut self,
        now: Timestamp,
        peer: &PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        id: DocumentId,
        data: Vec<u8>,
        out: &mut Out,
    ) {
        if !self.may_read(peer, &id) {
            // A `crmBatch` peer holding a copy of a document we hold (moved to a book it may not
            // read) learns whether its copy strands anything: it tells the two apart by the heads
            // both sides last shared, which it may have lost (a restored server is a new peer).
            let held_here = self.docs.get(&id).is_some_and(|s| !s.heads.is_empty());
            let batch = self.peers.get(peer).is_some_and(|p| p.batch);
            if held_here && batch && kind == BatchKind::Sync && !data.is_empty() {
                let work = Pending::Denied {
                    peer: peer.clone(),
                    conn,
                    data,
                };
                return self.with_doc(now, id, work, out);
            }
            return self.send_unavailable(peer, id, out);
        }
        let fetched = self
            .peers
            .get_mut(peer)
            .is_some_and(|p| p.fetching.remove(&id));
        if fetched {
            // A fetch answered with the sync protocol (the server's copy was busy): from here
            // on it is a request like any other, from an empty document.
            self.leave_fetching(id, DocState::Loaded(Box::new(Automerge::new())), out);
        }
        self.with_doc(
            now,
            id,
            Pending::Incoming {
                peer: peer.clone(),
                conn,
                kind,
                data,
            },
            out,
        );
    }

    fn receive(
        &mut self,
        peer: &PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        id: DocumentId,
        data: &[u8],
        out: &mut Out,
    ) {
        out.touched_states.push((peer.clone(), id));
        let may_write = self.may_write(peer, &id);
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let DocState::Loaded(doc) = &mut slot.state else {
            return;
        };
        let empty = slot.heads.is_empty();
        if empty && (kind == BatchKind::Request || !may_write) {
            // Unknown here (or a denied upload): indistinguishable from a denied read.
            if kind == BatchKind::Request {
                // Remember the asker (as automerge-repo does): when the document shows up, the
                // fan-out sends it to them.
                if let Some(p) = self.peers.get_mut(peer) {
                    p.states.entry(id).or_default();
                }
            }
            return self.send_unavailable(peer, id, out);
        }
        let msg = match sync::Message::decode(data) {
            Ok(m) => m,
            Err(e) => {
                return self.fail(
                    conn,
                    close_code::INVALID_DATA,
                    format!("invalid sync message for {id}: {e}"),
                    out,
                )
            }
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        // A peer that may not write here and holds changes we lack would wait forever for us to
        // ask for them (a read-only state never does): it is told the document is unavailable,
        // after whatever we have for it, so its sync ends and its edits stay with it.
        let refused =
            !may_write && !automerge::ReadDoc::get_missing_deps(&**doc, &msg.heads).is_empty();
        let state = p.states.entry(id).or_default();
        state.set_read_only(!may_write);
        // An acknowledgement of our heads changes nothing but the sync state.
        let msg = match ack::receive(doc, &slot.heads, state, msg) {
            Ok(()) => {
                self.generate(peer, id, BatchKind::Sync, out);
                return;
            }
            Err(msg) => msg,
        };
        let before = slot.heads.clone();
        // A document that arrives whole (a V2 message carries one document chunk) is persisted
        // as it came: compact and fast to load, and no encoding here.
        let whole = (may_write && before.is_empty())
            .then(|| whole_document(&msg))
            .flatten();
        if let Err(e) = doc.receive_sync_message(state, msg) {
            return self.fail(
                conn,
                close_code::INVALID_DATA,
                format!("sync message for {id} rejected: {e}"),
                out,
            );
        }
        let after = doc.get_heads();
        let changed = after != before;
        if changed {
            let changes = match whole {
                // The document was empty: it now holds exactly that chunk's changes.
                Some(chunk) => chunk,
                // A new document is stored in the compact document format (loads much faster
                // than a run of changes); otherwise only what is new.
                None if before.is_empty() => doc.save(),
                None => doc.save_after(&before),
            };
            out.actions.push(Action::Persist {
                document_id: id,
                changes,
            });
            let change = slot.set_heads(&id, after);
            update_summary(self.deferred.as_mut(), &id, change);
            out.touched.push(id);
        }
        self.generate(peer, id, BatchKind::Sync, out);
        if refused {
            self.send_unavailable(peer, id, out);
        }
        if changed {
            self.fan_out(id, Some(peer), out);
        }
    }

    pub(super) fn send_unavailable(&mut self, peer: &PeerId, id: DocumentId, out: &mut Out) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let item = BatchItem {
            kind: BatchKind::DocUnavailable,
            document_id: id,
            data: Vec::new(),
        };
        push_item(&self.config.peer_id, peer, p.conn, p.batch, item, out);
    }

    /// `held`: the peer said it holds every change of ours we named ([`protocol::UNAVAILABLE_HELD`]).
    pub(super) fn on_unavailable(
        &mut self,
        peer: &PeerId,
        id: DocumentId,
        held: bool,
        out: &mut Out,
    ) {
        // The heads both sides were known to hold (restored from the last session too): ours
        // among them means the peer had everything of ours.
        let ours = self.docs.get(&id).map_or(&[][..], |s| s.heads.as_slice());
        let shared = self
            .peers
            .get(peer)
            .and_then(|p| p.states.get(&id))
            .map_or(&[][..], |st| st.shared_heads.as_slice());
        let unsent = !held && !ours.iter().all(|h| shared.contains(h));
        out.actions.push(Action::Unavailable {
            document_id: id,
            peer_id: peer.clone(),
            unsent,
        });
        // Forget the session state: the peer has nothing for us to build on.
        let mut fetched = false;
        if let Some(p) = self.peers.get_mut(peer) {
            p.states.remove(&id);
            fetched = p.fetching.remove(&id);
        }
        if fetched
            && matches!(
                self.docs.get(&id).map(|s| &s.state),
                Some(DocState::Fetching { arrived: false, .. })
            )
        {
            self.leave_fetching(id, DocState::Unloaded, out);
        }
        out.touched_states.push((peer.clone(), id));
    }
}

/// The bytes of a sync message that carries one whole document (a single document chunk, as
/// automerge sends to a peer that has nothing), if it is one.
fn whole_document(msg: &sync::Message) -> Option<Vec<u8>> {
    let mut chunks = msg.changes.iter();
    let (Some(chunk), None) = (chunks.next(), chunks.next()) else {
        return None;
    };
    is_document_chunk(chunk).then(|| chunk.to_vec())
}

/// True for exactly one whole-document chunk of Automerge's storage format.
pub(super) fn is_document_chunk(bytes: &[u8]) -> bool {
    crate::automerge_format::chunk::is_single_document(bytes)
}
