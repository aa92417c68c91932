//! Summary digests of the `crmBatch` extension: a document's `docDigest`, buckets by id, and
//! [`SetSummary`], a set's count and bucket digests kept up to date document by document (see
//! the module doc of [`super`] for the wire format).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::document_id::DocumentId;

/// Buckets of the `crmBatch` summary (by the first 12 bits of a document id's bytes).
pub const BUCKETS: usize = 4096;

/// 8 bytes standing for a document's heads in a summary (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeadsDigest(pub [u8; 8]);

/// One document of a `crm-summary-reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryEntry {
    pub document_id: DocumentId,
    pub heads: HeadsDigest,
}

/// The digest of a set of documents (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SummaryDigest(pub [u8; 16]);

/// The digest of one document's heads: first 8 bytes of SHA-256 over the sorted heads.
pub fn heads_digest(heads: &[automerge::ChangeHash]) -> HeadsDigest {
    let mut sorted: Vec<_> = heads.to_vec();
    sorted.sort();
    let mut h = Sha256::new();
    for head in &sorted {
        h.update(head.0);
    }
    let out = h.finalize();
    let mut d = [0u8; 8];
    d.copy_from_slice(&out[..8]);
    HeadsDigest(d)
}

/// The digest of a set of documents: the XOR of their [`doc_digest`]s (see the module doc).
pub fn summary_digest(set: &BTreeMap<DocumentId, DocDigest>) -> SummaryDigest {
    let mut s = SetSummary::default();
    for (id, d) in set {
        s.add(id, d);
    }
    s.digest()
}

/// A document's `docDigest` (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DocDigest(pub [u8; 16]);

impl DocDigest {
    /// The 8 bytes a summary entry carries.
    pub fn entry(&self) -> HeadsDigest {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.0[..8]);
        HeadsDigest(d)
    }
}

/// The `docDigest` of a document with these heads (sorted here).
pub fn doc_digest(id: &DocumentId, heads: &[automerge::ChangeHash]) -> DocDigest {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    if heads.windows(2).all(|w| w[0] <= w[1]) {
        for head in heads {
            h.update(head.0);
        }
    } else {
        let mut sorted: Vec<_> = heads.to_vec();
        sorted.sort();
        for head in &sorted {
            h.update(head.0);
        }
    }
    let out = h.finalize();
    let mut d = [0u8; 16];
    d.copy_from_slice(&out[..16]);
    DocDigest(d)
}

/// The summary bucket of a document: the first 12 bits of its id bytes.
pub fn bucket_of(id: &DocumentId) -> u16 {
    let b = id.as_bytes();
    (u16::from(b[0]) << 4) | u16::from(b[1] >> 4)
}

/// The first and the last document id of a bucket.
pub fn bucket_range(bucket: u16) -> (DocumentId, DocumentId) {
    let mut lo = [0u8; 16];
    lo[0] = (bucket >> 4) as u8;
    lo[1] = ((bucket & 0xf) as u8) << 4;
    let mut hi = [0xffu8; 16];
    hi[0] = lo[0];
    hi[1] = lo[1] | 0x0f;
    (DocumentId::from_bytes(lo), DocumentId::from_bytes(hi))
}

/// A set of documents summarised for `crmBatch`: how many, and each bucket's digest. Kept up to
/// date document by document with [`SetSummary::add`] / [`SetSummary::remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSummary {
    pub count: u64,
    /// [`BUCKETS`] digests.
    pub buckets: Vec<[u8; 16]>,
}

impl Default for SetSummary {
    fn default() -> Self {
        SetSummary {
            count: 0,
            buckets: vec![[0; 16]; BUCKETS],
        }
    }
}

impl SetSummary {
    fn xor(&mut self, id: &DocumentId, d: &DocDigest) {
        let b = &mut self.buckets[usize::from(bucket_of(id))];
        for (x, y) in b.iter_mut().zip(d.0) {
            *x ^= y;
        }
    }

    /// Adds a document (with non-empty heads).
    pub fn add(&mut self, id: &DocumentId, d: &DocDigest) {
        self.count += 1;
        self.xor(id, d);
    }

    /// Removes a document added before.
    pub fn remove(&mut self, id: &DocumentId, d: &DocDigest) {
        self.count = self.count.saturating_sub(1);
        self.xor(id, d);
    }

    /// The set digest: the XOR of every bucket's.
    pub fn digest(&self) -> SummaryDigest {
        let mut d = [0u8; 16];
        for b in &self.buckets {
            for (x, y) in d.iter_mut().zip(b) {
                *x ^= y;
            }
        }
        SummaryDigest(d)
    }

    /// The bucket digests as `crm-summary-reply` carries them (8 bytes each).
    pub fn wire_buckets(&self) -> Vec<[u8; 8]> {
        self.buckets
            .iter()
            .map(|b| {
                let mut d = [0u8; 8];
                d.copy_from_slice(&b[..8]);
                d
            })
            .collect()
    }

    /// Encodes for storage: count (8 bytes, big-endian) then the bucket digests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 16 * BUCKETS);
        v.extend_from_slice(&self.count.to_be_bytes());
        for b in &self.buckets {
            v.extend_from_slice(b);
        }
        v
    }

    /// Decodes [`SetSummary::to_bytes`]; `None` if damaged.
    pub fn from_bytes(bytes: &[u8]) -> Option<SetSummary> {
        if bytes.len() != 8 + 16 * BUCKETS {
            return None;
        }
        let count = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let buckets = bytes[8..]
            .chunks_exact(16)
            .map(|c| c.try_into().unwrap_or([0; 16]))
            .collect();
        Some(SetSummary { count, buckets })
    }
}
