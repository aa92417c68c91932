//! A decompression bomb, for tests and load tools: a valid compressed Automerge change that
//! inflates to `n` bytes (one string value of `n` × `x`), built without ever holding those bytes:
//! its deflate stream is written by hand (fixed Huffman codes, one literal then copies of 258
//! bytes at distance 1, about 160:1).

use sha2::{Digest, Sha256};

/// An Automerge sync message (what a `sync` protocol message carries) whose only change is
/// [`compressed_change`].
pub fn sync_message(key: &str, n: u64) -> Vec<u8> {
    let (chunk, hash) = build(key, n);
    automerge::sync::Message {
        heads: vec![automerge::ChangeHash(hash)],
        need: Vec::new(),
        have: vec![automerge::sync::Have::default()],
        changes: vec![chunk].into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// Builds the compressed change chunk putting `"x" * n` at `key` of the root map.
/// Deterministic.
pub fn compressed_change(key: &str, n: u64) -> Vec<u8> {
    build(key, n).0
}

fn build(key: &str, n: u64) -> (Vec<u8>, [u8; 32]) {
    use automerge::transaction::Transactable;
    // A real change with a placeholder value, taken apart and put back together with `n` bytes.
    let mut doc = automerge::AutoCommit::new().with_actor(automerge::ActorId::from([7u8; 16]));
    doc.put(automerge::ROOT, key, "x".repeat(64))
        .expect("a put");
    let change = doc.get_last_local_change().expect("a change").clone();
    let raw = change.raw_bytes();
    let mut r = Cursor(raw);
    r.take(9).expect("header");
    let body_len = r.uleb().expect("length") as usize;
    let body = &r.0[..body_len];
    let mut r = Cursor(body);
    let deps = r.uleb().expect("deps") as usize;
    r.take(deps * 32).expect("deps");
    r.prefixed().expect("actor");
    r.uleb().expect("seq");
    r.uleb().expect("start op");
    r.uleb().expect("time");
    r.prefixed().expect("message");
    for _ in 0..r.uleb().expect("actors") {
        r.prefixed().expect("actor");
    }
    let prefix = &body[..body.len() - r.0.len()];
    let ncols = r.uleb().expect("columns");
    let mut columns = Vec::new();
    for _ in 0..ncols {
        columns.push((r.uleb().expect("spec"), r.uleb().expect("len") as usize));
    }
    let mut data = r.0;
    // Before the value bytes (prefix, column metadata, other columns) and after them.
    let mut head = prefix.to_vec();
    uleb(&mut head, ncols);
    let mut cols_before = Vec::new();
    let mut cols_after = Vec::new();
    let mut seen_value = false;
    for &(spec, len) in &columns {
        let (col, rest) = data.split_at(len);
        data = rest;
        let col = match spec & 0b111 {
            // Value metadata: one literal run of (length << 4 | string).
            6 => {
                let mut m = vec![0x7f];
                uleb(&mut m, (n << 4) | 6);
                m
            }
            7 => {
                seen_value = true;
                uleb(&mut head, spec);
                uleb(&mut head, n);
                continue;
            }
            _ => col.to_vec(),
        };
        uleb(&mut head, spec);
        uleb(&mut head, col.len() as u64);
        if seen_value {
            cols_after.extend(col);
        } else {
            cols_before.extend(col);
        }
    }
    head.extend(cols_before);
    let tail = cols_after;
    let total = head.len() as u64 + n + tail.len() as u64;
    // The checksum: SHA-256 of (type 1, length, body), streamed.
    let mut hasher = Sha256::new();
    let mut h = vec![1u8];
    uleb(&mut h, total);
    hasher.update(&h);
    hasher.update(&head);
    let block = vec![b'x'; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len() as u64) as usize;
        hasher.update(&block[..k]);
        left -= k as u64;
    }
    hasher.update(&tail);
    let checksum: [u8; 32] = hasher.finalize().into();
    // The deflate stream: one final block of fixed Huffman codes.
    let mut w = Bits::default();
    w.bits(1, 1);
    w.bits(1, 2);
    for &b in &head {
        w.literal(b);
    }
    if n > 0 {
        w.literal(b'x');
        let mut left = n - 1;
        while left >= 258 {
            w.code(0xC5, 8); // length 258 (symbol 285)
            w.code(0, 5); // distance 1
            left -= 258;
        }
        for _ in 0..left {
            w.literal(b'x');
        }
    }
    for &b in &tail {
        w.literal(b);
    }
    w.code(0, 7); // end of block (256)
    let deflated = w.finish();
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend(&checksum[..4]);
    out.push(2);
    uleb(&mut out, deflated.len() as u64);
    out.extend(deflated);
    (out, checksum)
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `len` bits of `value`, least significant first (deflate's header fields).
    fn bits(&mut self, value: u64, len: u32) {
        self.acc |= value << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.bits(u64::from(reversed), len);
    }

    fn literal(&mut self, b: u8) {
        if b < 144 {
            self.code(0x30 + u32::from(b), 8);
        } else {
            self.code(0x190 + u32::from(b - 144), 9);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Some(h)
    }

    fn uleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.take(1)?.first()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
        }
    }

    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.uleb()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bomb_is_a_real_change_that_automerge_loads() {
        for n in [0u64, 1, 257, 258, 259, 100_000] {
            let bytes = compressed_change("notes", n);
            let mut doc = automerge::Automerge::new();
            doc.load_incremental(&bytes)
                .unwrap_or_else(|e| panic!("n={n}: {e}"));
            let (value, _) = automerge::ReadDoc::get(&doc, automerge::ROOT, "notes")
                .unwrap()
                .unwrap();
            let s = value.into_string().unwrap();
            assert_eq!(s.len() as u64, n);
            assert!(s.bytes().all(|b| b == b'x'));
        }
    }

    #[test]
    fn the_sync_message_carries_the_bomb() {
        let bytes = sync_message("notes", 1000);
        let mut doc = automerge::Automerge::new();
        let mut state = automerge::sync::State::new();
        let msg = automerge::sync::Message::decode(&bytes).unwrap();
        automerge::sync::SyncDoc::receive_sync_message(&mut doc, &mut state, msg).unwrap();
        assert_eq!(automerge::ReadDoc::length(&doc, automerge::ROOT), 1);
    }

    #[test]
    fn the_bomb_is_small() {
        let bytes = compressed_change("notes", 64 << 20);
        assert!(bytes.len() < 500_000, "{}", bytes.len());
        let limits = crate::limits::ChangeLimits {
            max_bytes: 16 << 20,
            max_ops: 1000,
        };
        let err = crate::limits::check_changes(&bytes, &limits).unwrap_err();
        assert!(matches!(err, crate::limits::Violation::Inflated { .. }));
    }
}
