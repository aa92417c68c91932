//! Output: the table of figures and the server's `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A row of the figures table: name, measured value, target (limit and unit) if there is one.
pub(crate) type Row<'a> = (&'a str, f64, Option<(f64, &'a str)>);

pub(crate) fn print_table(rows: &[Row], n: usize) {
    println!(
        "  {:<34} {:>10}  {:<14} verdict",
        "figure", "measured", "target"
    );
    for (name, value, target) in rows {
        let (target, verdict) = match target {
            Some((limit, unit)) => (
                format!("<= {limit} {unit}"),
                if value <= limit { "OK" } else { "MISSED" },
            ),
            None => (format!("(none at {n})"), ""),
        };
        println!("  {name:<34} {value:>10.3}  {target:<14} {verdict}");
    }
}

pub(crate) async fn scrape_metrics(addr: SocketAddr) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await??;
    Ok(out)
}

pub(crate) fn metric(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
}
