//! `idle`: C joined connections left idle; the server's resident memory before and after.

use crate::peer::join_many;
use crate::report::{metric, print_table, scrape_metrics};
use crate::server::{loadavg, status_kb, Server};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

pub(crate) async fn idle(server: &Server, conns: usize, hold: Duration) -> anyhow::Result<()> {
    let before = status_kb(server.pid, "VmRSS")?;
    let t = Instant::now();
    let peers = join_many(server.addr, conns, "load-idle").await?;
    let joined = t.elapsed();
    // Keep reading so pings are answered, as an idle client does.
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|mut p| {
            tokio::spawn(async move {
                while let Some(Ok(_)) = p.rx.next().await {}
                drop(p.tx);
            })
        })
        .collect();
    tokio::time::sleep(hold).await;
    let after = status_kb(server.pid, "VmRSS")?;
    let hwm = status_kb(server.pid, "VmHWM")?;
    let metrics = scrape_metrics(server.addr).await.unwrap_or_default();
    let open = metric(&metrics, "crm_sync_connections_open").unwrap_or_default();
    for t in &tasks {
        t.abort();
    }
    println!();
    println!(
        "idle: {conns} joined connections (opened in {joined:?}, held {hold:?}); server reports {open} open; server pid {}, load average {}",
        server.pid,
        loadavg()
    );
    let mb = |kb: u64| kb as f64 / 1024.0;
    let target = conns == 1000;
    let rows = [
        ("server RSS before", mb(before), None),
        (
            "server RSS with the connections",
            mb(after),
            target.then_some((100.0, "MB")),
        ),
        ("server RSS peak (VmHWM)", mb(hwm), None),
        (
            "server RSS per connection (KB)",
            (after.saturating_sub(before)) as f64 / conns as f64,
            None,
        ),
    ];
    print_table(&rows, conns);
    Ok(())
}
