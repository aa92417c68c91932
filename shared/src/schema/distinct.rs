//! Pairs of records someone said are not the same person or organization (`crm duplicates
//! dismiss`), so `crm duplicates` no longer lists them, on every replica.
//!
//! Each record of the pair keeps, under a root key of its own per other record
//! (`distinct:<other id>`), `true` while the pair is dismissed and `false` once the dismissal is
//! undone. A key per pair: reps dismissing different pairs offline never write the same key, and
//! no container is created (an older record has none to share); a dismissal and its undoing made
//! concurrently leave one value, the same on every replica.

use crate::DocumentId;
use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};

const PREFIX: &str = "distinct:";

/// The root key holding whether this record and `other` are dismissed as duplicates.
pub fn distinct_key(other: DocumentId) -> String {
    format!("{PREFIX}{other}")
}

/// Whether a root key is such a mark (not a field).
pub fn is_distinct_key(key: &str) -> bool {
    key.starts_with(PREFIX)
}

/// The records this one is dismissed as a duplicate of (marks set to `true`), in id order.
pub fn distinct_from(doc: &Automerge) -> Vec<DocumentId> {
    doc.keys(ROOT)
        .filter_map(|key| {
            let other = key.strip_prefix(PREFIX)?.parse::<DocumentId>().ok()?;
            match doc.get(ROOT, key.as_str()).ok()?? {
                (Value::Scalar(s), _) if matches!(s.as_ref(), ScalarValue::Boolean(true)) => {
                    Some(other)
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::AutoCommit;

    #[test]
    fn only_marks_still_true_name_a_dismissed_pair() {
        let (a, b) = (
            DocumentId::from_random([1; 16]),
            DocumentId::from_random([2; 16]),
        );
        let mut doc = AutoCommit::new();
        doc.put(ROOT, distinct_key(a), true).unwrap();
        doc.put(ROOT, distinct_key(b), true).unwrap();
        doc.put(ROOT, "distinct:not-an-id", true).unwrap();
        doc.put(ROOT, distinct_key(b), false).unwrap();
        assert_eq!(distinct_from(doc.document()), vec![a]);
        assert!(is_distinct_key(&distinct_key(a)));
        assert!(!is_distinct_key("name"));
    }
}
