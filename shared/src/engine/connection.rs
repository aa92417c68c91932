//! Connections and the peers on them: what the engine keeps per connection and per peer, ending
//! a connection (with an `error` message or without), and what the access policy lets a peer do.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync;

use super::backlog::Start;
use super::batch::{split_batch, Out};
use super::settle::uncount;
use super::slots::DocState;
use super::states::encode_states;
use super::{Action, ConnectionId, Engine, PeerContext, SavedSyncStates};
use crate::document_id::DocumentId;
use crate::protocol::{Message, PeerId, PeerMetadata};

/// A peer that completed the handshake, on its current connection.
pub(super) struct Peer {
    pub(super) conn: ConnectionId,
    pub(super) metadata: PeerMetadata,
    pub(super) batch: bool,
    /// The peer speaks `fetch` / `doc` (`crmBatch` 3 or later).
    pub(super) fetch: bool,
    /// We opened the connection: the peer is our server and gets every document.
    pub(super) outbound: bool,
    pub(super) states: BTreeMap<DocumentId, sync::State>,
    /// Documents whose state with this peer is not settled (see `settle::settled`): kept up to
    /// date at the end of every `handle`, so [`Engine::is_synced_with`] is O(1).
    pub(super) unsettled: BTreeSet<DocumentId>,
    /// Documents a summary found differing, not started yet (and whether the peer lacks each):
    /// started as others settle, so that at most `backlog::SYNC_WINDOW` are in flight and memory
    /// on both sides follows that window, not the size of the book.
    pub(super) backlog: VecDeque<(DocumentId, Start)>,
    /// Documents asked for with `fetch` and not stored yet (in flight like `unsettled` ones).
    pub(super) fetching: BTreeSet<DocumentId>,
}

/// An open connection, and its peer once the handshake named it.
pub(super) struct Conn {
    pub(super) outbound: bool,
    pub(super) peer: Option<PeerId>,
    pub(super) saved_states: SavedSyncStates,
}

impl Engine {
    /// Adds (or replaces) a peer, keeping the per-document unsettled counts.
    pub(super) fn insert_peer(&mut self, id: PeerId, peer: Peer) {
        for doc in &peer.unsettled {
            *self.unsettled_peers.entry(*doc).or_insert(0) += 1;
        }
        if let Some(old) = self.peers.insert(id, peer) {
            self.forget_unsettled(&old.unsettled);
        }
    }

    /// Forgets a peer's unsettled documents in the per-document counts (it left or was replaced).
    fn forget_unsettled(&mut self, unsettled: &BTreeSet<DocumentId>) {
        for id in unsettled {
            uncount(&mut self.unsettled_peers, id);
        }
    }

    pub(super) fn fail(&mut self, conn: ConnectionId, code: u16, reason: String, out: &mut Out) {
        let target_id = self.conns.get(&conn).and_then(|c| c.peer.clone());
        out.actions.push(Action::Send {
            conn,
            message: Message::Error {
                sender_id: Some(self.config.peer_id.clone()),
                target_id,
                message: reason.clone(),
            },
        });
        self.close(conn, code, reason, out);
    }

    pub(super) fn close(&mut self, conn: ConnectionId, code: u16, reason: String, out: &mut Out) {
        // Flush batched items for this connection first: they precede the close.
        let flush: Vec<PeerId> = out
            .batches
            .iter()
            .filter(|(_, (c, _))| *c == conn)
            .map(|(p, _)| p.clone())
            .collect();
        for peer in flush {
            if let Some((c, items)) = out.batches.remove(&peer) {
                for items in split_batch(items) {
                    out.actions.push(Action::Send {
                        conn: c,
                        message: Message::CrmBatch {
                            sender_id: self.config.peer_id.clone(),
                            target_id: peer.clone(),
                            items,
                        },
                    });
                }
            }
        }
        out.actions.push(Action::Close { conn, code, reason });
        self.drop_conn(conn, out);
    }

    pub(super) fn drop_conn(&mut self, conn: ConnectionId, out: &mut Out) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(peer_id) = c.peer else { return };
        if self.peers.get(&peer_id).map(|p| p.conn) != Some(conn) {
            return; // replaced by a newer connection already
        }
        if let Some(p) = self.peers.remove(&peer_id) {
            self.forget_unsettled(&p.unsettled);
            out.batches.remove(&peer_id);
            // Fetches that got no answer: nothing is coming for them any more. (One whose
            // `doc` came is being stored by the shell and ends with `Stored`.)
            for id in &p.fetching {
                if matches!(
                    self.docs.get(id).map(|s| &s.state),
                    Some(DocState::Fetching { arrived: false, .. })
                ) {
                    self.leave_fetching(*id, DocState::Unloaded, out);
                }
            }
            out.actions.push(Action::PeerDisconnected {
                conn,
                peer_id,
                storage_id: p.metadata.storage_id.clone(),
                sync_states: encode_states(&p.states),
            });
        }
    }

    fn ctx_of<'a>(peers: &'a BTreeMap<PeerId, Peer>, peer: &'a PeerId) -> Option<PeerContext<'a>> {
        peers.get(peer).map(|p| PeerContext {
            conn: p.conn,
            peer_id: peer,
            metadata: &p.metadata,
        })
    }

    pub(super) fn may_read(&self, peer: &PeerId, doc: &DocumentId) -> bool {
        Self::ctx_of(&self.peers, peer).is_some_and(|ctx| self.policy.may_read(ctx, doc))
    }

    pub(super) fn may_write(&self, peer: &PeerId, doc: &DocumentId) -> bool {
        Self::ctx_of(&self.peers, peer).is_some_and(|ctx| self.policy.may_write(ctx, doc))
    }
}
