//! `DocumentId`: the id of one Automerge document, as automerge-repo writes it on the wire.
//!
//! 16 random bytes (a UUID v4), shown as bs58check (Bitcoin alphabet with a 4-byte double-SHA-256
//! checksum). Record ids are document ids: one record lives in one document.

use std::fmt;
use std::str::FromStr;

/// The id of one Automerge document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentIdError {
    #[error("`{0}` is not a document id (bad characters or checksum)")]
    Encoding(String),
    #[error("`{0}` is not a document id (it holds {1} bytes, not 16)")]
    Length(String, usize),
}

impl DocumentId {
    /// A new id from 16 random bytes supplied by the caller (`shared` owns no RNG).
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        // Mark it as a UUID v4, as automerge-repo does.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        DocumentId(bytes)
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocumentId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The automerge-repo URL of this document.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The checksum costs two SHA-256 rounds, and a change fanned out to many peers names the
        // same document in every message: the last id written on this thread is remembered.
        thread_local! {
            static LAST: std::cell::RefCell<Option<(DocumentId, String)>> =
                const { std::cell::RefCell::new(None) };
        }
        let text = LAST.with_borrow_mut(|last| match last {
            Some((id, text)) if id == self => text.clone(),
            _ => {
                let text = bs58::encode(&self.0).with_check().into_string();
                *last = Some((*self, text.clone()));
                text
            }
        });
        f.write_str(&text)
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("automerge:").unwrap_or(s);
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|_| DocumentIdError::Encoding(s.to_string()))?;
        let arr: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| DocumentIdError::Length(s.to_string(), bytes.len()))?;
        Ok(DocumentId(arr))
    }
}

impl serde::Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_id_captured_from_automerge_repo() {
        let id: DocumentId = "3TFQm5AyK5AWZ4PZJexWYPXD9j2J".parse().unwrap();
        assert_eq!(id.to_string(), "3TFQm5AyK5AWZ4PZJexWYPXD9j2J");
        assert_eq!(id.url(), "automerge:3TFQm5AyK5AWZ4PZJexWYPXD9j2J");
    }

    #[test]
    fn rejects_a_bad_checksum_and_a_wrong_length() {
        assert!(matches!(
            "3TFQm5AyK5AWZ4PZJexWYPXD9j2K".parse::<DocumentId>(),
            Err(DocumentIdError::Encoding(_))
        ));
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert!(matches!(
            short.parse::<DocumentId>(),
            Err(DocumentIdError::Length(_, 8))
        ));
    }

    #[test]
    fn round_trips_random_ids() {
        for seed in 0u8..50 {
            let id = DocumentId::from_random([seed.wrapping_mul(37); 16]);
            assert_eq!(id.to_string().parse::<DocumentId>().unwrap(), id);
        }
    }
}
