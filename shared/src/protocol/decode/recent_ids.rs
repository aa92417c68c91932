//! A per-thread cache of the document ids lately read from the wire: the one piece of
//! thread-local state in this crate. It changes no result, only what a repeated id costs.

use std::cell::RefCell;

use crate::document_id::{DocumentId, DocumentIdError};

/// `text` parsed as a document id, from [`RECENT_DOC_IDS`] when it was lately.
pub(super) fn recent_doc_id(text: &str) -> Result<DocumentId, DocumentIdError> {
    RECENT_DOC_IDS.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(id) = recent.get(text) {
            return Ok(id);
        }
        let id = text.parse()?;
        recent.put(text, id);
        Ok(id)
    })
}

thread_local! {
    /// Document ids this thread read from the wire lately: peers name the same few documents in
    /// frame after frame, and checking a bs58check id (base-58 arithmetic and two SHA-256s)
    /// costs more than the rest of decoding an acknowledgement.
    static RECENT_DOC_IDS: RefCell<RecentDocIds> = const {
        RefCell::new(RecentDocIds { entries: Vec::new(), next: 0 })
    };
}

/// The last [`RecentDocIds::CAPACITY`] distinct valid ids read, with their text.
struct RecentDocIds {
    entries: Vec<(String, DocumentId)>,
    next: usize,
}

impl RecentDocIds {
    const CAPACITY: usize = 16;

    fn get(&self, text: &str) -> Option<DocumentId> {
        self.entries
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, id)| *id)
    }

    fn put(&mut self, text: &str, id: DocumentId) {
        if self.entries.len() < Self::CAPACITY {
            self.entries.push((text.to_owned(), id));
        } else {
            self.entries[self.next] = (text.to_owned(), id);
            self.next = (self.next + 1) % Self::CAPACITY;
        }
    }
}
