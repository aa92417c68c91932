//! Start-up and shutdown: opens the data dir's store and directory, starts the hub thread, the
//! revocation watch and the tick, serves the routes ([`routes`]) on the accept loop
//! ([`crate::listen`]), and on shutdown lets the hub finish its round.

mod connection;
pub mod routes;

use crate::access::{self, Access, BookPolicy};
use crate::config::ServeArgs;
use crate::data_dir::{self, DataDirLock};
use crate::directory::Directory;
use crate::hub::{self, HubAccess, HubConfig, Input};
use crate::limits::LimitCounters;
use crate::metrics::Metrics;
use crate::storage::SqliteStorage;
use anyhow::Context;
use crm_shared::engine::{Config, Engine};
use crm_shared::protocol::{PeerId, StorageId};
use routes::AppState;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Runs the server on a bound listener until `shutdown` completes, then lets the hub finish its
/// round (everything acknowledged is committed) and close every connection.
pub async fn run(
    listener: TcpListener,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let lock = DataDirLock::acquire(&args.data_dir, "serve")?;
    run_locked(listener, args, shutdown, lock).await
}

/// [`run`] with the data dir lock already held (taken before binding, so that a second server
/// on the same data dir fails before it says it listens).
pub async fn run_locked(
    listener: TcpListener,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    _lock: DataDirLock,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data dir {}", args.data_dir.display()))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let storage = SqliteStorage::open(&data_dir::store_path(&args.data_dir))?;
    let storage_id = data_dir::storage_id(&args.data_dir)?;
    let mut config = Config::new(PeerId::try_from(format!("crm-sync-{storage_id}"))?);
    config.storage_id = Some(StorageId::try_from(storage_id.clone())?);
    config.idle_unload_after_ms = args.idle_unload_secs * 1000;
    let store_path = data_dir::store_path(&args.data_dir);
    let directory = Directory::open(&store_path)?;
    let access = Arc::new(Access::new(!directory.has_users()?, directory.doc_books()?));
    if access.is_open() {
        tracing::warn!("no users yet: anyone may connect and sync; add a user (`crm-sync-server user add`) to require tokens");
    }
    access::books::backfill(&directory, &access, &store_path)?;
    let engine = Engine::with_policy(config, Box::new(BookPolicy(access.clone())));
    let metrics = Arc::new(Metrics::default());
    let (hub_tx, hub_rx) = mpsc::channel(4096);
    let hub_metrics = metrics.clone();
    let hub_access = HubAccess {
        access: access.clone(),
        directory: Directory::open(&store_path)?,
    };
    let hub_thread = std::thread::Builder::new()
        .name("hub".into())
        .spawn(move || {
            hub::run(
                engine,
                storage,
                hub_rx,
                hub_metrics,
                HubConfig::default(),
                hub_access,
            )
        })?;
    let directory = Arc::new(Mutex::new(directory));
    let watcher = tokio::spawn(access::watch::watch(
        directory.clone(),
        access.clone(),
        hub_tx.clone(),
    ));
    let ticker = {
        let hub = hub_tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if hub.send(Input::Tick).await.is_err() {
                    break;
                }
            }
        })
    };
    let limit_counters = Arc::new(LimitCounters::default());
    let accept = crate::listen::Accept {
        tls,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs.max(1)),
        max_pending: args.max_pending_connections,
        max_pending_per_ip: args.max_pending_per_ip,
        counters: limit_counters.clone(),
    };
    let exposition = Arc::new(crate::metrics::exposition(
        &metrics,
        &limit_counters,
        &access,
    ));
    let state = AppState {
        hub: hub_tx.clone(),
        metrics,
        next_conn: Arc::new(AtomicU64::new(1)),
        args: Arc::new(args),
        access,
        directory,
        limits: limit_counters,
        exposition,
        user_conns: Arc::new(Mutex::new(HashMap::new())),
        storage_id: storage_id.into(),
    };
    let tls_on = accept.tls.is_some();
    tracing::info!(addr = %listener.local_addr()?, tls = tls_on, "serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // (The accept loop sets TCP_NODELAY: frames are small and latency matters; without it, a
    // frame written while the previous one is unacknowledged waits for the peer's delayed ACK.)
    let serve = crate::listen::serve(listener, routes::app(state), accept, stop_rx.clone());
    tokio::select! {
        _ = serve => {}
        _ = shutdown => { let _ = stop_tx.send(true); }
    }
    tracing::info!("shutting down");
    ticker.abort();
    watcher.abort();
    let _ = hub_tx.send(Input::Shutdown).await;
    drop(hub_tx);
    let joined = tokio::task::spawn_blocking(move || hub_thread.join()).await?;
    match joined {
        Ok(result) => result?,
        Err(_) => anyhow::bail!("the hub thread panicked"),
    }
    drop(stop_rx);
    Ok(())
}
