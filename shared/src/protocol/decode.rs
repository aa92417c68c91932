//! Decoding frames into [`Message`]s: a fast path for `sync` and `request` frames read straight
//! from the bytes, and the general path over a bounded CBOR tree ([`super::cbor`]). Never panics.

mod recent_ids;

use crate::document_id::{DocumentId, DocumentIdError};

use super::cbor::{self, Value};
use super::{
    BatchItem, BatchKind, HeadsDigest, IdError, Message, PeerMetadata, StorageId, SummaryDigest,
    SummaryEntry, BUCKETS, MAX_BATCH_ITEMS, MAX_FRAME_LEN,
};
use recent_ids::recent_doc_id;

/// Why a frame is not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes is larger than the limit of {MAX_FRAME_LEN}")]
    TooLarge(usize),
    #[error("invalid CBOR at byte {offset}: {reason}")]
    Cbor { offset: usize, reason: String },
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    #[error("CBOR nested deeper than {0}")]
    TooDeep(usize),
    #[error("the message is not a CBOR map")]
    NotAMap,
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("field `{field}`: {source}")]
    InvalidId {
        field: &'static str,
        source: IdError,
    },
    #[error("field `{field}`: {source}")]
    InvalidDocumentId {
        field: &'static str,
        source: DocumentIdError,
    },
    #[error("field `{field}`: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

fn field<'v>(map: &'v Value, name: &'static str) -> Result<&'v Value, DecodeError> {
    map.get(name).ok_or(DecodeError::MissingField(name))
}

fn text<'v>(map: &'v Value, name: &'static str) -> Result<&'v str, DecodeError> {
    field(map, name)?.as_str().ok_or(DecodeError::WrongType {
        field: name,
        expected: "a text string",
    })
}

/// [`bytes`] without copying them: the last use of the field.
fn take_bytes(map: &mut Value, name: &'static str) -> Result<Vec<u8>, DecodeError> {
    field(map, name)?;
    map.take_bytes(name).ok_or(DecodeError::WrongType {
        field: name,
        expected: "a byte string",
    })
}

fn bytes(map: &Value, name: &'static str) -> Result<Vec<u8>, DecodeError> {
    field(map, name)?
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or(DecodeError::WrongType {
            field: name,
            expected: "a byte string",
        })
}

fn uint(map: &Value, name: &'static str) -> Result<u64, DecodeError> {
    field(map, name)?.as_u64().ok_or(DecodeError::WrongType {
        field: name,
        expected: "a non-negative integer",
    })
}

fn id<T: std::str::FromStr<Err = IdError>>(
    map: &Value,
    name: &'static str,
) -> Result<T, DecodeError> {
    text(map, name)?
        .parse()
        .map_err(|source| DecodeError::InvalidId {
            field: name,
            source,
        })
}

fn opt_id<T: std::str::FromStr<Err = IdError>>(
    map: &Value,
    name: &'static str,
) -> Result<Option<T>, DecodeError> {
    match map.get(name) {
        None => Ok(None),
        Some(_) => id(map, name).map(Some),
    }
}

fn doc_id(map: &Value, name: &'static str) -> Result<DocumentId, DecodeError> {
    recent_doc_id(text(map, name)?).map_err(|source| DecodeError::InvalidDocumentId {
        field: name,
        source,
    })
}

fn doc_id_bytes(b: &[u8], name: &'static str) -> Result<DocumentId, DecodeError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| DecodeError::Invalid {
        field: name,
        reason: "a document id must be 16 bytes",
    })?;
    Ok(DocumentId::from_bytes(arr))
}

fn digest(map: &Value) -> Result<SummaryDigest, DecodeError> {
    let b = bytes(map, "digest")?;
    let arr: [u8; 16] = b.as_slice().try_into().map_err(|_| DecodeError::Invalid {
        field: "digest",
        reason: "a summary digest must be 16 bytes",
    })?;
    Ok(SummaryDigest(arr))
}

fn metadata(map: &Value) -> Result<PeerMetadata, DecodeError> {
    let Some(md) = map.get("peerMetadata") else {
        return Ok(PeerMetadata::default());
    };
    if !matches!(md, Value::Map(_)) {
        return Err(DecodeError::WrongType {
            field: "peerMetadata",
            expected: "a map",
        });
    }
    Ok(PeerMetadata {
        storage_id: opt_id(md, "storageId")?,
        is_ephemeral: matches!(md.get("isEphemeral"), Some(Value::Bool(true))),
        crm_batch: md.get("crmBatch").and_then(Value::as_u64),
    })
}

fn storage_ids(map: &Value, name: &'static str) -> Result<Vec<StorageId>, DecodeError> {
    match map.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                let s = v.as_str().ok_or(DecodeError::WrongType {
                    field: name,
                    expected: "an array of text strings",
                })?;
                s.parse().map_err(|source| DecodeError::InvalidId {
                    field: name,
                    source,
                })
            })
            .collect(),
        Some(_) => Err(DecodeError::WrongType {
            field: name,
            expected: "an array",
        }),
    }
}

fn batch_items(map: &Value) -> Result<Vec<BatchItem>, DecodeError> {
    const WRONG: DecodeError = DecodeError::WrongType {
        field: "items",
        expected: "an array of [kind, documentId, data]",
    };
    let Value::Array(items) = field(map, "items")? else {
        return Err(WRONG);
    };
    if items.len() > MAX_BATCH_ITEMS {
        return Err(DecodeError::Invalid {
            field: "items",
            reason: "too many items in one batch",
        });
    }
    items
        .iter()
        .map(|item| {
            let Value::Array(parts) = item else {
                return Err(WRONG);
            };
            let [kind, doc, data] = parts.as_slice() else {
                return Err(WRONG);
            };
            let kind = match kind.as_u64() {
                Some(0) => BatchKind::Sync,
                Some(1) => BatchKind::Request,
                Some(2) => BatchKind::DocUnavailable,
                Some(3) => BatchKind::Fetch,
                Some(4) => BatchKind::Doc,
                _ => {
                    return Err(DecodeError::Invalid {
                        field: "items",
                        reason: "unknown item kind",
                    })
                }
            };
            let document_id = doc_id_bytes(doc.as_bytes().ok_or(WRONG)?, "items")?;
            let data = data.as_bytes().ok_or(WRONG)?.to_vec();
            Ok(BatchItem {
                kind,
                document_id,
                data,
            })
        })
        .collect()
}

fn summary_entries(map: &Value) -> Result<Vec<SummaryEntry>, DecodeError> {
    let Some(v) = map.get("entries") else {
        return Ok(Vec::new());
    };
    let b = v.as_bytes().ok_or(DecodeError::WrongType {
        field: "entries",
        expected: "a byte string",
    })?;
    if b.len() % 24 != 0 {
        return Err(DecodeError::Invalid {
            field: "entries",
            reason: "length is not a multiple of 24",
        });
    }
    b.chunks_exact(24)
        .map(|rec| {
            let document_id = doc_id_bytes(&rec[..16], "entries")?;
            let mut heads = [0u8; 8];
            heads.copy_from_slice(&rec[16..]);
            Ok(SummaryEntry {
                document_id,
                heads: HeadsDigest(heads),
            })
        })
        .collect()
}

fn bucket_digests(map: &Value) -> Result<Vec<[u8; 8]>, DecodeError> {
    let Some(v) = map.get("buckets") else {
        return Ok(Vec::new());
    };
    let b = v.as_bytes().ok_or(DecodeError::WrongType {
        field: "buckets",
        expected: "a byte string",
    })?;
    if b.len() != 8 * BUCKETS {
        return Err(DecodeError::Invalid {
            field: "buckets",
            reason: "not one 8-byte digest per bucket",
        });
    }
    Ok(b.chunks_exact(8)
        .map(|c| c.try_into().unwrap_or([0; 8]))
        .collect())
}

fn bucket_list(map: &Value) -> Result<Vec<u16>, DecodeError> {
    let b = bytes(map, "buckets")?;
    if b.len() % 2 != 0 || b.len() > 2 * BUCKETS {
        return Err(DecodeError::Invalid {
            field: "buckets",
            reason: "not a list of at most 4096 bucket numbers",
        });
    }
    b.chunks_exact(2)
        .map(|c| {
            let n = u16::from_be_bytes([c[0], c[1]]);
            if usize::from(n) < BUCKETS {
                Ok(n)
            } else {
                Err(DecodeError::Invalid {
                    field: "buckets",
                    reason: "bucket number out of range",
                })
            }
        })
        .collect()
}

/// `sync` and `request` frames as automerge-repo writes them (one definite-length map of text
/// keys with text values and a byte string), read straight from the bytes: they are nearly every
/// frame, and building a CBOR tree first costs more than the rest of handling one. Anything
/// else (another type, a key more or repeated, a tag, an id that does not parse) is `None`, and
/// [`any`] decides; whatever this reads, that reads the same.
pub(super) fn doc_message(frame: &[u8]) -> Option<Message> {
    fn once<'b>(slot: &mut Option<&'b str>, d: &mut minicbor::Decoder<'b>) -> Option<()> {
        if slot.is_some() || d.datatype().ok()? != minicbor::data::Type::String {
            return None;
        }
        *slot = Some(d.str().ok()?);
        Some(())
    }
    let mut d = minicbor::Decoder::new(frame);
    if d.datatype().ok()? != minicbor::data::Type::Map {
        return None;
    }
    let entries = d.map().ok()??;
    if entries != 5 {
        return None;
    }
    let (mut ty, mut sender, mut target, mut document, mut data) = (None, None, None, None, None);
    for _ in 0..entries {
        if d.datatype().ok()? != minicbor::data::Type::String {
            return None;
        }
        match d.str().ok()? {
            "type" => once(&mut ty, &mut d)?,
            "senderId" => once(&mut sender, &mut d)?,
            "targetId" => once(&mut target, &mut d)?,
            "documentId" => once(&mut document, &mut d)?,
            "data" => {
                if data.is_some() || d.datatype().ok()? != minicbor::data::Type::Bytes {
                    return None;
                }
                data = Some(d.bytes().ok()?);
            }
            _ => return None,
        }
    }
    if d.position() != frame.len() {
        return None;
    }
    let sender_id = sender?.parse().ok()?;
    let target_id = target?.parse().ok()?;
    let document_id = recent_doc_id(document?).ok()?;
    let request = match ty? {
        "sync" => false,
        "request" => true,
        _ => return None,
    };
    let data = data?.to_vec();
    Some(Message::doc_sync(
        request,
        sender_id,
        target_id,
        document_id,
        data,
    ))
}

/// Any frame, through a CBOR tree.
pub(super) fn any(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut m = cbor::read(frame)?;
    if !matches!(m, Value::Map(_)) {
        return Err(DecodeError::NotAMap);
    }
    let ty = text(&m, "type")?.to_owned();
    let msg = match ty.as_str() {
        "join" => Message::Join {
            sender_id: id(&m, "senderId")?,
            peer_metadata: metadata(&m)?,
            supported_protocol_versions: match m.get("supportedProtocolVersions") {
                None => None,
                Some(Value::Array(vs)) => Some(
                    vs.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .take(64)
                        .collect(),
                ),
                Some(_) => {
                    return Err(DecodeError::WrongType {
                        field: "supportedProtocolVersions",
                        expected: "an array",
                    })
                }
            },
        },
        "peer" => Message::Peer {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            peer_metadata: metadata(&m)?,
            selected_protocol_version: text(&m, "selectedProtocolVersion")?.to_owned(),
        },
        "sync" => Message::Sync {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            data: take_bytes(&mut m, "data")?,
        },
        "request" => Message::Request {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            data: take_bytes(&mut m, "data")?,
        },
        "doc-unavailable" => Message::DocUnavailable {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
        },
        "ephemeral" => Message::Ephemeral {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            session_id: id(&m, "sessionId")?,
            count: uint(&m, "count")?,
            data: bytes(&m, "data")?,
        },
        "remote-subscription-change" => Message::RemoteSubscriptionChange {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            add: storage_ids(&m, "add")?,
            remove: storage_ids(&m, "remove")?,
        },
        "remote-heads-changed" => Message::RemoteHeadsChanged {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
        },
        "error" => Message::Error {
            sender_id: opt_id(&m, "senderId")?,
            target_id: opt_id(&m, "targetId")?,
            message: m
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        "leave" => Message::Leave {
            sender_id: id(&m, "senderId")?,
        },
        "crm-summary" => Message::CrmSummary {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            count: uint(&m, "count")?,
            digest: digest(&m)?,
        },
        "crm-summary-reply" => Message::CrmSummaryReply {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            count: uint(&m, "count")?,
            digest: digest(&m)?,
            matched: matches!(m.get("match"), Some(Value::Bool(true))),
            entries: summary_entries(&m)?,
            buckets: bucket_digests(&m)?,
        },
        "crm-buckets" => Message::CrmBuckets {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            buckets: bucket_list(&m)?,
        },
        "crm-bucket-entries" => Message::CrmBucketEntries {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            buckets: bucket_list(&m)?,
            entries: summary_entries(&m)?,
        },
        "crm-batch" => Message::CrmBatch {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            items: batch_items(&m)?,
        },
        _ => return Err(DecodeError::UnknownType(ty)),
    };
    Ok(msg)
}
