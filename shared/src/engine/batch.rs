//! The output of one `handle` call: actions in order, and the items for each `crmBatch` peer,
//! gathered and sent as frames of bounded size at the end of the call (a lone item travels as
//! the plain message it stands for).

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, ConnectionId, Engine, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{BatchItem, BatchKind, Message, PeerId};

/// Output collected during one `handle` call.
#[derive(Default)]
pub(super) struct Out {
    pub(super) actions: Vec<Action>,
    /// Items for `crmBatch` peers, flushed as one frame per peer at the end of the call.
    pub(super) batches: BTreeMap<PeerId, (ConnectionId, Vec<BatchItem>)>,
    pub(super) load: BTreeSet<DocumentId>,
    /// Documents whose stored bytes peers `fetch`ed, and who asked.
    pub(super) raw: BTreeMap<DocumentId, Vec<PeerId>>,
    /// Documents whose heads or load state changed: re-settled with every peer in `finish`.
    pub(super) touched: Vec<DocumentId>,
    /// (peer, document) pairs whose sync state may have changed: re-settled in `finish` with
    /// that peer only, so an acknowledgement costs the same with 1 peer or 1000.
    pub(super) touched_states: Vec<(PeerId, DocumentId)>,
}

/// Items of one `crm-batch` frame at most (the decoder takes up to `MAX_BATCH_ITEMS`).
const BATCH_FRAME_ITEMS: usize = 20_000;
/// Bytes of one `crm-batch` frame, about (servers accept 16 MiB frames by default).
const BATCH_FRAME_BYTES: usize = 2 * 1024 * 1024;

impl Engine {
    pub(super) fn finish(&mut self, now: Timestamp, mut out: Out) -> Vec<Action> {
        self.resettle_touched(&mut out);
        if !self.backlogged.is_empty() {
            let pumping: Vec<PeerId> = self.backlogged.iter().cloned().collect();
            for peer in &pumping {
                self.pump(now, peer, &mut out);
            }
            let peers = &self.peers;
            self.backlogged
                .retain(|id| peers.get(id).is_some_and(|p| !p.backlog.is_empty()));
            self.resettle_touched(&mut out);
        }
        for (peer, (conn, items)) in std::mem::take(&mut out.batches) {
            // (A `doc-unavailable` with data says more than the plain message can.)
            let alone = match items.as_slice() {
                [item] => match item.kind {
                    BatchKind::Sync | BatchKind::Request => true,
                    BatchKind::DocUnavailable => item.data.is_empty(),
                    BatchKind::Fetch | BatchKind::Doc => false,
                },
                _ => false,
            };
            if alone {
                if let Some(message) = single_message(&self.config.peer_id, &peer, items) {
                    out.actions.push(Action::Send { conn, message });
                }
                continue;
            }
            // Frames stay well under every frame limit (a big book is many batches), and the
            // receiver starts on the first while the rest are still on the way.
            for items in split_batch(items) {
                out.actions.push(Action::Send {
                    conn,
                    message: Message::CrmBatch {
                        sender_id: self.config.peer_id.clone(),
                        target_id: peer.clone(),
                        items,
                    },
                });
            }
        }
        if !out.load.is_empty() {
            out.actions.push(Action::Load {
                documents: out.load.into_iter().collect(),
            });
        }
        if !out.raw.is_empty() {
            let documents: Vec<DocumentId> = out.raw.keys().copied().collect();
            for (id, peers) in out.raw {
                self.awaiting_raw.entry(id).or_default().extend(peers);
            }
            out.actions.push(Action::LoadRaw { documents });
        }
        out.actions
    }
}

pub(super) fn push_item(
    me: &PeerId,
    peer: &PeerId,
    conn: ConnectionId,
    batch: bool,
    item: BatchItem,
    out: &mut Out,
) {
    if batch {
        out.batches
            .entry(peer.clone())
            .or_insert_with(|| (conn, Vec::new()))
            .1
            .push(item);
    } else if let Some(message) = single_message(me, peer, vec![item]) {
        out.actions.push(Action::Send { conn, message });
    }
}

/// Splits batch items into runs of at most [`BATCH_FRAME_ITEMS`] items and about
/// [`BATCH_FRAME_BYTES`] bytes (a single bigger item travels alone).
pub(super) fn split_batch(items: Vec<BatchItem>) -> Vec<Vec<BatchItem>> {
    let mut frames = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        // The item's data plus its id, kind and CBOR framing.
        let size = item.data.len() + 32;
        if !current.is_empty()
            && (current.len() >= BATCH_FRAME_ITEMS || bytes + size > BATCH_FRAME_BYTES)
        {
            frames.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        frames.push(current);
    }
    frames
}

/// The standalone message for a one-item batch.
fn single_message(me: &PeerId, peer: &PeerId, mut items: Vec<BatchItem>) -> Option<Message> {
    let item = items.pop()?;
    let (sender_id, target_id, document_id, data) =
        (me.clone(), peer.clone(), item.document_id, item.data);
    Some(match item.kind {
        BatchKind::Sync => Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        },
        BatchKind::Request => Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        },
        BatchKind::DocUnavailable => Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        },
        // No standalone message: these travel only in a batch.
        BatchKind::Fetch | BatchKind::Doc => return None,
    })
}
