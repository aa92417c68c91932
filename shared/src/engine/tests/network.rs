//! A deterministic in-memory network of engines with real (in-memory) storage.
//!
//! Each node is an [`Engine`] plus a store (document → concatenated persisted bytes). Frames are
//! encoded with the real codec and queued per connection in FIFO order; the test decides when to
//! deliver, drop or duplicate them. `Load` actions are answered at once from the store, `Persist`
//! appends to it, so the store is exactly what would survive a crash.

use std::collections::{BTreeMap, VecDeque};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ReadDoc, ROOT};

use crate::document_id::DocumentId;
use crate::engine::{
    AccessPolicy, Action, Config, ConnectionId, Engine, Event, SavedSyncStates, Timestamp,
};
use crate::protocol::{self, Message, PeerId};

pub struct Node {
    pub engine: Engine,
    pub store: BTreeMap<DocumentId, Vec<u8>>,
    /// Every action but `Send`, for assertions.
    pub log: Vec<Action>,
    /// Sync states handed back by `PeerDisconnected`, by peer.
    pub saved: BTreeMap<String, SavedSyncStates>,
    actor: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The node that opened the connection (the client).
    pub client: usize,
    /// The node that accepted it (the server).
    pub server: usize,
    pub open: bool,
}

#[derive(Debug, Clone)]
pub enum Delivery {
    Frame(Vec<u8>),
    Disconnect,
}

/// One sent frame, decoded, for assertions.
#[derive(Debug, Clone)]
pub struct Sent {
    pub from: usize,
    pub to: usize,
    pub bytes: usize,
    pub message: Message,
}

pub struct Net {
    pub nodes: Vec<Node>,
    pub links: BTreeMap<ConnectionId, Link>,
    /// In-flight deliveries per (connection, receiving node), FIFO.
    pub queues: BTreeMap<(ConnectionId, usize), VecDeque<Delivery>>,
    pub sent: Vec<Sent>,
    pub now: u64,
    next_conn: u64,
}

pub fn peer(name: &str) -> PeerId {
    name.parse().expect("valid peer id")
}

pub fn doc_id(n: u8) -> DocumentId {
    DocumentId::from_random([n; 16])
}

impl Net {
    pub fn new() -> Self {
        Net {
            nodes: Vec::new(),
            links: BTreeMap::new(),
            queues: BTreeMap::new(),
            sent: Vec::new(),
            now: 1_000,
            next_conn: 1,
        }
    }

    pub fn add(&mut self, config: Config) -> usize {
        self.add_engine(Engine::new(config))
    }

    pub fn add_with_policy(&mut self, config: Config, policy: Box<dyn AccessPolicy>) -> usize {
        self.add_engine(Engine::with_policy(config, policy))
    }

    fn add_engine(&mut self, engine: Engine) -> usize {
        let actor = self.nodes.len() as u8;
        self.nodes.push(Node {
            engine,
            store: BTreeMap::new(),
            log: Vec::new(),
            saved: BTreeMap::new(),
            actor,
        });
        self.nodes.len() - 1
    }

    fn ts(&self) -> Timestamp {
        Timestamp(self.now)
    }

    /// Feed an event to a node and execute the resulting actions (loads are answered at once).
    pub fn event(&mut self, node: usize, event: Event) {
        let now = self.ts();
        let actions = self.nodes[node].engine.handle(now, event);
        self.execute(node, actions);
    }

    fn execute(&mut self, node: usize, actions: Vec<Action>) {
        let mut work = VecDeque::from(actions);
        while let Some(action) = work.pop_front() {
            match action {
                Action::Send { conn, message } => {
                    let Some(link) = self.links.get(&conn).copied() else {
                        continue;
                    };
                    if !link.open {
                        continue;
                    }
                    let to = if link.client == node {
                        link.server
                    } else {
                        link.client
                    };
                    self.check_durable(node, &message);
                    let bytes = protocol::encode(&message);
                    self.sent.push(Sent {
                        from: node,
                        to,
                        bytes: bytes.len(),
                        message,
                    });
                    self.queues
                        .entry((conn, to))
                        .or_default()
                        .push_back(Delivery::Frame(bytes));
                }
                Action::Load { documents } => {
                    let loaded = documents
                        .iter()
                        .map(|d| (*d, self.nodes[node].store.get(d).cloned()))
                        .collect();
                    self.nodes[node].log.push(Action::Load { documents });
                    let now = self.ts();
                    let more = self.nodes[node]
                        .engine
                        .handle(now, Event::Loaded { documents: loaded });
                    // Loaded's actions come after whatever is already queued.
                    work.extend(more);
                }
                Action::LoadRaw { documents } => {
                    let loaded = documents
                        .iter()
                        .map(|d| (*d, self.nodes[node].store.get(d).cloned()))
                        .collect();
                    self.nodes[node].log.push(Action::LoadRaw { documents });
                    let now = self.ts();
                    let more = self.nodes[node]
                        .engine
                        .handle(now, Event::LoadedRaw { documents: loaded });
                    work.extend(more);
                }
                Action::StoreDocument { document_id, bytes } => {
                    // As the client shell does: stored as it came (merged into what another
                    // path may have stored meanwhile), committed, then reported with its heads.
                    let result = match Automerge::load(&bytes) {
                        Ok(doc) => {
                            self.nodes[node]
                                .store
                                .entry(document_id)
                                .or_default()
                                .extend_from_slice(&bytes);
                            Ok(doc.get_heads())
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    self.nodes[node]
                        .log
                        .push(Action::StoreDocument { document_id, bytes });
                    let now = self.ts();
                    let more = self.nodes[node].engine.handle(
                        now,
                        Event::Stored {
                            documents: vec![(document_id, result)],
                        },
                    );
                    work.extend(more);
                }
                Action::LoadCatalog { buckets } => {
                    let documents: Vec<_> = self.nodes[node]
                        .store
                        .iter()
                        .filter(|(id, _)| {
                            buckets
                                .as_ref()
                                .is_none_or(|b| b.contains(&protocol::bucket_of(id)))
                        })
                        .filter_map(|(id, bytes)| {
                            Some((*id, Automerge::load(bytes).ok()?.get_heads()))
                        })
                        .collect();
                    self.nodes[node].log.push(Action::LoadCatalog {
                        buckets: buckets.clone(),
                    });
                    let now = self.ts();
                    let more = self.nodes[node].engine.handle(
                        now,
                        Event::Catalog {
                            documents,
                            complete: buckets.is_none(),
                        },
                    );
                    work.extend(more);
                }
                Action::Persist {
                    document_id,
                    changes,
                } => {
                    self.nodes[node]
                        .store
                        .entry(document_id)
                        .or_default()
                        .extend_from_slice(&changes);
                    self.nodes[node].log.push(Action::Persist {
                        document_id,
                        changes,
                    });
                }
                Action::Close { conn, code, reason } => {
                    if let Some(link) = self.links.get_mut(&conn) {
                        if link.open {
                            link.open = false;
                            let other = if link.client == node {
                                link.server
                            } else {
                                link.client
                            };
                            self.queues
                                .entry((conn, other))
                                .or_default()
                                .push_back(Delivery::Disconnect);
                        }
                    }
                    self.nodes[node]
                        .log
                        .push(Action::Close { conn, code, reason });
                }
                Action::PeerDisconnected {
                    conn,
                    peer_id,
                    storage_id,
                    sync_states,
                } => {
                    // A shell keeps states by the peer's storage id (stable across sessions).
                    let key = storage_id
                        .as_ref()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| peer_id.as_str().to_owned());
                    self.nodes[node].saved.insert(key, sync_states.clone());
                    self.nodes[node].log.push(Action::PeerDisconnected {
                        conn,
                        peer_id,
                        storage_id,
                        sync_states,
                    });
                }
                Action::PeerConnected {
                    conn,
                    peer_id,
                    metadata,
                    batch,
                } => {
                    // A server shell restores the states it kept for this storage id.
                    if let Some(sid) = &metadata.storage_id {
                        if let Some(states) = self.nodes[node].saved.get(sid.as_str()).cloned() {
                            self.nodes[node]
                                .engine
                                .restore_sync_states(&peer_id, states);
                        }
                    }
                    self.nodes[node].log.push(Action::PeerConnected {
                        conn,
                        peer_id,
                        metadata,
                        batch,
                    });
                }
                other => self.nodes[node].log.push(other),
            }
        }
    }

    /// The durability contract: every head a node announces in a sync message is in its store.
    fn check_durable(&self, node: usize, message: &Message) {
        let items: Vec<(DocumentId, &[u8])> = match message {
            Message::Sync {
                document_id, data, ..
            }
            | Message::Request {
                document_id, data, ..
            } => {
                vec![(*document_id, data.as_slice())]
            }
            // `doc` items are stored bytes (durable by definition), `fetch` items empty.
            Message::CrmBatch { items, .. } => items
                .iter()
                .filter(|i| {
                    matches!(
                        i.kind,
                        crate::protocol::BatchKind::Sync | crate::protocol::BatchKind::Request
                    )
                })
                .map(|i| (i.document_id, i.data.as_slice()))
                .collect(),
            _ => return,
        };
        for (doc, data) in items {
            let msg =
                automerge::sync::Message::decode(data).expect("engine sends valid sync messages");
            if msg.heads.is_empty() {
                continue;
            }
            let stored = self.stored(node, &doc).unwrap_or_default();
            for h in &msg.heads {
                assert!(
                    stored.get_change_by_hash(h).is_some(),
                    "node {node} announced head {h} of {doc} before persisting it"
                );
            }
        }
    }

    /// Open a connection from `client` to `server`, restoring the client's saved states for
    /// `server_key` (the server's storage id).
    pub fn connect(&mut self, client: usize, server: usize, server_key: &str) -> ConnectionId {
        let conn = ConnectionId(self.next_conn);
        self.next_conn += 1;
        self.links.insert(
            conn,
            Link {
                client,
                server,
                open: true,
            },
        );
        self.event(server, Event::Accepted { conn });
        let sync_states = self.nodes[client]
            .saved
            .get(server_key)
            .cloned()
            .unwrap_or_default();
        self.event(client, Event::Connected { conn, sync_states });
        conn
    }

    /// Drop a connection abruptly: both ends see `Disconnected`, in-flight frames are lost.
    pub fn disconnect(&mut self, conn: ConnectionId) {
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        link.open = false;
        let link = *link;
        self.queues.remove(&(conn, link.client));
        self.queues.remove(&(conn, link.server));
        self.event(link.client, Event::Disconnected { conn });
        self.event(link.server, Event::Disconnected { conn });
    }

    /// The non-empty queues, in a stable order.
    pub fn busy(&self) -> Vec<(ConnectionId, usize)> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| *k)
            .collect()
    }

    /// Deliver the first in-flight item of one queue.
    pub fn deliver(&mut self, key: (ConnectionId, usize)) {
        let Some(item) = self.queues.get_mut(&key).and_then(VecDeque::pop_front) else {
            return;
        };
        let (conn, to) = key;
        match item {
            Delivery::Frame(bytes) => self.event(to, Event::Frame { conn, bytes }),
            Delivery::Disconnect => self.event(to, Event::Disconnected { conn }),
        }
    }

    /// Lose the first in-flight item of one queue.
    pub fn drop_first(&mut self, key: (ConnectionId, usize)) {
        if let Some(q) = self.queues.get_mut(&key) {
            q.pop_front();
        }
    }

    /// Deliver the first in-flight item of one queue and keep a copy to deliver again.
    pub fn duplicate_first(&mut self, key: (ConnectionId, usize)) {
        let Some(item) = self.queues.get(&key).and_then(|q| q.front().cloned()) else {
            return;
        };
        self.deliver(key);
        if let Some(q) = self.queues.get_mut(&key) {
            q.push_front(item);
        }
    }

    /// Deliver everything until no frame is in flight; panics after `max_steps` deliveries.
    pub fn run_until_quiescent(&mut self, max_steps: usize) {
        for _ in 0..max_steps {
            let busy = self.busy();
            if busy.is_empty() {
                return;
            }
            for key in busy {
                self.deliver(key);
            }
        }
        panic!("network did not quiesce after {max_steps} rounds");
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Edit a document as a client shell would: load it from the store, change it, persist the
    /// change, then tell the engine.
    pub fn edit(
        &mut self,
        node: usize,
        doc: DocumentId,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) {
        let n = &mut self.nodes[node];
        let mut am = match n.store.get(&doc) {
            Some(bytes) => Automerge::load(bytes).expect("store holds a valid document"),
            None => Automerge::new(),
        };
        am.set_actor(ActorId::from(vec![n.actor + 1; 16]));
        let before = am.get_heads();
        let mut tx = am.transaction();
        f(&mut tx);
        tx.commit();
        let changes = am.save_after(&before);
        n.store.entry(doc).or_default().extend_from_slice(&changes);
        self.event(
            node,
            Event::LocalChange {
                document_id: doc,
                changes,
            },
        );
    }

    pub fn put(&mut self, node: usize, doc: DocumentId, key: &str, value: &str) {
        self.edit(node, doc, |tx| {
            tx.put(ROOT, key, value).expect("put");
        });
    }

    /// The document as persisted by a node.
    pub fn stored(&self, node: usize, doc: &DocumentId) -> Option<Automerge> {
        self.nodes[node]
            .store
            .get(doc)
            .map(|b| Automerge::load(b).expect("store holds a valid document"))
    }

    /// Messages of one type sent from `from` to `to`.
    pub fn sent_types(&self, from: usize, to: usize) -> Vec<&'static str> {
        self.sent
            .iter()
            .filter(|s| s.from == from && s.to == to)
            .map(|s| s.message.type_name())
            .collect()
    }
}

/// Root keys and all their (conflicting) values: the content to compare between replicas.
pub fn dump(doc: &Automerge) -> BTreeMap<String, Vec<String>> {
    doc.keys(ROOT)
        .map(|k| {
            let vals = doc
                .get_all(ROOT, &k)
                .expect("read root")
                .into_iter()
                .map(|(v, id)| format!("{v:?}@{id}"))
                .collect();
            (k, vals)
        })
        .collect()
}

pub fn get(doc: &Automerge, key: &str) -> Option<String> {
    doc.get(ROOT, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.as_str().map(str::to_owned))
}
