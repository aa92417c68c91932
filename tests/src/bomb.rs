//! A decompression bomb, for the tests of the server's limits: a valid compressed Automerge change that
//! inflates to `n` bytes (one string value of `n` × `x`), built without ever holding those bytes:
//! its deflate stream is written by hand (fixed Huffman codes, one literal then copies of 258
//! bytes at distance 1, about 160:1).

use crm_shared::automerge_format::columns::VALUE_STRING;
use crm_shared::automerge_format::leb128::write_uleb as uleb;
use crm_shared::automerge_format::{ChangeHeader, Chunk, ChunkType, ColumnType, MAGIC};
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
    let chunk = Chunk::first(raw).expect("a change chunk");
    let header = ChangeHeader::parse(chunk.body).expect("a change header");
    let prefix = header.prefix;
    let ncols = header.columns.len() as u64;
    let columns = header.columns;
    let mut data = header.data;
    // Before the value bytes (prefix, column metadata, other columns) and after them.
    let mut head = prefix.to_vec();
    uleb(&mut head, ncols);
    let mut cols_before = Vec::new();
    let mut cols_after = Vec::new();
    let mut seen_value = false;
    for &(spec, len) in &columns {
        let spec = spec.0;
        let (col, rest) = data.split_at(len);
        data = rest;
        let col = match ColumnType::from(spec) {
            // Value metadata: one literal run of (length << 4 | string).
            ColumnType::ValueMetadata => {
                let mut m = vec![0x7f];
                uleb(&mut m, (n << 4) | VALUE_STRING);
                m
            }
            ColumnType::Value => {
                seen_value = true;
                uleb(&mut head, u64::from(spec));
                uleb(&mut head, n);
                continue;
            }
            _ => col.to_vec(),
        };
        uleb(&mut head, u64::from(spec));
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
    let mut h = vec![u8::from(ChunkType::Change)];
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
    let mut out = MAGIC.to_vec();
    out.extend(&checksum[..4]);
    out.push(u8::from(ChunkType::Compressed));
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
    }
}
