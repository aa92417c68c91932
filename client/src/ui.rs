//! `crm ui`: the web UI, served by the client from the laptop's own store on 127.0.0.1 only.
//!
//! One product, two faces: every page reads the store through the same queries as the
//! commands, and every change goes through the same functions as `crm ... edit`, `crm case
//! move` and `crm resolve` (validation, one SQLite transaction, history, conflicts), shared
//! with them in [`crate::commands::shared`]. Pages are HTML rendered on the server (`maud`) with
//! a vendored `htmx`; nothing is fetched from anywhere but this process.

mod assets;
mod charts;
mod forms;
mod guard;
mod layout;
mod live;
mod pages;
mod routes;
mod session;

use crate::cli::UiArgs;
use crate::commands::Ctx;
use crate::store::Store;
use anyhow::{Context, Result};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What every request handler shares.
pub(crate) struct App {
    /// The data dir and output settings; each request takes its own "now" from it.
    ctx: Ctx,
    store: Arc<Mutex<Store>>,
    session: session::Session,
    /// The port served, for the Host check.
    port: u16,
    /// The store's change order, as last seen by the watcher (see [`live`]).
    changes: watch::Receiver<i64>,
    /// Set when the server is stopping, so that open event streams end.
    stopping: watch::Receiver<bool>,
    /// Reports drawn since the store last changed.
    reports: pages::reports::Drawn,
}

impl App {
    /// Runs `f` with the store on a blocking thread (SQLite calls block), with a fresh "now".
    pub(crate) async fn with_store<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Ctx, &mut Store) -> Result<T> + Send + 'static,
    {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let ctx = app.ctx.refreshed()?;
            let mut store = app.store.lock().map_err(|_| {
                anyhow::anyhow!("the store is unusable after an earlier failure: restart `crm ui`")
            })?;
            f(&ctx, &mut store)
        })
        .await
        .context("a request's worker stopped")?
    }
}

/// `crm ui [--port N] [--open]`.
pub fn run(ctx: &Ctx, a: UiArgs) -> Result<()> {
    // One connection for the whole process: a second `Store::open` here would close a file
    // descriptor of the store file, which drops this process's SQLite locks on it (POSIX).
    let store = Arc::new(Mutex::new(ctx.open()?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", a.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{} (try another --port, or 0 for any free one)", a.port))?;
        let port = listener.local_addr()?.port();
        let session = session::Session::new(port);
        let url = format!("http://127.0.0.1:{port}/?token={}", session.login_token());
        let (stop_tx, stopping) = watch::channel(false);
        let changes = live::watch_changes(Arc::clone(&store), stopping.clone())?;
        let app = Arc::new(App {
            ctx: ctx.refreshed()?,
            store,
            session,
            port,
            changes,
            stopping,
            reports: Default::default(),
        });
        println!("{url}");
        eprintln!(
            "Serving the CRM of {} at http://127.0.0.1:{port}/ (open the address above once; it signs this browser in). Ctrl-C stops.",
            ctx.data_dir.display()
        );
        if a.open {
            open_browser(&url);
        }
        let router = routes::router(Arc::clone(&app));
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop_tx.send(true);
            })
            .await?;
        eprintln!("Stopped.");
        Ok(())
    })
}

/// Opens `url` in the desktop's browser; says so if it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("crm: cannot open a browser ({opener}: {e}): open the address above yourself");
    }
}
