//! What each change of a record did to its fields: the value before and after, as `show` prints
//! them (text fields as a short word diff, lists as the lines added and removed), for
//! `crm history`.
//!
//! "Before" is the record at the change's dependencies, "after" at the change itself, so a change
//! made offline concurrently with others shows what it did, not what the merge made of it.

use super::record::field_rows;
use crate::store::Store;
use automerge::{Automerge, ChangeHash, ReadDoc};
use crm_shared::schema::{self, HistoryEntry};
use crm_shared::DocumentId;
use serde::Serialize;
use std::collections::HashMap;

/// One field of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
    /// A short diff of a text (or list) field; empty for a plain value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

/// The fields `entry` touched, each with its value before and after.
pub fn field_changes(
    store: &Store,
    doc: &Automerge,
    id: DocumentId,
    entry: &HistoryEntry,
) -> Vec<FieldChange> {
    let Ok(hash) = entry.hash.parse::<ChangeHash>() else {
        return Vec::new();
    };
    let deps = doc
        .get_change_by_hash(&hash)
        .map(|c| c.deps().to_vec())
        .unwrap_or_default();
    let values = |heads: &[ChangeHash]| -> HashMap<String, String> {
        if heads.is_empty() {
            return HashMap::new();
        }
        schema::read_record(id, doc, Some(heads))
            .map(|r| field_rows(store, &r).into_iter().collect())
            .unwrap_or_default()
    };
    let before = values(&deps);
    let after = values(&[hash]);
    entry
        .fields
        .iter()
        .map(|field| {
            let label = match field.as_str() {
                "deleted_at" => "REMOVED".to_string(),
                other => other.replace('_', " "),
            };
            let old = before.get(&label).cloned().unwrap_or_default();
            let new = after.get(&label).cloned().unwrap_or_default();
            let diff = if old.contains('\n') || new.contains('\n') {
                line_diff(&old, &new)
            } else if field == "notes" && !old.is_empty() {
                word_diff(&old, &new)
            } else {
                String::new()
            };
            FieldChange {
                field: field.clone(),
                before: old,
                after: new,
                diff,
            }
        })
        .collect()
}

/// The words removed `[-so-]` and added `{+so+}`, with at most a few unchanged words around each.
pub fn word_diff(old: &str, new: &str) -> String {
    use similar::{ChangeTag, TextDiff};
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_words(old, new);
    let mut out = String::new();
    let mut run: Vec<&str> = Vec::new();
    let mut first = true;
    for c in diff.iter_all_changes() {
        let word = c.value();
        match c.tag() {
            ChangeTag::Equal => run.push(word),
            tag => {
                out.push_str(&squeeze(&run, first, false));
                run.clear();
                first = false;
                if word.trim().is_empty() {
                    out.push_str(word);
                } else if tag == ChangeTag::Delete {
                    out.push_str(&format!("[-{word}-]"));
                } else {
                    out.push_str(&format!("{{+{word}+}}"));
                }
            }
        }
    }
    out.push_str(&squeeze(&run, first, true));
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An unchanged run of words between changes, cut to a few words next to each change.
fn squeeze(run: &[&str], first: bool, last: bool) -> String {
    const CONTEXT: usize = 3;
    let words: Vec<&str> = run
        .iter()
        .copied()
        .filter(|w| !w.trim().is_empty())
        .collect();
    let head = if first { 0 } else { CONTEXT };
    let tail = if last { 0 } else { CONTEXT };
    if words.len() <= head + tail {
        return run.concat();
    }
    let mut parts = Vec::new();
    if head > 0 {
        parts.push(words[..head].join(" "));
    }
    parts.push("…".to_string());
    if tail > 0 {
        parts.push(words[words.len() - tail..].join(" "));
    }
    format!(" {} ", parts.join(" "))
}

/// The lines of a list removed (`- line`) and added (`+ line`).
fn line_diff(old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let removed = old_lines
        .iter()
        .filter(|l| !new_lines.contains(l))
        .map(|l| format!("- {l}"));
    let added = new_lines
        .iter()
        .filter(|l| !old_lines.contains(l))
        .map(|l| format!("+ {l}"));
    removed.chain(added).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_change_shows_the_words_changed_with_a_little_context() {
        assert_eq!(
            word_diff("Met at the fair", "Met at the Lisbon fair"),
            "Met at the {+Lisbon+} fair"
        );
        let long_old = "one two three four five six seven eight nine ten eleven twelve";
        let long_new = "one two three four five six SEVEN eight nine ten eleven twelve";
        assert_eq!(
            word_diff(long_old, long_new),
            "… four five six [-seven-]{+SEVEN+} eight nine ten …"
        );
        assert_eq!(line_diff("a\nb", "b\nc"), "- a\n+ c");
    }
}
