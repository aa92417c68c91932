//! The `crm-sync-server` binary: parses the command line, sets up logging, runs the server or
//! an administration command, prints one-line errors.

use crm_sync_server::config::{Command, LogFormat};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match crm_sync_server::config::parse() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("crm-sync-server: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // Automerge's own spans (on every load and applied change, with its change graph formatted
    // into them) are a developer's tool: off unless CRM_SYNC_LOG asks for them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRM_SYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,automerge=warn"));
    // Colours only for a person at a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::User(c) => crm_sync_server::admin::user(c),
        Command::Book(c) => crm_sync_server::admin::book(c),
        Command::Grant(a) => crm_sync_server::admin::grant(a),
        Command::Revoke(a) => crm_sync_server::admin::revoke(a),
        Command::Token(c) => crm_sync_server::admin::token(c),
        Command::Backup(a) => crm_sync_server::backup::backup(a),
        Command::Restore(a) => crm_sync_server::backup::restore(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("crm-sync-server: error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn serve(args: crm_sync_server::config::ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.worker_threads())
        .enable_all()
        .build()?;
    let lock = crm_sync_server::data_dir::DataDirLock::acquire(&args.data_dir, "serve")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        // Tests read the bound address (with --listen 127.0.0.1:0) from this line.
        println!("listening on {}", listener.local_addr()?);
        crm_sync_server::server::run_locked(listener, args, shutdown_signal(), lock).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
