//! The book (territory) of a record: the root key that names it, and reading it from a document.
//!
//! The server enforces access by book; a move to another book is a change of this key.

use automerge::{ReadDoc, ScalarValue, Value, ROOT};

/// The root key that names a record's book.
pub const BOOK_KEY: &str = "book";

/// The book of the product catalogue (products and their prices): every user reads it, only
/// managers and admins write it (the server enforces this, and a rep's laptop refuses first),
/// so one catalogue reaches every rep whatever their books.
pub const CATALOGUE_BOOK: &str = "catalogue";

/// The `book` at the root of a document, when it is a string.
pub fn book_of_document(doc: &impl ReadDoc) -> Option<String> {
    match doc.get(ROOT, BOOK_KEY).ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}
