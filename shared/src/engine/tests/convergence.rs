//! Property: replicas that edit the same documents through one server, over a network that delays,
//! drops and duplicates frames and breaks connections, hold identical documents after a final sync.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ReadDoc, ROOT};
use proptest::prelude::*;

use super::network::{doc_id, dump, peer, Net};
use crate::engine::{Config, ConnectionId, Event};

const SERVER: &str = "server-storage";
const CLIENTS: usize = 3;
const DOCS: u8 = 3;

#[derive(Debug, Clone)]
enum Op {
    Put {
        client: usize,
        doc: u8,
        key: u8,
        value: u8,
    },
    Delete {
        client: usize,
        doc: u8,
        key: u8,
    },
    Deliver {
        pick: usize,
        n: usize,
    },
    Drop {
        pick: usize,
    },
    Duplicate {
        pick: usize,
    },
    Reconnect {
        client: usize,
    },
    Disconnect {
        client: usize,
    },
    Tick {
        node: usize,
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS;
    prop_oneof![
        4 => (client.clone(), 0..DOCS, 0u8..3, any::<u8>())
            .prop_map(|(client, doc, key, value)| Op::Put { client, doc, key, value }),
        1 => (client.clone(), 0..DOCS, 0u8..3).prop_map(|(client, doc, key)| Op::Delete { client, doc, key }),
        6 => (any::<usize>(), 1usize..6).prop_map(|(pick, n)| Op::Deliver { pick, n }),
        1 => any::<usize>().prop_map(|pick| Op::Drop { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Duplicate { pick }),
        1 => client.clone().prop_map(|client| Op::Reconnect { client }),
        1 => client.prop_map(|client| Op::Disconnect { client }),
        1 => (0..=CLIENTS, 0u64..400_000).prop_map(|(node, ms)| Op::Tick { node, ms }),
    ]
}

struct World {
    net: Net,
    server: usize,
    clients: Vec<usize>,
    conns: Vec<Option<ConnectionId>>,
}

impl World {
    fn new() -> Self {
        let mut net = Net::new();
        let mut sc = Config::new(peer("server"));
        sc.storage_id = Some(SERVER.parse().unwrap());
        sc.idle_unload_after_ms = 60_000;
        let server = net.add(sc);
        let clients: Vec<usize> = (0..CLIENTS)
            .map(|i| {
                let mut c = Config::new(peer(&format!("client-{i}")));
                c.storage_id = Some(format!("client-{i}-storage").parse().unwrap());
                c.idle_unload_after_ms = 60_000;
                // The last client speaks plain automerge-repo.
                c.batch = i + 1 < CLIENTS;
                net.add(c)
            })
            .collect();
        let mut w = World {
            net,
            server,
            clients,
            conns: vec![None; CLIENTS],
        };
        for i in 0..CLIENTS {
            w.reconnect(i);
        }
        w
    }

    fn reconnect(&mut self, i: usize) {
        self.disconnect(i);
        self.conns[i] = Some(self.net.connect(self.clients[i], self.server, SERVER));
    }

    fn disconnect(&mut self, i: usize) {
        if let Some(conn) = self.conns[i].take() {
            self.net.disconnect(conn);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Put {
                client,
                doc,
                key,
                value,
            } => {
                self.net.put(
                    self.clients[client],
                    doc_id(doc),
                    &format!("k{key}"),
                    &value.to_string(),
                );
            }
            Op::Delete { client, doc, key } => {
                let key = format!("k{key}");
                let node = self.clients[client];
                if self
                    .net
                    .stored(node, &doc_id(doc))
                    .is_some_and(|d| d.get(ROOT, &key).ok().flatten().is_some())
                {
                    self.net.edit(node, doc_id(doc), |tx| {
                        tx.delete(ROOT, key.as_str())
                            .expect("delete an existing key");
                    });
                }
            }
            Op::Deliver { pick, n } => {
                for _ in 0..n {
                    let busy = self.net.busy();
                    if busy.is_empty() {
                        break;
                    }
                    self.net.deliver(busy[pick % busy.len()]);
                }
            }
            Op::Drop { pick } => {
                let busy = self.net.busy();
                if !busy.is_empty() {
                    self.net.drop_first(busy[pick % busy.len()]);
                }
            }
            Op::Duplicate { pick } => {
                let busy = self.net.busy();
                if !busy.is_empty() {
                    self.net.duplicate_first(busy[pick % busy.len()]);
                }
            }
            Op::Reconnect { client } => self.reconnect(client),
            Op::Disconnect { client } => self.disconnect(client),
            Op::Tick { node, ms } => {
                self.net.advance(ms);
                self.net.event(node, Event::Tick);
            }
        }
        // A link closed by an engine (protocol error) is gone for good: forget it.
        for i in 0..CLIENTS {
            if let Some(conn) = self.conns[i] {
                if self.net.links.get(&conn).is_some_and(|l| !l.open) {
                    self.conns[i] = None;
                }
            }
        }
    }

    /// Reconnect everyone, ask for every document, deliver everything.
    fn settle(&mut self) {
        for i in 0..CLIENTS {
            self.reconnect(i);
        }
        for &c in &self.clients {
            for d in 0..DOCS {
                self.net.event(
                    c,
                    Event::Want {
                        document_id: doc_id(d),
                    },
                );
            }
        }
        self.net.run_until_quiescent(5_000);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_through_the_server(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        for op in ops {
            w.apply(op);
        }
        w.settle();
        for d in 0..DOCS {
            let id = doc_id(d);
            let server = w.net.stored(w.server, &id);
            let expected = server.as_ref().map(|doc| (doc.get_heads(), dump(doc)));
            for &c in &w.clients {
                let got = w.net.stored(c, &id).map(|doc| (doc.get_heads(), dump(&doc)));
                // A replica that never saw a document stores nothing; everyone else agrees.
                let got = got.filter(|(heads, _)| !heads.is_empty());
                prop_assert_eq!(&got, &expected, "client {} document {}", c, d);
            }
            // What the server engine holds in memory is what it persisted.
            if let Some(mem) = w.net.nodes[w.server].engine.document(&id) {
                let heads = Some(mem.get_heads()).filter(|h| !h.is_empty());
                prop_assert_eq!(heads, expected.as_ref().map(|e| e.0.clone()));
            }
            let catalog: BTreeMap<_, _> = w.net.nodes[w.server].engine.catalog();
            prop_assert_eq!(catalog.get(&id).cloned(), expected.map(|e| e.0));
        }
    }
}

#[test]
fn concurrent_edit_and_delete_of_one_key_converge() {
    let mut w = World::new();
    w.net.run_until_quiescent(100);
    let d = doc_id(0);
    w.apply(Op::Put {
        client: 0,
        doc: 0,
        key: 0,
        value: 1,
    });
    w.settle();
    for c in 0..CLIENTS {
        w.disconnect(c);
    }
    // Offline: one deletes the key, one edits it, one edits it too.
    w.apply(Op::Delete {
        client: 0,
        doc: 0,
        key: 0,
    });
    w.apply(Op::Put {
        client: 1,
        doc: 0,
        key: 0,
        value: 2,
    });
    w.apply(Op::Put {
        client: 2,
        doc: 0,
        key: 0,
        value: 3,
    });
    w.settle();
    let server = w.net.stored(w.server, &d).unwrap();
    let values = server.get_all(ROOT, "k0").unwrap();
    assert_eq!(
        values.len(),
        2,
        "both concurrent edits survive the delete as a conflict"
    );
    for &c in &w.clients {
        assert_eq!(dump(&w.net.stored(c, &d).unwrap()), dump(&server));
    }
}
