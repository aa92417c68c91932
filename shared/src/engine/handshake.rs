//! The handshake: a `join` answered with `peer` on a connection the shell accepted, a `peer`
//! awaited on one it opened; the `crmBatch` version both speak is agreed here, a peer's earlier
//! connection is replaced, and an opened connection starts its summary exchange (or pushes every
//! document to a peer without `crmBatch`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::batch::Out;
use super::connection::Peer;
use super::states::{encode_states, restore_states};
use super::summary::AfterCatalog;
use super::{close_code, Action, ConnectionId, Engine, Timestamp};
use crate::protocol::{
    negotiate_batch, Message, PeerMetadata, CRM_BATCH_FETCH_VERSION, CRM_BATCH_MIN_VERSION,
    CRM_BATCH_VERSION, PROTOCOL_VERSION,
};

impl Engine {
    /// What we say about ourselves: `batch` is the `crmBatch` version offered (a client: the
    /// highest we speak) or agreed (a server: see [`negotiate_batch`]).
    pub(super) fn our_metadata(&self, batch: Option<u64>) -> PeerMetadata {
        PeerMetadata {
            storage_id: self.config.storage_id.clone(),
            is_ephemeral: self.config.is_ephemeral,
            crm_batch: batch,
        }
    }

    pub(super) fn on_handshake(
        &mut self,
        now: Timestamp,
        conn: ConnectionId,
        outbound: bool,
        msg: Message,
        out: &mut Out,
    ) {
        match (outbound, msg) {
            (
                false,
                Message::Join {
                    sender_id,
                    peer_metadata,
                    supported_protocol_versions,
                },
            ) => {
                let offers_v1 = supported_protocol_versions
                    .as_ref()
                    .is_none_or(|vs| vs.iter().any(|v| v == PROTOCOL_VERSION));
                if !offers_v1 {
                    out.actions.push(Action::Send {
                        conn,
                        message: Message::Error {
                            sender_id: Some(self.config.peer_id.clone()),
                            target_id: Some(sender_id),
                            message: format!(
                                "unsupported protocol version (this server speaks \"{PROTOCOL_VERSION}\")"
                            ),
                        },
                    });
                    return self.close(
                        conn,
                        close_code::PROTOCOL_ERROR,
                        "no common protocol version".into(),
                        out,
                    );
                }
                let version =
                    negotiate_batch(peer_metadata.crm_batch).filter(|_| self.config.batch);
                let batch = version.is_some();
                let mut states = BTreeMap::new();
                let mut unsettled = BTreeSet::new();
                if let Some(old) = self.peers.get(&sender_id) {
                    let old_conn = old.conn;
                    if old_conn != conn {
                        // Keep what survives a reconnect (shared heads), drop in-flight state.
                        restore_states(&mut states, encode_states(&old.states));
                        out.batches.remove(&sender_id);
                        out.actions.push(Action::Close {
                            conn: old_conn,
                            code: close_code::REPLACED,
                            reason: "replaced by a newer connection".into(),
                        });
                        self.conns.remove(&old_conn);
                    } else {
                        states = old.states.clone();
                        unsettled = old.unsettled.clone();
                    }
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.peer = Some(sender_id.clone());
                }
                self.insert_peer(
                    sender_id.clone(),
                    Peer {
                        conn,
                        metadata: peer_metadata.clone(),
                        batch,
                        fetch: version.is_some_and(|v| v >= CRM_BATCH_FETCH_VERSION),
                        outbound: false,
                        states,
                        unsettled,
                        backlog: VecDeque::new(),
                        fetching: BTreeSet::new(),
                    },
                );
                out.actions.push(Action::Send {
                    conn,
                    message: Message::Peer {
                        sender_id: self.config.peer_id.clone(),
                        target_id: sender_id.clone(),
                        peer_metadata: self.our_metadata(version),
                        selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                    },
                });
                out.actions.push(Action::PeerConnected {
                    conn,
                    peer_id: sender_id,
                    metadata: peer_metadata,
                    batch,
                });
            }
            (
                true,
                Message::Peer {
                    sender_id,
                    peer_metadata,
                    selected_protocol_version,
                    ..
                },
            ) => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    return self.fail(
                        conn,
                        close_code::PROTOCOL_ERROR,
                        format!("unsupported protocol version {selected_protocol_version:?}"),
                        out,
                    );
                }
                // The server answers with the version both speak (one we offered at most).
                let version = peer_metadata
                    .crm_batch
                    .filter(|v| (CRM_BATCH_MIN_VERSION..=CRM_BATCH_VERSION).contains(v))
                    .filter(|_| self.config.batch);
                let batch = version.is_some();
                let saved = match self.conns.get_mut(&conn) {
                    Some(c) => {
                        c.peer = Some(sender_id.clone());
                        std::mem::take(&mut c.saved_states)
                    }
                    None => return,
                };
                if let Some(old) = self.peers.get(&sender_id) {
                    if old.conn != conn {
                        let old_conn = old.conn;
                        out.actions.push(Action::Close {
                            conn: old_conn,
                            code: close_code::REPLACED,
                            reason: "replaced by a newer connection".into(),
                        });
                        self.conns.remove(&old_conn);
                    }
                }
                let mut states = BTreeMap::new();
                restore_states(&mut states, saved);
                self.insert_peer(
                    sender_id.clone(),
                    Peer {
                        conn,
                        metadata: peer_metadata.clone(),
                        batch,
                        fetch: version.is_some_and(|v| v >= CRM_BATCH_FETCH_VERSION),
                        outbound: true,
                        states,
                        unsettled: BTreeSet::new(),
                        backlog: VecDeque::new(),
                        fetching: BTreeSet::new(),
                    },
                );
                out.actions.push(Action::PeerConnected {
                    conn,
                    peer_id: sender_id.clone(),
                    metadata: peer_metadata,
                    batch,
                });
                if batch {
                    let summary = self.own_summary();
                    out.actions.push(Action::Send {
                        conn,
                        message: Message::CrmSummary {
                            sender_id: self.config.peer_id.clone(),
                            target_id: sender_id,
                            count: summary.count,
                            digest: summary.digest(),
                        },
                    });
                } else if self.deferred.is_some() {
                    self.awaiting_catalog.push(AfterCatalog::PushAll(sender_id));
                    out.actions.push(Action::LoadCatalog { buckets: None });
                } else {
                    self.push_all(now, &sender_id, out);
                }
            }
            (_, Message::Error { message, .. }) => {
                self.close(conn, close_code::NORMAL, message, out)
            }
            (false, other) => self.fail(
                conn,
                close_code::PROTOCOL_ERROR,
                format!("expected join, got {}", other.type_name()),
                out,
            ),
            (true, _) => {} // nothing but `peer` or `error` is meaningful before the handshake
        }
    }
}
