//! The reader against Automerge's own bytes, and against arbitrary bytes (a property target: it
//! never panics and never reads past what it was given). Failing inputs proptest finds are kept
//! in `shared/proptest-regressions/` and replayed first.

use super::chunk::is_single_document;
use super::columns::split_columns;
use super::leb128::write_uleb;
use super::rle::count_items;
use super::*;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use proptest::prelude::*;

fn sample() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "type", "contact").unwrap();
    doc.put(ROOT, "book", "north").unwrap();
    let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
    doc.splice_text(&notes, 0, 0, "met at the fair").unwrap();
    doc.commit();
    doc
}

#[test]
fn chunk_types_are_read_from_their_byte_and_written_back() {
    for kind in [
        ChunkType::Document,
        ChunkType::Change,
        ChunkType::Compressed,
        ChunkType::Bundle,
    ] {
        assert_eq!(ChunkType::try_from(u8::from(kind)), Ok(kind));
    }
    assert_eq!(ChunkType::try_from(9), Err(9));
}

#[test]
fn a_saved_document_is_one_document_chunk_and_a_change_is_not() {
    let mut doc = sample();
    let saved = doc.save();
    assert!(is_single_document(&saved));
    let chunk = Chunk::first(&saved).unwrap();
    assert_eq!(chunk.kind, Ok(ChunkType::Document));
    assert!(DocumentHeader::parse(chunk.body).is_some());
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    assert!(!is_single_document(&change));
    assert_eq!(Chunk::first(&change).unwrap().kind, Ok(ChunkType::Change));
    // Two documents, a truncated one and a document with bytes after it are not one document.
    let mut two = saved.clone();
    two.extend(&saved);
    assert!(!is_single_document(&two));
    assert_eq!(Chunk::all(&two).count(), 2);
    assert!(!is_single_document(&saved[..saved.len() - 1]));
    assert!(!is_single_document(&[]));
}

#[test]
fn a_change_header_leads_to_columns_that_fill_its_body() {
    let mut doc = sample();
    let change = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    let body = Chunk::first(&change).unwrap().body;
    let header = ChangeHeader::parse(body).unwrap();
    let columns = split_columns(&header.columns, header.data).unwrap();
    let total: usize = columns.iter().map(|(_, c)| c.len()).sum();
    assert_eq!(total, header.data.len());
    // The action column holds one item per operation.
    let (_, actions) = columns
        .iter()
        .find(|(s, _)| *s == ColumnSpec::ACTION)
        .unwrap();
    assert_eq!(
        count_items(ColumnType::Integer, actions, u64::MAX),
        doc.get_last_local_change().unwrap().len() as u64
    );
}

#[test]
fn the_operation_columns_of_a_plain_document_decode_item_by_item() {
    let saved = sample().save_nocompress();
    let body = Chunk::first(&saved).unwrap().body;
    let columns = DocumentHeader::parse(body)
        .unwrap()
        .plain_op_columns()
        .unwrap();
    let keys = columns
        .iter()
        .find(|(s, _)| *s == ColumnSpec::KEY_STRING)
        .map(|(_, c)| *c);
    let mut rle = Rle::new(keys, true);
    let mut found = Vec::new();
    while !rle.done() {
        if let Some(Item::Str(k)) = rle.next().unwrap() {
            found.push(String::from_utf8(k.to_vec()).unwrap());
        }
    }
    assert!(found.contains(&"book".to_string()), "{found:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// LEB128 written here is read back as it was.
    #[test]
    fn an_unsigned_number_reads_back_as_written(n in any::<u64>()) {
        let mut bytes = Vec::new();
        write_uleb(&mut bytes, n);
        let mut r = Reader(&bytes);
        prop_assert_eq!(r.uleb(), Some(n));
        prop_assert!(r.is_empty());
    }

    /// The reader never panics on arbitrary bytes, and what it hands out lies inside them.
    #[test]
    fn the_reader_survives_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        magic in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if magic {
            let mut framed = MAGIC.to_vec();
            framed.extend(&bytes);
            bytes = framed;
        }
        let mut read = 0;
        for chunk in Chunk::all(&bytes) {
            read += chunk.bytes.len();
            prop_assert!(chunk.body.len() < chunk.bytes.len());
            if let Some(h) = DocumentHeader::parse(chunk.body) {
                if let Some(cols) = h.plain_op_columns() {
                    for (spec, col) in cols {
                        let _ = count_items(spec.column_type(), col, 1 << 20);
                        let mut rle = Rle::new(Some(col), spec.column_type() == ColumnType::String);
                        let mut steps = 0;
                        while !rle.done() && steps < 10_000 && rle.next().is_some() {
                            steps += 1;
                        }
                    }
                }
            }
            if let Some(h) = ChangeHeader::parse(chunk.body) {
                let _ = split_columns(&h.columns, h.data);
            }
        }
        prop_assert!(read <= bytes.len());
        for t in [ColumnType::Boolean, ColumnType::String, ColumnType::Integer, ColumnType::Value] {
            let _ = count_items(t, &bytes, 1 << 20);
        }
        let _ = is_single_document(&bytes);
    }

    /// Every chunk Automerge writes for a document of random keys and texts is read whole.
    #[test]
    fn automerge_chunks_are_read_whole(
        puts in proptest::collection::vec((0u8..8, ".{0,40}"), 1..20),
    ) {
        let mut doc = AutoCommit::new();
        let mut changes = Vec::new();
        for (k, v) in &puts {
            doc.put(ROOT, format!("k{k}"), v.as_str()).unwrap();
            doc.commit();
            changes.push(doc.get_last_local_change().unwrap().raw_bytes().to_vec());
        }
        for change in &changes {
            let chunk = Chunk::first(change).unwrap();
            prop_assert!(chunk.rest.is_empty());
            let h = ChangeHeader::parse(chunk.body).unwrap();
            prop_assert!(split_columns(&h.columns, h.data).is_some());
        }
        prop_assert!(is_single_document(&doc.save()));
        let plain = doc.save_nocompress();
        let h = DocumentHeader::parse(Chunk::first(&plain).unwrap().body).unwrap();
        prop_assert!(h.plain_op_columns().is_some());
    }
}
