//! Encoding [`Message`]s as CBOR maps with minimal headers, absent optional fields left out.

use super::cbor::Writer;
use super::{Message, PeerMetadata, SummaryEntry};

fn write_metadata(w: &mut Writer, md: &PeerMetadata) {
    let n = 1 + usize::from(md.storage_id.is_some()) + usize::from(md.crm_batch.is_some());
    w.map(n);
    if let Some(s) = &md.storage_id {
        w.str("storageId").str(s.as_str());
    }
    w.str("isEphemeral").bool(md.is_ephemeral);
    if let Some(v) = md.crm_batch {
        w.str("crmBatch").uint(v);
    }
}

/// Encode one message as a CBOR map (minimal headers, absent optional fields left out).
pub fn encode(msg: &Message) -> Vec<u8> {
    // Sized once: a sync frame is its payload plus ~150 bytes of keys and ids.
    let payload = match msg {
        Message::Sync { data, .. }
        | Message::Request { data, .. }
        | Message::Ephemeral { data, .. } => data.len(),
        _ => 0,
    };
    let mut w = Writer::with_capacity(192 + payload);
    let ty = msg.type_name();
    match msg {
        Message::Join {
            sender_id,
            peer_metadata,
            supported_protocol_versions,
        } => {
            w.map(3 + usize::from(supported_protocol_versions.is_some()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("peerMetadata");
            write_metadata(&mut w, peer_metadata);
            if let Some(vs) = supported_protocol_versions {
                w.str("supportedProtocolVersions").array(vs.len());
                for v in vs {
                    w.str(v);
                }
            }
        }
        Message::Peer {
            sender_id,
            target_id,
            peer_metadata,
            selected_protocol_version,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("peerMetadata");
            write_metadata(&mut w, peer_metadata);
            w.str("selectedProtocolVersion")
                .str(selected_protocol_version);
            w.str("targetId").str(target_id.as_str());
        }
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        }
        | Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("data").bytes(data);
            w.str("documentId").str(&document_id.to_string());
            w.str("senderId").str(sender_id.as_str());
        }
        Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        }
        | Message::RemoteHeadsChanged {
            sender_id,
            target_id,
            document_id,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("documentId").str(&document_id.to_string());
            w.str("senderId").str(sender_id.as_str());
        }
        Message::Ephemeral {
            sender_id,
            target_id,
            document_id,
            session_id,
            count,
            data,
        } => {
            w.map(7);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("count").uint(*count);
            w.str("sessionId").str(session_id.as_str());
            w.str("documentId").str(&document_id.to_string());
            w.str("data").bytes(data);
            w.str("senderId").str(sender_id.as_str());
        }
        Message::RemoteSubscriptionChange {
            sender_id,
            target_id,
            add,
            remove,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("senderId").str(sender_id.as_str());
            w.str("add").array(add.len());
            for s in add {
                w.str(s.as_str());
            }
            w.str("remove").array(remove.len());
            for s in remove {
                w.str(s.as_str());
            }
        }
        Message::Error {
            sender_id,
            target_id,
            message,
        } => {
            w.map(2 + usize::from(sender_id.is_some()) + usize::from(target_id.is_some()));
            w.str("type").str(ty).str("message").str(message);
            if let Some(s) = sender_id {
                w.str("senderId").str(s.as_str());
            }
            if let Some(t) = target_id {
                w.str("targetId").str(t.as_str());
            }
        }
        Message::Leave { sender_id } => {
            w.map(2);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
        }
        Message::CrmSummary {
            sender_id,
            target_id,
            count,
            digest,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("count").uint(*count).str("digest").bytes(&digest.0);
        }
        Message::CrmSummaryReply {
            sender_id,
            target_id,
            count,
            digest,
            matched,
            entries,
            buckets,
        } => {
            w.map(6 + usize::from(!entries.is_empty()) + usize::from(!buckets.is_empty()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("count").uint(*count).str("digest").bytes(&digest.0);
            w.str("match").bool(*matched);
            if !entries.is_empty() {
                w.str("entries").bytes(&pack_entries(entries));
            }
            if !buckets.is_empty() {
                w.str("buckets").bytes(&buckets.concat());
            }
        }
        Message::CrmBuckets {
            sender_id,
            target_id,
            buckets,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("buckets").bytes(&pack_buckets(buckets));
        }
        Message::CrmBucketEntries {
            sender_id,
            target_id,
            buckets,
            entries,
        } => {
            w.map(4 + usize::from(!entries.is_empty()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("buckets").bytes(&pack_buckets(buckets));
            if !entries.is_empty() {
                w.str("entries").bytes(&pack_entries(entries));
            }
        }
        Message::CrmBatch {
            sender_id,
            target_id,
            items,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("items").array(items.len());
            for item in items {
                w.array(3)
                    .uint(item.kind as u64)
                    .bytes(item.document_id.as_bytes())
                    .bytes(&item.data);
            }
        }
    }
    w.into_bytes()
}

fn pack_entries(entries: &[SummaryEntry]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(entries.len() * 24);
    for e in entries {
        packed.extend_from_slice(e.document_id.as_bytes());
        packed.extend_from_slice(&e.heads.0);
    }
    packed
}

fn pack_buckets(buckets: &[u16]) -> Vec<u8> {
    buckets.iter().flat_map(|b| b.to_be_bytes()).collect()
}
