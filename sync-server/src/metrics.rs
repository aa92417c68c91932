//! `GET /metrics`: the server's counters, gauges and histograms on `prometheus-client`, in the
//! OpenMetrics text format.
//!
//! [`Metrics`] holds what the hub and the connections count; [`crate::limits::LimitCounters`]
//! and [`crate::access::Access`] hold their refusals. [`exposition`] registers all of them once
//! (a metric and its clone share one value) and [`Exposition::render`] writes the text. Label
//! values are typed ([`Limit`], [`AccessRefusal`]); every value is shown from the start, at 0.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::fmt::Write;
use std::time::Duration;

/// Server-wide counters, gauges and histograms, updated lock-free.
#[derive(Debug)]
pub struct Metrics {
    pub connections_open: Gauge,
    pub connections_total: Counter,
    pub connections_refused: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub protocol_errors: Counter,
    pub slow_consumers_closed: Counter,
    pub documents_loaded: Gauge,
    pub documents_known: Gauge,
    /// One observation per group commit (its count is the number of commits).
    pub storage_commit_seconds: Histogram,
    pub storage_loads: Counter,
    pub storage_raw_reads: Counter,
    /// One observation per batch of documents read from storage.
    pub storage_load_seconds: Histogram,
    pub compactions: Counter,
}

/// Buckets of storage times: 100 µs to about 3 s, doubling.
fn seconds_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_1, 2.0, 16)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections_open: Gauge::default(),
            connections_total: Counter::default(),
            connections_refused: Counter::default(),
            frames_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            protocol_errors: Counter::default(),
            slow_consumers_closed: Counter::default(),
            documents_loaded: Gauge::default(),
            documents_known: Gauge::default(),
            storage_commit_seconds: Histogram::new(seconds_buckets()),
            storage_loads: Counter::default(),
            storage_raw_reads: Counter::default(),
            storage_load_seconds: Histogram::new(seconds_buckets()),
            compactions: Counter::default(),
        }
    }
}

impl Metrics {
    pub fn add(counter: &Counter, n: u64) {
        counter.inc_by(n);
    }

    /// A gauge set to a count.
    pub fn set(gauge: &Gauge, n: u64) {
        gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// One group commit that took `took`.
    pub fn record_commit(&self, took: Duration) {
        self.storage_commit_seconds.observe(took.as_secs_f64());
    }

    fn register(&self, r: &mut Registry) {
        let counters = [
            (
                "connections",
                "WebSocket connections accepted",
                &self.connections_total,
            ),
            (
                "connections_refused",
                "Connections closed for breaking a limit or the protocol",
                &self.connections_refused,
            ),
            ("frames_received", "Frames received", &self.frames_in),
            ("frames_sent", "Frames sent", &self.frames_out),
            ("bytes_received", "Bytes received in frames", &self.bytes_in),
            ("bytes_sent", "Bytes sent in frames", &self.bytes_out),
            (
                "protocol_errors",
                "Connections closed for a protocol error",
                &self.protocol_errors,
            ),
            (
                "slow_consumers_closed",
                "Connections closed because their send queue was full",
                &self.slow_consumers_closed,
            ),
            (
                "storage_loads",
                "Documents read from storage",
                &self.storage_loads,
            ),
            (
                "storage_raw_reads",
                "Documents read from storage to be sent as stored (fetched whole), never loaded",
                &self.storage_raw_reads,
            ),
            (
                "compactions",
                "Documents compacted into one snapshot",
                &self.compactions,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let gauges = [
            (
                "connections_open",
                "Open WebSocket connections",
                &self.connections_open,
            ),
            (
                "documents_loaded",
                "Documents in memory",
                &self.documents_loaded,
            ),
            (
                "documents_known",
                "Documents in storage",
                &self.documents_known,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        r.register(
            "storage_commit_seconds",
            "Storage transactions committed (group commits), by how long each took",
            self.storage_commit_seconds.clone(),
        );
        r.register(
            "storage_load_seconds",
            "Batches of documents read from storage, by how long each took",
            self.storage_load_seconds.clone(),
        );
    }
}

/// A limit a connection broke (the `limit` label of `crm_sync_limit_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    InflatedBytes,
    Operations,
    UnsupportedChunk,
    HandshakeTimeout,
    ConnectionsPerUser,
    MaxConnections,
    PendingConnections,
    PendingPerIp,
    TlsHandshake,
}

impl Limit {
    pub const ALL: [Limit; 9] = [
        Limit::InflatedBytes,
        Limit::Operations,
        Limit::UnsupportedChunk,
        Limit::HandshakeTimeout,
        Limit::ConnectionsPerUser,
        Limit::MaxConnections,
        Limit::PendingConnections,
        Limit::PendingPerIp,
        Limit::TlsHandshake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Limit::InflatedBytes => "inflated_bytes",
            Limit::Operations => "operations",
            Limit::UnsupportedChunk => "unsupported_chunk",
            Limit::HandshakeTimeout => "handshake_timeout",
            Limit::ConnectionsPerUser => "connections_per_user",
            Limit::MaxConnections => "max_connections",
            Limit::PendingConnections => "pending_connections",
            Limit::PendingPerIp => "pending_per_ip",
            Limit::TlsHandshake => "tls_handshake",
        }
    }
}

impl EncodeLabelValue for Limit {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The labels of `crm_sync_limit_refusals_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: Limit,
}

/// What book access refused (the `refused` label of `crm_sync_access_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessRefusal {
    /// A document new to the server, in a book the sender may not write.
    NewDocument,
    /// A move to another book by someone who is not a manager or an admin.
    Move,
}

impl AccessRefusal {
    pub const ALL: [AccessRefusal; 2] = [AccessRefusal::NewDocument, AccessRefusal::Move];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessRefusal::NewDocument => "new_document",
            AccessRefusal::Move => "move",
        }
    }
}

impl EncodeLabelValue for AccessRefusal {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// The labels of `crm_sync_access_refusals_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AccessLabels {
    pub refused: AccessRefusal,
}

/// A counter per label value, every value shown from the start.
pub fn family<L: Clone + Eq + std::hash::Hash>(
    values: impl IntoIterator<Item = L>,
) -> Family<L, Counter> {
    let family = Family::default();
    for labels in values {
        let _created = family.get_or_create(&labels);
    }
    family
}

/// Everything `/metrics` shows, registered once.
#[derive(Debug)]
pub struct Exposition(Registry);

/// Registers the server's metrics, the limits' and book access's refusals.
pub fn exposition(
    metrics: &Metrics,
    limits: &crate::limits::LimitCounters,
    access: &crate::access::Access,
) -> Exposition {
    let mut registry = Registry::with_prefix("crm_sync");
    metrics.register(&mut registry);
    limits.register(&mut registry);
    registry.register(
        "access_refusals",
        "Documents refused by book access, by what was refused",
        access.refusals().clone(),
    );
    Exposition(registry)
}

impl Exposition {
    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.0).is_err() {
            out.clear();
            let _ = writeln!(out, "# cannot encode the metrics");
        }
        out
    }
}

/// The content type of [`Exposition::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_keeps_the_names_and_labels_the_docs_give() {
        let metrics = Metrics::default();
        let limits = crate::limits::LimitCounters::default();
        let access = crate::access::Access::new(false, []);
        let shown = exposition(&metrics, &limits, &access);
        Metrics::add(&metrics.connections_total, 3);
        metrics.connections_open.inc();
        metrics.record_commit(Duration::from_millis(3));
        limits.refuse(Limit::HandshakeTimeout);
        let text = shown.render();
        for line in [
            "crm_sync_connections_total 3",
            "crm_sync_connections_open 1",
            "crm_sync_storage_commit_seconds_count 1",
            "crm_sync_limit_refusals_total{limit=\"handshake_timeout\"} 1",
            "crm_sync_limit_refusals_total{limit=\"operations\"} 0",
            "crm_sync_access_refusals_total{refused=\"move\"} 0",
            "crm_sync_rate_limited_total 0",
            "crm_sync_inflated_frame_bytes_count 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(text.contains("crm_sync_storage_commit_seconds_bucket{le=\"0.0016\"} 0"));
        assert!(text.contains("crm_sync_storage_commit_seconds_bucket{le=\"0.0032\"} 1"));
    }
}
