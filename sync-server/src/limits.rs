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

use crate::chunk::{
    take, Reader, CHUNK_BUNDLE, CHUNK_CHANGE, CHUNK_COMPRESSED, CHUNK_DOCUMENT, COLUMN_DEFLATE,
    MAGIC,
};
use crm_shared::engine::{ConnectionId, Event};
use crm_shared::protocol::{self, BatchKind, Message};
use std::fmt::Write;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Close code for a message too big to process (RFC 6455).
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a policy violation (RFC 6455).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for data the server does not accept (RFC 6455).
pub const CLOSE_UNSUPPORTED: u16 = 1003;

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
            Violation::Inflated { .. } | Violation::Ops { .. } => CLOSE_TOO_BIG,
            Violation::Unsupported(_) => CLOSE_UNSUPPORTED,
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
fn check_chunks(mut bytes: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    while !bytes.is_empty() {
        let mut r = Reader(bytes);
        let Some(header) = r.take(4) else {
            return Ok(());
        };
        if header != MAGIC || r.take(4).is_none() {
            return Ok(());
        }
        let (Some(kind), Some(len)) = (r.byte(), r.uleb()) else {
            return Ok(());
        };
        let Some(body) = usize::try_from(len).ok().and_then(|n| r.take(n)) else {
            return Ok(());
        };
        match kind {
            CHUNK_CHANGE => {
                budget.add_bytes(body.len() as u64)?;
                check_change_body(body, budget)?;
            }
            CHUNK_COMPRESSED => {
                let inflated = inflate(body, budget)?;
                check_change_body(&inflated, budget)?;
            }
            CHUNK_DOCUMENT => check_document_body(body, budget)?,
            CHUNK_BUNDLE => return Err(Violation::Unsupported("bundle chunks in a sync message")),
            _ => return Ok(()),
        }
        bytes = r.0;
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

/// The columns of a change chunk's body (automerge's `Change::parse_following_header`).
fn check_change_body(body: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    let mut r = Reader(body);
    let parsed = (|| {
        let deps = r.uleb()?;
        r.take(usize::try_from(deps).ok()?.checked_mul(32)?)?;
        r.prefixed()?; // actor
        r.uleb()?; // seq
        r.uleb()?; // start op
        r.uleb()?; // timestamp (signed: same length)
        r.prefixed()?; // message
        let others = r.uleb()?;
        for _ in 0..others {
            r.prefixed()?;
        }
        r.columns()
    })();
    let Some(columns) = parsed else { return Ok(()) };
    let mut data = r.0;
    let mut most = 0;
    for (spec, len) in columns {
        let Some(column) = take(&mut data, len) else {
            return Ok(());
        };
        // Automerge refuses deflated columns inside a change: nothing to inflate.
        if spec & COLUMN_DEFLATE == 0 {
            most = most.max(count_items(spec, column, budget.limits.max_ops));
        }
    }
    budget.add_ops(most)
}

/// The columns of a document chunk's body (automerge's `Document::parse`).
fn check_document_body(body: &[u8], budget: &mut Budget) -> Result<(), Violation> {
    let mut r = Reader(body);
    let parsed = (|| {
        let actors = r.uleb()?;
        for _ in 0..actors {
            r.prefixed()?;
        }
        let heads = r.uleb()?;
        r.take(usize::try_from(heads).ok()?.checked_mul(32)?)?;
        let change_columns = r.columns()?;
        let op_columns = r.columns()?;
        Some((change_columns, op_columns))
    })();
    let Some((change_columns, op_columns)) = parsed else {
        return Ok(());
    };
    let mut data = r.0;
    let mut raw = 0u64;
    // Every column of a section holds one item per change (or per operation): the longest
    // decides. Changes count like operations: Automerge builds both.
    let (mut changes, mut ops) = (0u64, 0u64);
    for (i, (spec, len)) in change_columns.iter().chain(&op_columns).enumerate() {
        let Some(column) = take(&mut data, *len) else {
            return Ok(());
        };
        let limit = budget.limits.max_ops;
        let items = if spec & COLUMN_DEFLATE != 0 {
            let inflated = inflate(column, budget)?;
            count_items(*spec, &inflated, limit)
        } else {
            raw += column.len() as u64;
            count_items(*spec, column, limit)
        };
        let section = if i < change_columns.len() {
            &mut changes
        } else {
            &mut ops
        };
        *section = (*section).max(items);
    }
    budget.add_ops(changes.saturating_add(ops))?;
    budget.add_bytes(raw)
}

/// How many values a column holds (counted up to `limit` plus a little: enough to refuse it).
fn count_items(spec: u32, column: &[u8], limit: u64) -> u64 {
    let mut r = Reader(column);
    let mut count = 0u64;
    let col_type = spec & 0b111;
    match col_type {
        // Boolean: alternating run lengths.
        4 => {
            while let Some(n) = r.uleb() {
                count = count.saturating_add(n);
                if count > limit {
                    break;
                }
            }
        }
        // Raw values: their count comes from the metadata column.
        7 => {}
        // Run-length encoded: uleb values (group, actor, integer, metadata), sleb (delta) or
        // length-prefixed strings.
        _ => {
            let value = |r: &mut Reader| -> Option<()> {
                if col_type == 5 {
                    r.prefixed().map(|_| ())
                } else {
                    r.uleb().map(|_| ())
                }
            };
            while let Some(n) = r.sleb() {
                if n > 0 {
                    count = count.saturating_add(n as u64);
                    if value(&mut r).is_none() {
                        break;
                    }
                } else if n < 0 {
                    let literals = n.unsigned_abs();
                    count = count.saturating_add(literals);
                    if count > limit {
                        break;
                    }
                    let mut ok = true;
                    for _ in 0..literals {
                        if value(&mut r).is_none() {
                            ok = false;
                            break;
                        }
                    }
                    if !ok {
                        break;
                    }
                } else {
                    let Some(nulls) = r.uleb() else { break };
                    count = count.saturating_add(nulls);
                }
                if count > limit {
                    break;
                }
            }
        }
    }
    count
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
#[derive(Debug, Default)]
pub struct LimitCounters {
    pub inflated: AtomicU64,
    pub ops: AtomicU64,
    pub unsupported: AtomicU64,
    pub handshake_timeout: AtomicU64,
    pub per_user: AtomicU64,
    pub max_connections: AtomicU64,
    /// Pending connections closed to make room in a full pool.
    pub pending_connections: AtomicU64,
    /// Connections dropped because their source address held its share of the pending pool.
    pub pending_per_ip: AtomicU64,
    pub tls_handshake_failed: AtomicU64,
    /// Times a connection's reader waited for its rate limit.
    pub throttled: AtomicU64,
    /// Largest inflated size of one accepted frame's changes.
    pub inflated_max: AtomicU64,
}

impl LimitCounters {
    pub fn count(&self, v: &Violation) {
        let c = match v {
            Violation::Inflated { .. } => &self.inflated,
            Violation::Ops { .. } => &self.ops,
            Violation::Unsupported(_) => &self.unsupported,
        };
        c.fetch_add(1, Relaxed);
    }

    /// Appended to the `/metrics` text.
    pub fn render(&self, out: &mut String) {
        crate::metrics::write_labelled_counter(
            out,
            "crm_sync_limit_refusals_total",
            "Connections closed (or refused) for breaking a limit, by limit.",
            "limit",
            &[
                ("inflated_bytes", &self.inflated),
                ("operations", &self.ops),
                ("unsupported_chunk", &self.unsupported),
                ("handshake_timeout", &self.handshake_timeout),
                ("connections_per_user", &self.per_user),
                ("max_connections", &self.max_connections),
                ("pending_connections", &self.pending_connections),
                ("pending_per_ip", &self.pending_per_ip),
                ("tls_handshake", &self.tls_handshake_failed),
            ],
        );
        let _ = writeln!(
            out,
            "# HELP crm_sync_rate_limited_total Times a connection's reader waited for its rate limit.\n# TYPE crm_sync_rate_limited_total counter\ncrm_sync_rate_limited_total {}",
            self.throttled.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP crm_sync_inflated_frame_bytes_max Largest inflated size of one accepted frame's changes.\n# TYPE crm_sync_inflated_frame_bytes_max gauge\ncrm_sync_inflated_frame_bytes_max {}",
            self.inflated_max.load(Relaxed)
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
