//! Counters for `GET /metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Server-wide counters and gauges, updated lock-free.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub slow_consumers_closed: AtomicU64,
    pub documents_loaded: AtomicU64,
    pub documents_known: AtomicU64,
    pub storage_commits: AtomicU64,
    pub storage_commit_micros_sum: AtomicU64,
    pub storage_commit_micros_max: AtomicU64,
    pub storage_loads: AtomicU64,
    pub storage_raw_reads: AtomicU64,
    pub storage_load_micros_sum: AtomicU64,
    pub compactions: AtomicU64,
}

/// Appends one Prometheus counter with a label, a line per value of the label.
pub fn write_labelled_counter(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, &AtomicU64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, counter) in values {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{value}\"}} {}",
            counter.load(Relaxed)
        );
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn record_commit(&self, micros: u64) {
        self.storage_commits.fetch_add(1, Relaxed);
        self.storage_commit_micros_sum.fetch_add(micros, Relaxed);
        self.storage_commit_micros_max.fetch_max(micros, Relaxed);
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let seconds = |micros: &AtomicU64| micros.load(Relaxed) as f64 / 1e6;
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let n = |c: &AtomicU64| c.load(Relaxed).to_string();
        metric(
            "crm_sync_connections_open",
            "gauge",
            "Open WebSocket connections.",
            n(&self.connections_open),
        );
        metric(
            "crm_sync_connections_total",
            "counter",
            "WebSocket connections accepted.",
            n(&self.connections_total),
        );
        metric(
            "crm_sync_connections_refused_total",
            "counter",
            "Connections closed for breaking a limit or the protocol.",
            n(&self.connections_refused),
        );
        metric(
            "crm_sync_frames_received_total",
            "counter",
            "Frames received.",
            n(&self.frames_in),
        );
        metric(
            "crm_sync_frames_sent_total",
            "counter",
            "Frames sent.",
            n(&self.frames_out),
        );
        metric(
            "crm_sync_bytes_received_total",
            "counter",
            "Bytes received in frames.",
            n(&self.bytes_in),
        );
        metric(
            "crm_sync_bytes_sent_total",
            "counter",
            "Bytes sent in frames.",
            n(&self.bytes_out),
        );
        metric(
            "crm_sync_protocol_errors_total",
            "counter",
            "Connections closed for a protocol error.",
            n(&self.protocol_errors),
        );
        metric(
            "crm_sync_slow_consumers_closed_total",
            "counter",
            "Connections closed because their send queue was full.",
            n(&self.slow_consumers_closed),
        );
        metric(
            "crm_sync_documents_loaded",
            "gauge",
            "Documents in memory.",
            n(&self.documents_loaded),
        );
        metric(
            "crm_sync_documents_known",
            "gauge",
            "Documents in storage.",
            n(&self.documents_known),
        );
        metric(
            "crm_sync_storage_commits_total",
            "counter",
            "Storage transactions committed (group commits).",
            n(&self.storage_commits),
        );
        metric(
            "crm_sync_storage_commit_seconds_sum",
            "counter",
            "Time spent committing to storage.",
            seconds(&self.storage_commit_micros_sum).to_string(),
        );
        metric(
            "crm_sync_storage_commit_seconds_max",
            "gauge",
            "Longest storage commit.",
            seconds(&self.storage_commit_micros_max).to_string(),
        );
        metric(
            "crm_sync_storage_loads_total",
            "counter",
            "Documents read from storage.",
            n(&self.storage_loads),
        );
        metric(
            "crm_sync_storage_raw_reads_total",
            "counter",
            "Documents read from storage to be sent as stored (fetched whole), never loaded.",
            n(&self.storage_raw_reads),
        );
        metric(
            "crm_sync_storage_load_seconds_sum",
            "counter",
            "Time spent reading documents from storage.",
            seconds(&self.storage_load_micros_sum).to_string(),
        );
        metric(
            "crm_sync_compactions_total",
            "counter",
            "Documents compacted into one snapshot.",
            n(&self.compactions),
        );
        out
    }
}
