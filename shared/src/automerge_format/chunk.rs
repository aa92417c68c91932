//! Storage chunks: 4 magic bytes, a 4-byte checksum, the chunk type, the body's length (LEB128)
//! and the body (automerge's `storage/chunk.rs`).

use super::leb128::Reader;

/// The magic bytes that open every storage chunk.
pub const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Where the type byte stands in a chunk (after the magic bytes and the checksum).
pub const TYPE_OFFSET: usize = 8;

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkType {
    /// A whole document (what `save` writes).
    Document,
    /// One change, its columns plain.
    Change,
    /// One change, its body deflated.
    Compressed,
    /// A bundle of changes (experimental; sync never sends one).
    Bundle,
}

impl TryFrom<u8> for ChunkType {
    type Error = u8;

    fn try_from(value: u8) -> Result<Self, u8> {
        match value {
            0 => Ok(ChunkType::Document),
            1 => Ok(ChunkType::Change),
            2 => Ok(ChunkType::Compressed),
            3 => Ok(ChunkType::Bundle),
            other => Err(other),
        }
    }
}

impl From<ChunkType> for u8 {
    fn from(kind: ChunkType) -> u8 {
        match kind {
            ChunkType::Document => 0,
            ChunkType::Change => 1,
            ChunkType::Compressed => 2,
            ChunkType::Bundle => 3,
        }
    }
}

/// One storage chunk, as it starts a run of bytes.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    /// Its type byte: a [`ChunkType`], or `Err` with a byte this reader does not know.
    pub kind: Result<ChunkType, u8>,
    /// The whole chunk.
    pub bytes: &'a [u8],
    /// What follows its header.
    pub body: &'a [u8],
    /// What follows the chunk.
    pub rest: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// The first chunk of `bytes`; `None` when they do not start with a whole chunk.
    pub fn first(bytes: &'a [u8]) -> Option<Chunk<'a>> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let kind = ChunkType::try_from(*bytes.get(TYPE_OFFSET)?);
        let mut r = Reader(bytes.get(TYPE_OFFSET + 1..)?);
        let len = r.len()?;
        let start = bytes.len() - r.rest().len();
        let end = start.checked_add(len)?;
        Some(Chunk {
            kind,
            bytes: bytes.get(..end)?,
            body: bytes.get(start..end)?,
            rest: bytes.get(end..)?,
        })
    }

    /// The chunks of `bytes` in order, until the end or the first that does not parse.
    pub fn all(bytes: &'a [u8]) -> impl Iterator<Item = Chunk<'a>> {
        let mut rest = Some(bytes);
        std::iter::from_fn(move || {
            let chunk = Chunk::first(rest.filter(|r| !r.is_empty())?);
            rest = chunk.map(|c| c.rest);
            chunk
        })
    }
}

/// True when `bytes` are exactly one document chunk (what a whole-document fetch carries).
pub fn is_single_document(bytes: &[u8]) -> bool {
    Chunk::first(bytes).is_some_and(|c| c.kind == Ok(ChunkType::Document) && c.rest.is_empty())
}
