//! Summary reconciliation (`crmBatch`): the client sends a digest of every document's heads, the
//! server answers whether it matches, else with its entries (or bucket digests first, then the
//! entries of differing buckets), and the differing documents go to the peer's backlog.
//!
//! With a deferred catalog ([`Engine::register_summary`]) the shell's summary stands in for the
//! catalog until a comparison needs entries: [`Action::LoadCatalog`] asks for them.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;

use super::backlog::Start;
use super::batch::Out;
use super::slots::{DocSlot, Pending};
use super::{Action, ConnectionId, Engine, PeerContext, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{
    self, bucket_of, bucket_range, DocDigest, HeadsDigest, Message, PeerId, SetSummary,
    SummaryEntry, BUCKETS,
};

/// What waits for [`super::Event::Catalog`].
pub(super) enum AfterCatalog {
    /// Compare the peer's entries (of these buckets, or of everything) with ours.
    Compare {
        peer: PeerId,
        scope: Option<Vec<u16>>,
        entries: Vec<SummaryEntry>,
    },
    /// Sync every document with a peer that does not speak `crmBatch`.
    PushAll(PeerId),
}

/// A summary mismatch lists every document when the server has at most this many (else it sends
/// bucket digests first).
const LIST_ALL_UP_TO: u64 = if cfg!(test) { 4 } else { BUCKETS as u64 };

impl Engine {
    /// Every document with non-empty heads, as a summary entry.
    pub(super) fn own_summary(&self) -> SetSummary {
        if let Some(s) = &self.deferred {
            return s.clone();
        }
        let mut s = SetSummary::default();
        for (id, slot) in &self.docs {
            if let Some(d) = &slot.digest {
                s.add(id, d);
            }
        }
        s
    }

    /// The documents `visible` (of these buckets, or all) with their digests.
    fn entries<'a>(
        &'a self,
        scope: Option<&[u16]>,
        visible: impl Fn(&DocumentId) -> bool + 'a,
    ) -> Vec<(DocumentId, DocDigest)> {
        let pick = |(id, slot): (&DocumentId, &DocSlot)| {
            slot.digest.filter(|_| visible(id)).map(|d| (*id, d))
        };
        match scope {
            None => self.docs.iter().filter_map(pick).collect(),
            Some(buckets) => {
                let mut buckets = buckets.to_vec();
                buckets.sort_unstable();
                buckets.dedup();
                buckets
                    .into_iter()
                    .flat_map(|b| {
                        let (lo, hi) = bucket_range(b);
                        self.docs.range(lo..=hi).filter_map(pick)
                    })
                    .collect()
            }
        }
    }

    fn sync_with_all(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in ids {
            self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
        }
    }

    pub(super) fn push_all(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        self.sync_with_all(now, peer, out);
    }

    /// The summary of what `peer` may read here.
    fn visible_summary(&self, peer: &PeerId, conn: ConnectionId) -> Option<SetSummary> {
        let p = self.peers.get(peer)?;
        let ctx = PeerContext {
            conn,
            peer_id: peer,
            metadata: &p.metadata,
        };
        let mut s = SetSummary::default();
        for (id, slot) in &self.docs {
            if let Some(d) = &slot.digest {
                if self.policy.may_read(ctx, id) {
                    s.add(id, d);
                }
            }
        }
        Some(s)
    }

    fn visible_entries(
        &self,
        peer: &PeerId,
        conn: ConnectionId,
        scope: Option<&[u16]>,
    ) -> Vec<SummaryEntry> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        let ctx = PeerContext {
            conn,
            peer_id: peer,
            metadata: &p.metadata,
        };
        let policy = &self.policy;
        self.entries(scope, move |id| policy.may_read(ctx, id))
            .into_iter()
            .map(|(id, d)| SummaryEntry {
                document_id: id,
                heads: d.entry(),
            })
            .collect()
    }

    pub(super) fn on_summary(
        &mut self,
        peer: &PeerId,
        conn: ConnectionId,
        count: u64,
        digest: protocol::SummaryDigest,
        out: &mut Out,
    ) {
        if !self.peers.get(peer).is_some_and(|p| p.batch) {
            return;
        }
        let Some(set) = self.visible_summary(peer, conn) else {
            return;
        };
        let ours = set.digest();
        let matched = ours == digest && set.count == count;
        // A mismatch lists everything when either side is empty or ours is small, else sends
        // the bucket digests so that only differing buckets get listed.
        let (entries, buckets) = if matched {
            (Vec::new(), Vec::new())
        } else if count == 0 || set.count <= LIST_ALL_UP_TO {
            (self.visible_entries(peer, conn, None), Vec::new())
        } else {
            (Vec::new(), set.wire_buckets())
        };
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmSummaryReply {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                count: set.count,
                digest: ours,
                matched,
                entries,
                buckets,
            },
        });
    }

    pub(super) fn on_buckets(
        &mut self,
        peer: &PeerId,
        conn: ConnectionId,
        buckets: Vec<u16>,
        out: &mut Out,
    ) {
        if !self.peers.get(peer).is_some_and(|p| p.batch && !p.outbound) {
            return;
        }
        let entries = self.visible_entries(peer, conn, Some(&buckets));
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmBucketEntries {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                buckets,
                entries,
            },
        });
    }

    pub(super) fn on_summary_reply(
        &mut self,
        peer: &PeerId,
        matched: bool,
        entries: Vec<SummaryEntry>,
        buckets: Vec<[u8; 8]>,
        out: &mut Out,
    ) {
        if matched {
            out.actions.push(Action::SummaryCompared {
                peer_id: peer.clone(),
                differing: 0,
            });
            return;
        }
        if buckets.is_empty() {
            return self.compare(peer, None, entries, out);
        }
        let ours = self.own_summary().wire_buckets();
        let differing: Vec<u16> = (0..BUCKETS)
            .filter(|&b| buckets.get(b) != ours.get(b))
            .map(|b| b as u16)
            .collect();
        if differing.is_empty() {
            out.actions.push(Action::SummaryCompared {
                peer_id: peer.clone(),
                differing: 0,
            });
            return;
        }
        let Some(conn) = self.peers.get(peer).map(|p| p.conn) else {
            return;
        };
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmBuckets {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                buckets: differing,
            },
        });
    }

    /// Compares the peer's entries (of `scope`, or of everything) with ours, once ours are known.
    pub(super) fn compare(
        &mut self,
        peer: &PeerId,
        scope: Option<Vec<u16>>,
        entries: Vec<SummaryEntry>,
        out: &mut Out,
    ) {
        if self.deferred.is_some() {
            out.actions.push(Action::LoadCatalog {
                buckets: scope.clone(),
            });
            self.awaiting_catalog.push(AfterCatalog::Compare {
                peer: peer.clone(),
                scope,
                entries,
            });
            return;
        }
        self.compare_now(peer, scope.as_deref(), entries, out);
    }

    pub(super) fn on_catalog(
        &mut self,
        now: Timestamp,
        documents: Vec<(DocumentId, Vec<ChangeHash>)>,
        complete: bool,
        out: &mut Out,
    ) {
        self.register_stored(documents);
        if complete {
            self.deferred = None;
        }
        for work in std::mem::take(&mut self.awaiting_catalog) {
            match work {
                AfterCatalog::Compare {
                    peer,
                    scope,
                    entries,
                } => self.compare_now(&peer, scope.as_deref(), entries, out),
                AfterCatalog::PushAll(peer) => {
                    if self.peers.contains_key(&peer) {
                        self.push_all(now, &peer, out);
                    }
                }
            }
        }
    }

    fn compare_now(
        &mut self,
        peer: &PeerId,
        scope: Option<&[u16]>,
        entries: Vec<SummaryEntry>,
        out: &mut Out,
    ) {
        if !self.peers.contains_key(peer) {
            return;
        }
        let in_scope = |id: &DocumentId| scope.is_none_or(|s| s.contains(&bucket_of(id)));
        // The documents that differ, and whether the peer lacks each one.
        let theirs: BTreeMap<DocumentId, HeadsDigest> = entries
            .into_iter()
            .filter(|e| in_scope(&e.document_id))
            .map(|e| (e.document_id, e.heads))
            .collect();
        let ours: BTreeMap<DocumentId, HeadsDigest> = self
            .entries(scope, |_| true)
            .into_iter()
            .map(|(id, d)| (id, d.entry()))
            .collect();
        let ids: BTreeSet<DocumentId> = theirs.keys().chain(ours.keys()).copied().collect();
        let differing: Vec<(DocumentId, Start)> = ids
            .into_iter()
            .filter(|id| theirs.get(id) != ours.get(id))
            .map(|id| {
                let start = if !theirs.contains_key(&id) {
                    Start::PeerLacks
                } else if !ours.contains_key(&id) {
                    Start::WeLack
                } else {
                    Start::Sync
                };
                (id, start)
            })
            .collect();
        out.actions.push(Action::SummaryCompared {
            peer_id: peer.clone(),
            differing: differing.len(),
        });
        if let Some(p) = self.peers.get_mut(peer) {
            p.backlog.extend(differing);
            if !p.backlog.is_empty() {
                self.backlogged.insert(peer.clone());
            }
        }
    }
}
