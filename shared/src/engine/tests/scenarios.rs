//! Scenario tests on the in-memory network, one behaviour each, grouped as the engine's modules
//! are: one file per concept. Here: the peers' configurations and fleets the files share.

mod access;
mod ephemeral;
mod exchange;
mod fetch;
mod handshake;
mod loading;
mod states;
mod summary;

use super::network::{doc_id, peer, Net};
use crate::engine::Config;

const STEPS: usize = 200;

/// The server's storage id: the key under which clients keep their sync states.
const SERVER: &str = "server-storage";

fn server_config() -> Config {
    let mut c = Config::new(peer("server"));
    c.storage_id = Some("server-storage".parse().unwrap());
    c
}

/// A client speaking plain automerge-repo (no extension).
fn plain(name: &str) -> Config {
    let mut c = Config::new(peer(name));
    c.batch = false;
    c.is_ephemeral = true;
    c
}

fn ours(name: &str) -> Config {
    let mut c = Config::new(peer(name));
    c.storage_id = Some(format!("{name}-storage").parse().unwrap());
    c
}

/// Sets up a server holding `n` documents that `client` (our extension) has synced, then disconnects.
fn synced_fleet(n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    synced_fleet_on(server_config(), n)
}

/// [`synced_fleet`] on a server that keeps no settled document in memory: after
/// `unload_settled` it holds them on disk only.
fn disk_only_fleet(n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    let mut config = server_config();
    config.keep_settled = 0;
    synced_fleet_on(config, n)
}

fn synced_fleet_on(config: Config, n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    let mut net = Net::new();
    let s = net.add(config);
    let c = net.add(ours("client"));
    let other = net.add(ours("other"));
    let docs: Vec<_> = (0..n).map(|i| doc_id(100 + i)).collect();
    for (i, d) in docs.iter().enumerate() {
        net.put(c, *d, "n", &i.to_string());
    }
    let conn = net.connect(c, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.disconnect(conn);
    (net, s, c, other, docs)
}
