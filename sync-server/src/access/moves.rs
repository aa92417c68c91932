//! Telling a move apart: which values of the root `book` the changes of a sync message bring.
//!
//! It must cost next to nothing on every other change: [`may_touch_book`] scans the bytes (a
//! plain change holds the key `book` as plain text), and only a maybe is decoded; a whole document
//! (what a small record's edits travel as) is read from its operation columns with the shared
//! reader of Automerge's format, not loaded.

use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};
use crm_shared::automerge_format::chunk::TYPE_OFFSET;
use crm_shared::automerge_format::columns::{ACTION_SET, VALUE_STRING};
use crm_shared::automerge_format::leb128::take;
use crm_shared::automerge_format::{
    Chunk, ChunkType, ColumnSpec, DocumentHeader, Item, Rle, MAGIC,
};
use crm_shared::schema::BOOK_KEY;

/// A cheap test that is true whenever the changes in the Automerge sync message `data` may
/// hold an operation on the root key `book` (and rarely otherwise): one pass over the bytes.
///
/// A change chunk (Automerge refuses deflated columns in one) and a document chunk without
/// deflated columns hold map keys as plain UTF-8, so a `book` key shows as the bytes `book`.
/// Any other chunk (a compressed change, a document with deflated columns) may hide it, and
/// counts as a maybe. A chunk begins with the magic bytes, a 4-byte checksum and its type.
pub(super) fn may_touch_book(data: &[u8]) -> bool {
    data.windows(4).enumerate().any(|(i, w)| {
        w == b"book"
            || (w == MAGIC
                && match data.get(i + TYPE_OFFSET).map(|b| ChunkType::try_from(*b)) {
                    Some(Ok(ChunkType::Change)) => false,
                    Some(Ok(ChunkType::Document)) => {
                        Chunk::first(data.get(i..).unwrap_or_default())
                            .and_then(|chunk| DocumentHeader::parse(chunk.body)?.plain_op_columns())
                            .is_none()
                    }
                    _ => true,
                })
    })
}

/// The values at the root key `book` that the changes of an Automerge sync message bring: for
/// a change, each operation it makes there; for a whole document, the values it shows there.
/// `None` (a value that is not a string, or a delete) counts as a value too, and so does a chunk
/// that does not decode: nothing hides a move. `None` overall when the message does not decode
/// (the engine refuses it) or nothing touches the root `book`.
pub(super) fn book_puts_in_sync_message(data: &[u8]) -> Option<Vec<Option<String>>> {
    let message = automerge::sync::Message::decode(data).ok()?;
    let mut values = Vec::new();
    let mut puts = BookPuts::default();
    for bytes in message.changes.iter() {
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(chunk) = Chunk::first(rest) else {
                values.push(None);
                break;
            };
            rest = chunk.rest;
            if chunk.kind == Ok(ChunkType::Document) {
                match visible_books_in_document(chunk.body) {
                    Some(found) => values.extend(found),
                    // Deflated columns, or a layout this reader does not know: loaded.
                    None => match Automerge::load(chunk.bytes) {
                        Ok(doc) => values.extend(
                            doc.get_all(ROOT, BOOK_KEY)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|(v, _)| string_of(&v)),
                        ),
                        Err(_) => values.push(None),
                    },
                }
            } else {
                match automerge::Change::try_from(chunk.bytes) {
                    Ok(change) => puts.add(&change),
                    Err(_) => values.push(None),
                }
            }
        }
    }
    values.extend(puts.surviving());
    (!values.is_empty()).then_some(values)
}

fn string_of(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The operations on the root `book` of a message's changes, with what each overwrites.
#[derive(Default)]
struct BookPuts {
    /// (id, value: `None` for a delete or a value that is not text).
    ops: Vec<(automerge::legacy::OpId, Option<String>)>,
    overwritten: std::collections::HashSet<automerge::legacy::OpId>,
}

impl BookPuts {
    fn add(&mut self, change: &automerge::Change) {
        use automerge::legacy::{Key, ObjectId, OpId, OpType};
        let change = change.decode();
        for (i, op) in change.operations.into_iter().enumerate() {
            if op.obj != ObjectId::Root || !matches!(&op.key, Key::Map(k) if k == BOOK_KEY) {
                continue;
            }
            let id = OpId(change.start_op.get() + i as u64, change.actor_id.clone());
            let value = match &op.action {
                OpType::Put(ScalarValue::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            // A delete overwrites without leaving a value of its own that a later put names: it
            // is counted as a move to no book whatever follows.
            self.overwritten.extend(op.pred.iter().cloned());
            self.ops.push((id, value));
        }
    }

    /// The values no other operation of the message overwrites: what the book is once the
    /// message is applied (with whatever concurrent value the document holds). A rep who moved
    /// a record and then moved it back sends both changes; only the second counts.
    fn surviving(self) -> impl Iterator<Item = Option<String>> {
        let overwritten = self.overwritten;
        self.ops
            .into_iter()
            .filter(move |(id, _)| !overwritten.contains(id))
            .map(|(_, value)| value)
    }
}

/// The values a document chunk's body shows at the root key `book` (operations there with no
/// successor), read from its operation columns without loading it: `None` when a column is
/// deflated or the columns do not line up (the caller loads the chunk instead).
pub(super) fn visible_books_in_document(body: &[u8]) -> Option<Vec<Option<String>>> {
    let columns = DocumentHeader::parse(body)?.plain_op_columns()?;
    let column = |spec: ColumnSpec| columns.iter().find(|(s, _)| *s == spec).map(|(_, c)| *c);
    let mut obj_actor = Rle::new(column(ColumnSpec::OBJ_ACTOR), false);
    let mut obj_counter = Rle::new(column(ColumnSpec::OBJ_COUNTER), false);
    let mut key = Rle::new(column(ColumnSpec::KEY_STRING), true);
    let mut action = Rle::new(column(ColumnSpec::ACTION), false);
    let mut meta = Rle::new(column(ColumnSpec::VALUE_META), false);
    let mut succ = Rle::new(column(ColumnSpec::SUCC_COUNT), false);
    let mut raw = column(ColumnSpec::VALUE_RAW).unwrap_or_default();
    let mut values = Vec::new();
    while !action.done() {
        let act = action.next()??.uleb()?;
        let (actor, counter) = (obj_actor.next()?, obj_counter.next()?);
        let root = actor.is_none() && counter.is_none();
        let name = key.next()?;
        let m = meta.next()?.map_or(Some(0), Item::uleb)?;
        let value = take(&mut raw, usize::try_from(m >> 4).ok()?)?;
        let successors = succ.next()?.map_or(Some(0), Item::uleb)?;
        if root && successors == 0 && name.and_then(Item::str) == Some(BOOK_KEY.as_bytes()) {
            values.push(
                (act == ACTION_SET && m & 0xf == VALUE_STRING)
                    .then(|| String::from_utf8(value.to_vec()).ok())
                    .flatten(),
            );
        }
    }
    // Every column holds one item per operation: anything left over is a layout this does not
    // know.
    let lined_up = [&obj_actor, &obj_counter, &key, &meta, &succ]
        .iter()
        .all(|c| c.done())
        && raw.is_empty();
    lined_up.then_some(values)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType};
    use proptest::prelude::*;

    pub(crate) fn message(chunks: Vec<Vec<u8>>) -> Vec<u8> {
        automerge::sync::Message {
            heads: Vec::new(),
            need: Vec::new(),
            have: Vec::new(),
            changes: chunks.into(),
            flags: None,
            version: automerge::sync::MessageVersion::V2,
        }
        .encode()
    }

    pub(crate) fn record(book: &str) -> AutoCommit {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "type", "contact").unwrap();
        doc.put(ROOT, "book", book).unwrap();
        doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.commit();
        doc
    }

    /// The last change of `doc`, plain or (when it is big enough) compressed.
    pub(crate) fn last_change(doc: &mut AutoCommit, compressed: bool) -> Vec<u8> {
        let mut change = doc.get_last_local_change().unwrap();
        if compressed {
            change.bytes().into_owned()
        } else {
            change.raw_bytes().to_vec()
        }
    }

    fn shown(doc: &AutoCommit) -> Vec<Option<String>> {
        let mut v: Vec<_> = doc
            .get_all(ROOT, "book")
            .unwrap()
            .into_iter()
            .map(|(v, _)| string_of(&v))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_edit_that_leaves_the_book_alone_is_told_apart_by_a_scan() {
        let mut doc = record("north");
        doc.put(ROOT, "title", "CFO").unwrap();
        doc.commit();
        let edit = message(vec![last_change(&mut doc, false)]);
        assert!(!may_touch_book(&edit));
        assert_eq!(book_puts_in_sync_message(&edit), None);
        // Heads only (an acknowledgement).
        assert!(!may_touch_book(&message(Vec::new())));
    }

    #[test]
    fn a_move_is_found_in_a_change_a_compressed_change_and_a_whole_document() {
        let mut doc = record("north");
        let text = doc.get(ROOT, "notes").unwrap().unwrap().1;
        doc.splice_text(&text, 0, 0, &"Met at the Lisbon fair. ".repeat(40))
            .unwrap();
        doc.put(ROOT, "book", "south").unwrap();
        doc.commit();
        let plain = last_change(&mut doc, false);
        let compressed = last_change(&mut doc, true);
        assert_eq!(compressed[8], 2, "a compressed change chunk");
        for chunk in [plain, compressed] {
            let m = message(vec![chunk]);
            assert!(may_touch_book(&m));
            assert_eq!(
                book_puts_in_sync_message(&m),
                Some(vec![Some("south".to_string())])
            );
        }
        // A whole document shows one value: the one that won.
        for whole in [doc.save(), doc.save_nocompress()] {
            let m = message(vec![whole]);
            assert!(may_touch_book(&m));
            assert_eq!(
                book_puts_in_sync_message(&m),
                Some(vec![Some("south".to_string())])
            );
        }
        // A nested `book` is no book.
        let mut nested = record("north");
        let tags = nested.put_object(ROOT, "tags", ObjType::Map).unwrap();
        nested.put(&tags, "book", "x").unwrap();
        nested.commit();
        let m = message(vec![last_change(&mut nested, false)]);
        assert_eq!(book_puts_in_sync_message(&m), None);
        // A delete is a move to no book.
        nested.delete(ROOT, "book").unwrap();
        nested.commit();
        let m = message(vec![last_change(&mut nested, false)]);
        assert_eq!(book_puts_in_sync_message(&m), Some(vec![None]));
    }

    #[test]
    fn a_move_and_a_move_back_in_one_message_leave_the_book_as_it_was() {
        let mut doc = record("north");
        doc.put(ROOT, "book", "south").unwrap();
        doc.commit();
        let there = last_change(&mut doc, false);
        doc.put(ROOT, "title", "CFO").unwrap();
        doc.put(ROOT, "book", "north").unwrap();
        doc.commit();
        let back = last_change(&mut doc, false);
        assert_eq!(
            book_puts_in_sync_message(&message(vec![there.clone(), back])),
            Some(vec![Some("north".to_string())])
        );
        // The move alone, or followed by a change that does not undo it, is still a move.
        doc.put(ROOT, "title", "CEO").unwrap();
        doc.commit();
        let other = last_change(&mut doc, false);
        assert_eq!(
            book_puts_in_sync_message(&message(vec![there, other])),
            Some(vec![Some("south".to_string())])
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Book(u8),
        DeleteBook,
        Key(u8, u8),
        Nested(u8),
        Text(u16),
        Merge,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4).prop_map(Op::Book),
            Just(Op::DeleteBook),
            (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Key(k, v)),
            (0u8..4).prop_map(Op::Nested),
            (0u16..600).prop_map(Op::Text),
            Just(Op::Merge),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The column reader agrees with Automerge on every document, and the scan never misses
        /// a change or a document that touches the root `book`.
        #[test]
        fn the_column_reader_and_the_scan_agree_with_automerge(ops in prop::collection::vec(op(), 1..40)) {
            let mut a = record("north");
            let mut b = a.fork();
            let text = a.get(ROOT, "notes").unwrap().unwrap().1;
            for (i, op) in ops.iter().enumerate() {
                let doc = if i % 2 == 0 { &mut a } else { &mut b };
                match op {
                    Op::Book(n) => { doc.put(ROOT, "book", format!("book{n}")).unwrap(); }
                    Op::DeleteBook => { let _ = doc.delete(ROOT, "book"); }
                    Op::Key(k, v) => { doc.put(ROOT, format!("k{k}"), i64::from(*v)).unwrap(); }
                    Op::Nested(n) => {
                        let m = doc.put_object(ROOT, format!("m{n}"), ObjType::Map).unwrap();
                        doc.put(&m, "book", "inner").unwrap();
                    }
                    Op::Text(n) => { doc.splice_text(&text, 0, 0, &"x".repeat(usize::from(*n))).unwrap(); }
                    Op::Merge => { a.merge(&mut b).unwrap(); b.merge(&mut a).unwrap(); }
                }
                let doc = if i % 2 == 0 { &mut a } else { &mut b };
                if doc.commit().is_some() {
                    for compressed in [false, true] {
                        let m = message(vec![last_change(doc, compressed)]);
                        if !may_touch_book(&m) {
                            prop_assert_eq!(book_puts_in_sync_message(&m), None);
                        }
                    }
                }
            }
            a.merge(&mut b).unwrap();
            for whole in [a.save(), a.save_nocompress()] {
                let body = Chunk::first(&whole).unwrap().body;
                if let Some(mut found) = visible_books_in_document(body) {
                    found.sort();
                    prop_assert_eq!(found, shown(&a));
                }
                let m = message(vec![whole.clone()]);
                let mut all = book_puts_in_sync_message(&m).unwrap_or_default();
                all.sort();
                prop_assert_eq!(all, shown(&a));
                if !shown(&a).is_empty() {
                    prop_assert!(may_touch_book(&m));
                }
            }
            // Uncompressed documents are read from their columns, not loaded.
            let plain = a.save_nocompress();
            prop_assert!(visible_books_in_document(Chunk::first(&plain).unwrap().body).is_some());
        }
    }
}
