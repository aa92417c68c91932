//! Automerge's binary storage format, read without loading anything into Automerge: the one
//! reader of it in the project.
//!
//! A run of storage bytes is a sequence of chunks ([`chunk`]): a header (magic bytes, checksum,
//! type, length) and a body. The body of a change or a document holds metadata and columns
//! ([`columns`]), whose values are LEB128 numbers ([`leb128`]), mostly run-length encoded
//! ([`rle`]). The layout is automerge's (its `storage/` module); this reader only walks it, and
//! answers `None` for anything that does not parse, leaving the verdict to Automerge.
//!
//! Users: the server's limit check (bytes and operations a frame expands to), its book screening
//! (the root `book` of a change or a document), the engine's sniffing of whole documents
//! ([`chunk::is_single_document`]) and the tests' decompression bomb.

pub mod chunk;
pub mod columns;
pub mod leb128;
pub mod rle;

pub use chunk::{Chunk, ChunkType, MAGIC};
pub use columns::{ChangeHeader, ColumnSpec, ColumnType, DocumentHeader};
pub use leb128::Reader;
pub use rle::{Item, Rle};

#[cfg(test)]
mod tests;
