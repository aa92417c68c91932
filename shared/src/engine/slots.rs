//! Document slots and loading: each known document's catalog heads and digest, whether it is
//! in memory, loading or being fetched, and the work that waits for it.
//!
//! A message for a document not in memory queues as [`Pending`] work and makes the engine emit
//! [`Action::Load`]; [`super::Event::Loaded`] runs the queue. [`super::Event::Tick`] unloads
//! documents idle for [`super::Config::idle_unload_after_ms`].

use automerge::{Automerge, ChangeHash};

use super::batch::Out;
use super::{Action, ConnectionId, Engine, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{doc_digest, BatchKind, DocDigest, PeerId, SetSummary};

/// Messages buffered for a document while it loads.
#[derive(Debug)]
pub(super) enum Pending {
    Incoming {
        peer: PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        data: Vec<u8>,
    },
    /// Start (or continue) syncing with a peer; a `request` if we have nothing.
    SyncWith(PeerId),
    Local(Vec<u8>),
    /// A peer's sync message for a document we hold and it may not read: answered
    /// `doc-unavailable` once loaded, saying whether we hold every change it named.
    Denied {
        peer: PeerId,
        conn: ConnectionId,
        data: Vec<u8>,
    },
}

pub(super) enum DocState {
    Unloaded,
    Loading(Vec<Pending>),
    Loaded(Box<Automerge>),
    /// Asked for whole (`fetch`) and not stored yet: work for it waits here. `arrived`: the
    /// `doc` came and the shell is storing it ([`Action::StoreDocument`]).
    Fetching {
        queue: Vec<Pending>,
        arrived: bool,
    },
}

pub(super) struct DocSlot {
    /// The catalog entry: the last known heads (empty: we have nothing).
    pub(super) heads: Vec<ChangeHash>,
    /// The `docDigest` of `heads` (`None` when empty), kept with them.
    pub(super) digest: Option<DocDigest>,
    pub(super) state: DocState,
    pub(super) last_used: Timestamp,
}

impl DocSlot {
    pub(super) fn new(state: DocState, now: Timestamp) -> Self {
        DocSlot {
            heads: Vec::new(),
            digest: None,
            state,
            last_used: now,
        }
    }

    /// Sets the heads; returns the digests before and after.
    pub(super) fn set_heads(
        &mut self,
        id: &DocumentId,
        heads: Vec<ChangeHash>,
    ) -> (Option<DocDigest>, Option<DocDigest>) {
        let old = self.digest;
        if heads != self.heads {
            self.digest = (!heads.is_empty()).then(|| doc_digest(id, &heads));
            self.heads = heads;
        }
        (old, self.digest)
    }
}

/// Keeps a deferred catalog's summary up to date with a change of one document's digest.
pub(super) fn update_summary(
    summary: Option<&mut SetSummary>,
    id: &DocumentId,
    (old, new): (Option<DocDigest>, Option<DocDigest>),
) {
    if let Some(s) = summary {
        if old != new {
            if let Some(d) = old {
                s.remove(id, &d);
            }
            if let Some(d) = new {
                s.add(id, &d);
            }
        }
    }
}

impl Engine {
    /// Make sure a document is loaded or loading, without any work queued.
    pub(super) fn touch_or_load(&mut self, now: Timestamp, id: DocumentId, out: &mut Out) {
        let slot = self
            .docs
            .entry(id)
            .or_insert_with(|| DocSlot::new(DocState::Unloaded, now));
        slot.last_used = now;
        if matches!(slot.state, DocState::Unloaded) {
            slot.state = DocState::Loading(Vec::new());
            self.loading += 1;
            out.load.insert(id);
        }
    }

    /// Run `work` on a document now if it is loaded, else queue it and load the document.
    pub(super) fn with_doc(
        &mut self,
        now: Timestamp,
        id: DocumentId,
        work: Pending,
        out: &mut Out,
    ) {
        self.touch_or_load(now, id, out);
        match self.docs.get_mut(&id).map(|s| &mut s.state) {
            Some(DocState::Loading(queue)) | Some(DocState::Fetching { queue, .. }) => {
                queue.push(work)
            }
            Some(DocState::Loaded(_)) => self.run(id, work, out),
            _ => {}
        }
    }

    pub(super) fn on_loaded(
        &mut self,
        now: Timestamp,
        id: DocumentId,
        bytes: Option<Vec<u8>>,
        out: &mut Out,
    ) {
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let DocState::Loading(_) = slot.state else {
            return; // not asked for (or already loaded): ignore
        };
        let doc = match bytes.as_deref().map(Automerge::load) {
            None => Ok(Automerge::new()),
            Some(Ok(doc)) => Ok(doc),
            Some(Err(e)) => Err(e.to_string()),
        };
        let queue = match std::mem::replace(&mut slot.state, DocState::Unloaded) {
            DocState::Loading(q) => q,
            _ => Vec::new(),
        };
        self.loading -= 1;
        out.touched.push(id);
        slot.last_used = now;
        match doc {
            Ok(doc) => {
                // The stored heads: already in a deferred summary.
                let heads = doc.get_heads();
                slot.set_heads(&id, heads);
                slot.state = DocState::Loaded(Box::new(doc));
                for work in queue {
                    self.run(id, work, out);
                }
            }
            Err(error) => {
                out.actions.push(Action::LoadFailed {
                    document_id: id,
                    error,
                });
                for work in queue {
                    if let Pending::Incoming { peer, kind, .. } = work {
                        if kind != BatchKind::DocUnavailable {
                            self.send_unavailable(&peer, id, out);
                        }
                    }
                }
            }
        }
    }

    /// Unloads documents nobody touched for [`super::Config::idle_unload_after_ms`] and forgets
    /// empty documents nobody is loading.
    pub(super) fn unload_idle(&mut self, now: Timestamp) {
        let idle = self.config.idle_unload_after_ms;
        self.docs.retain(|_, slot| {
            if let DocState::Loaded(_) = slot.state {
                if slot.last_used.0.saturating_add(idle) <= now.0 {
                    slot.state = DocState::Unloaded;
                }
            }
            // An empty document nobody is loading is nothing worth remembering.
            !(matches!(slot.state, DocState::Unloaded) && slot.heads.is_empty())
        });
    }
}
