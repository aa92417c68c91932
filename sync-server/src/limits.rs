//! Limits against bad peers, checked on each connection's task before a frame reaches the hub:
//!
//! - **Expansion of incoming changes.** An Automerge change travels deflated (a compressed change
//!   chunk, or deflated columns of a document chunk) and its columns are run-length encoded: a
//!   frame of a few hundred KB can stand for hundreds of MB of changes or hundreds of millions of
//!   operations once Automerge loads it. [`admit`] walks every chunk of every sync message
//!   in a frame and bounds the inflated bytes (inflating into a counter, never into a buffer larger
//!   than the budget) and the operations the columns encode (counting run lengths), per frame.
//! - **Handshake:** the first message is a `join` (see [`Inspected::join`]); the caller times it.
//! - **Rate:** a [`TokenBucket`] per connection, frames and bytes per second; over the limit the
//!   connection's reader waits (backpressure: the peer's TCP window fills), it is not closed.
//!
//! Each refusal closes only that connection with a close code and reason, and is counted in
//! `/metrics` ([`LimitCounters`]).

use crate::close_code;
use crate::metrics::{self, Limit, LimitLabels};
use crm_shared::automerge_format::columns::split_columns;
use crm_shared::automerge_format::rle::count_items;
use crm_shared::automerge_format::{ChangeHeader, Chunk, ChunkType, DocumentHeader};
use crm_shared::engine::{ConnectionId, Event};
use crm_shared::protocol::{self, BatchKind, Message};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::io::Read;
use std::time::{Duration, Instant};

/// How much one frame's changes may expand.
#[derive(Debug, Clone, Copy)]
pub struct ChangeLimits {
    /// Inflated bytes of every change and document chunk in one frame.
    pub max_bytes: u64,
    /// Operations (and other column items) encoded by the chunks of one frame.
    pub max_ops: u64,
}

/// Why a frame is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The changes inflate to more than the limit (reported: how far the check got).
    Inflated { at_least: u64, limit: u64 },
    /// The changes encode more operations than the limit.
    Ops { at_least: u64, limit: u64 },
    /// A chunk kind sync never sends (an experimental bundle).
    Unsupported(&'static str),
}

impl Violation {
    pub fn close_code(&self) -> u16 {
        match self {
            Violation::Inflated { .. } | Violation::Ops { .. } => close_code::TOO_BIG,
            Violation::Unsupported(_) => close_code::UNSUPPORTED,
        }
    }

    pub fn reason(&self) -> String {
        match self {
            Violation::Inflated { limit, .. } => {
                format!("changes inflate to more than {limit} bytes")
            }
            Violation::Ops { limit, .. } => format!("changes hold more than {limit} operations"),
            Violation::Unsupported(what) => format!("unsupported: {what}"),
        }
    }
}

/// What the caller needs to know about an accepted frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inspected {
    /// The frame is a `join`.
    pub join: bool,
    /// Bytes the frame's changes inflate to.
    pub inflated: u64,
    /// Operations the frame's changes encode.
    pub ops: u64,
}

/// Checks one incoming frame of `conn` and makes it the event for the hub: decoded here, once, on
/// the connection's task (the hub and the engine take the decoded message). A frame that is not
/// a protocol message, or holds sync data that does not parse, is accepted here and handed on as
/// bytes: the engine refuses it with the right protocol error.
pub fn admit(
    conn: ConnectionId,
    frame: &[u8],
    limits: &ChangeLimits,
) -> Result<(Inspected, Event), Violation> {
    match protocol::decode(frame) {
        Ok(message) => Ok((inspect(&message, limits)?, Event::Message { conn, message })),
        Err(_) => Ok((
            Inspected::default(),
            Event::Frame {
                conn,
                bytes: frame.to_vec(),
            },
        )),
    }
}

/// Checks one decoded incoming message.
pub fn inspect(message: &Message, limits: &ChangeLimits) -> Result<Inspected, Violation> {
    let mut budget = Budget::new(limits);
    match message {
        Message::Join { .. } => {
            return Ok(Inspected {
                join: true,
                ..Inspected::default()
            })
        }
        Message::Sync { data, .. } | Message::Request { data, .. } => {
            check_sync_message(data, &mut budget)?;
        }
        Message::CrmBatch { items, .. } => {
            for item in items {
                // Only sync messages carry changes (`fetch` and `doc-unavailable` are empty; a
                // server takes no `doc`s).
                if matches!(item.kind, BatchKind::Sync | BatchKind::Request) {
                    check_sync_message(&item.data, &mut budget)?;
                }
            }
        }
        _ => {}
    }
    Ok(Inspected {
        join: false,
        inflated: budget.bytes,
        ops: budget.ops,
    })
}

/// What one frame has used so far.
struct Budget {
    bytes: u64,
    ops: u64,
    limits: ChangeLimits,
}

impl Budget {
    fn new(limits: &ChangeLimits) -> Budget {
        Budget {
            bytes: 0,
            ops: 0,
            limits: *limits,
        }
    }

    fn bytes_left(&self) -> u64 {
        self.limits.max_bytes.saturating_sub(self.bytes)
    }

    fn add_bytes(&mut self, n: u64) -> Result<(), Violation> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_bytes {
            return Err(Violation::Inflated {
                at_least: self.bytes,
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }

    fn add_ops(&mut self, n: u64) -> Result<(), Violation> {
        self.ops = self.ops.saturating_add(n);
        if self.ops > self.limits.max_ops {
            return Err(Violation::Ops {
                at_least: self.ops,
                limit: self.limits.max_ops,
            });
        }
        Ok(())
    }
}

/// Checks the changes of one Automerge sync message.
fn check_sync_message(data: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    if data.is_empty() {
        return Ok(());
    }
    let Ok(message) = automerge::sync::Message::decode(data) else {
        return Ok(());
    };
    for chunks in message.changes.iter() {
        check_chunks(chunks, budget)?;
    }
    Ok(())
}

/// Checks concatenated storage chunks (what `load_incremental` takes) on their own; returns the
/// inflated bytes and the operations they hold.
pub fn check_changes(bytes: &[u8], limits: &ChangeLimits) -> Result<(u64, u64), Violation> {
    let mut budget = Budget::new(limits);
    check_chunks(bytes, &mut budget)?;
    Ok((budget.bytes, budget.ops))
}

/// Walks concatenated storage chunks. Stops quietly at anything that does not parse: Automerge
/// refuses it too, before expanding it.
fn check_chunks(bytes: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    for chunk in Chunk::all(bytes) {
        match chunk.kind {
            Ok(ChunkType::Change) => {
                budget.add_bytes(chunk.body.len() as u64)?;
                check_change_body(chunk.body, budget)?;
            }
            Ok(ChunkType::Compressed) => {
                let inflated = inflate(chunk.body, budget)?;
                check_change_body(&inflated, budget)?;
            }
            Ok(ChunkType::Document) => check_document_body(chunk.body, budget)?,
            Ok(ChunkType::Bundle) => {
                return Err(Violation::Unsupported("bundle chunks in a sync message"))
            }
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Inflates raw deflate data into memory, but never more than the budget allows (plus one byte,
/// to know that it was more).
fn inflate(deflated: &[u8], budget: &mut Budget) -> Result<Vec<u8>, Violation> {
    let left = budget.bytes_left();
    let mut out = Vec::new();
    let decoder = flate2::read::DeflateDecoder::new(deflated);
    // A corrupt stream stops the count where it broke; Automerge refuses it later.
    let _ = decoder.take(left.saturating_add(1)).read_to_end(&mut out);
    budget.add_bytes(out.len() as u64)?;
    Ok(out)
}

/// The columns of a change chunk's body.
fn check_change_body(body: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    let Some(header) = ChangeHeader::parse(body) else {
        return Ok(());
    };
    let Some(columns) = split_columns(&header.columns, header.data) else {
        return Ok(());
    };
    let mut most = 0;
    for (spec, column) in columns {
        // Automerge refuses deflated columns inside a change: nothing to inflate.
        if !spec.deflated() {
            most = most.max(count_items(
                spec.column_type(),
                column,
                budget.limits.max_ops,
            ));
        }
    }
    budget.add_ops(most)
}

/// The columns of a document chunk's body.
fn check_document_body(body: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    let Some(header) = DocumentHeader::parse(body) else {
        return Ok(());
    };
    let mut data = header.data;
    let mut raw = 0u64;
    // Every column of a section holds one item per change (or per operation): the longest
    // decides. Changes count like operations: Automerge builds both.
    let (mut changes, mut ops) = (0u64, 0u64);
    let sections = header.change_columns.len();
    for (i, (spec, len)) in header
        .change_columns
        .iter()
        .chain(&header.op_columns)
        .enumerate()
    {
        let Some(column) = crm_shared::automerge_format::leb128::take(&mut data, *len) else {
            return Ok(());
        };
        let limit = budget.limits.max_ops;
        let items = if spec.deflated() {
            let inflated = inflate(column, budget)?;
            count_items(spec.column_type(), &inflated, limit)
        } else {
            raw += column.len() as u64;
            count_items(spec.column_type(), column, limit)
        };
        let section = if i < sections { &mut changes } else { &mut ops };
        *section = (*section).max(items);
    }
    budget.add_ops(changes.saturating_add(ops))?;
    budget.add_bytes(raw)
}

/// A token bucket per connection: `frames` per second and `bytes` per second (0: no limit), with
/// a burst of one second's worth (and at least one largest frame).
#[derive(Debug)]
pub struct TokenBucket {
    frames_per_sec: f64,
    bytes_per_sec: f64,
    frame_burst: f64,
    byte_burst: f64,
    frames: f64,
    bytes: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(frames_per_sec: u64, bytes_per_sec: u64, max_frame: u64, now: Instant) -> Self {
        let frame_burst = frames_per_sec as f64;
        let byte_burst = (bytes_per_sec as f64).max(max_frame as f64);
        TokenBucket {
            frames_per_sec: frames_per_sec as f64,
            bytes_per_sec: bytes_per_sec as f64,
            frame_burst,
            byte_burst,
            frames: frame_burst,
            bytes: byte_burst,
            last: now,
        }
    }

    /// Takes one frame of `len` bytes; returns how long to wait before reading the next one
    /// (the balance may go negative: waiting pays it back).
    pub fn take(&mut self, len: usize, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let mut wait = 0f64;
        if self.frames_per_sec > 0.0 {
            self.frames = (self.frames + elapsed * self.frames_per_sec).min(self.frame_burst) - 1.0;
            if self.frames < 0.0 {
                wait = wait.max(-self.frames / self.frames_per_sec);
            }
        }
        if self.bytes_per_sec > 0.0 {
            self.bytes =
                (self.bytes + elapsed * self.bytes_per_sec).min(self.byte_burst) - len as f64;
            if self.bytes < 0.0 {
                wait = wait.max(-self.bytes / self.bytes_per_sec);
            }
        }
        (wait > 0.0).then(|| Duration::from_secs_f64(wait))
    }
}

/// Why connections were refused or slowed, for `/metrics`.
#[derive(Debug)]
pub struct LimitCounters {
    /// Connections closed (or refused) for breaking a limit, by limit.
    refusals: Family<LimitLabels, Counter>,
    /// Times a connection's reader waited for its rate limit.
    pub throttled: Counter,
    /// Inflated size of each accepted frame that carried changes.
    pub inflated: Histogram,
}

impl Default for LimitCounters {
    fn default() -> Self {
        LimitCounters {
            refusals: metrics::family(Limit::ALL.map(|limit| LimitLabels { limit })),
            throttled: Counter::default(),
            // 1 KiB to 256 MiB, by fours.
            inflated: Histogram::new(exponential_buckets(1024.0, 4.0, 10)),
        }
    }
}

impl LimitCounters {
    /// Counts a connection closed or refused for breaking `limit`.
    pub fn refuse(&self, limit: Limit) {
        self.refusals.get_or_create(&LimitLabels { limit }).inc();
    }

    /// How many connections broke `limit`.
    pub fn refused(&self, limit: Limit) -> u64 {
        self.refusals.get_or_create(&LimitLabels { limit }).get()
    }

    pub fn count(&self, v: &Violation) {
        self.refuse(match v {
            Violation::Inflated { .. } => Limit::InflatedBytes,
            Violation::Ops { .. } => Limit::Operations,
            Violation::Unsupported(_) => Limit::UnsupportedChunk,
        });
    }

    /// An accepted frame whose changes inflated to `bytes`.
    pub fn accepted(&self, bytes: u64) {
        if bytes > 0 {
            self.inflated.observe(bytes as f64);
        }
    }

    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "limit_refusals",
            "Connections closed (or refused) for breaking a limit, by limit",
            self.refusals.clone(),
        );
        r.register(
            "rate_limited",
            "Times a connection's reader waited for its rate limit",
            self.throttled.clone(),
        );
        r.register(
            "inflated_frame_bytes",
            "Accepted frames that carried changes, by the size their changes inflate to",
            self.inflated.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    const LIMITS: ChangeLimits = ChangeLimits {
        max_bytes: 1 << 20,
        max_ops: 100_000,
    };

    fn budget() -> Budget {
        Budget::new(&LIMITS)
    }

    #[test]
    fn a_compressed_change_is_measured_inflated() {
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "notes", "x".repeat(4 << 20))
            .unwrap();
        let mut change = doc.get_last_local_change().unwrap().clone();
        let bytes = change.bytes().into_owned();
        assert!(bytes.len() < 64 << 10, "{}", bytes.len());
        let err = check_chunks(&bytes, &mut budget()).unwrap_err();
        assert!(matches!(err, Violation::Inflated { .. }), "{err:?}");
    }

    #[test]
    fn a_whole_document_with_deflated_columns_is_measured_inflated() {
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "notes", "x".repeat(4 << 20))
            .unwrap();
        let bytes = doc.save();
        assert!(bytes.len() < 64 << 10, "{}", bytes.len());
        let err = check_chunks(&bytes, &mut budget()).unwrap_err();
        assert!(matches!(err, Violation::Inflated { .. }), "{err:?}");
    }

    #[test]
    fn many_operations_are_counted() {
        let mut doc = automerge::AutoCommit::new();
        let text = doc
            .put_object(automerge::ROOT, "t", automerge::ObjType::Text)
            .unwrap();
        doc.splice_text(&text, 0, 0, &"x".repeat(150_000)).unwrap();
        for bytes in [doc.save_incremental(), doc.save()] {
            let err = check_chunks(&bytes, &mut budget()).unwrap_err();
            assert!(matches!(err, Violation::Ops { .. }), "{err:?}");
        }
    }

    #[test]
    fn ordinary_changes_pass_and_are_measured() {
        let mut doc = automerge::AutoCommit::new();
        doc.put(automerge::ROOT, "name", "Acme").unwrap();
        doc.put(automerge::ROOT, "notes", "met at the fair ".repeat(100))
            .unwrap();
        for bytes in [doc.save_incremental(), doc.save()] {
            let mut b = budget();
            check_chunks(&bytes, &mut b).unwrap();
            assert!(b.bytes >= 1600, "{}", b.bytes);
            assert!(b.ops >= 2, "{}", b.ops);
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_expands() {
        let bytes = crm_tests::bomb::compressed_change("notes", 64 << 20);
        let limits = ChangeLimits {
            max_bytes: 16 << 20,
            max_ops: 1000,
        };
        let err = check_changes(&bytes, &limits).unwrap_err();
        assert!(matches!(err, Violation::Inflated { .. }), "{err:?}");
    }

    #[test]
    fn garbage_is_left_to_automerge() {
        for bytes in [
            &b""[..],
            b"\x85\x6f\x4a\x83",
            b"\x85\x6f\x4a\x83abcd\x02\xff\xff",
            b"xyz",
        ] {
            check_chunks(bytes, &mut budget()).unwrap();
        }
    }

    #[test]
    fn the_bucket_makes_a_fast_sender_wait() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 0, 0, t0);
        for _ in 0..10 {
            assert_eq!(b.take(1, t0), None);
        }
        let wait = b.take(1, t0).unwrap();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        assert_eq!(b.take(1, t0 + Duration::from_millis(300)), None);
        let mut b = TokenBucket::new(0, 1000, 0, t0);
        assert_eq!(b.take(1000, t0), None);
        let wait = b.take(500, t0).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
    }
}
