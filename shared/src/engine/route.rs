//! Incoming frames: decoded, checked against the connection's peer, and routed to the concept
//! that handles each message (handshake, summary, per-document exchange, fetch, ephemeral relay).

use super::batch::Out;
use super::{close_code, ConnectionId, Engine, Timestamp};
use crate::protocol::{self, BatchKind, DecodeError, Message};

impl Engine {
    pub(super) fn on_frame(
        &mut self,
        now: Timestamp,
        conn: ConnectionId,
        bytes: &[u8],
        out: &mut Out,
    ) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match protocol::decode(bytes) {
            Ok(msg) => self.on_message(now, conn, msg, out),
            Err(DecodeError::UnknownType(_)) => {}
            Err(e) => self.fail(
                conn,
                close_code::INVALID_DATA,
                format!("bad frame: {e}"),
                out,
            ),
        }
    }

    pub(super) fn on_message(
        &mut self,
        now: Timestamp,
        conn: ConnectionId,
        msg: Message,
        out: &mut Out,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (outbound, conn_peer) = (c.outbound, c.peer.clone());
        let Some(peer) = conn_peer else {
            return self.on_handshake(now, conn, outbound, msg, out);
        };
        let relayed_ephemeral = outbound && matches!(msg, Message::Ephemeral { .. });
        if msg.sender_id() != Some(&peer) && !relayed_ephemeral {
            if let Message::Error { message, .. } = &msg {
                // An error without (or with another) sender still ends the session.
                let reason = message.clone();
                return self.close(conn, close_code::NORMAL, reason, out);
            }
            return; // spoofed or confused sender: drop
        }
        match msg {
            Message::Join { .. } if !outbound => self.on_handshake(now, conn, outbound, msg, out),
            Message::Join { .. } | Message::Peer { .. } => {}
            Message::Sync {
                document_id, data, ..
            } => self.on_doc_message(now, &peer, conn, BatchKind::Sync, document_id, data, out),
            Message::Request {
                document_id, data, ..
            } => self.on_doc_message(now, &peer, conn, BatchKind::Request, document_id, data, out),
            Message::DocUnavailable { document_id, .. } => {
                self.on_unavailable(&peer, document_id, false, out)
            }
            Message::Ephemeral {
                sender_id,
                document_id,
                session_id,
                count,
                data,
                ..
            } => self.relay_ephemeral(now, &sender_id, document_id, session_id, count, data, out),
            Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. } => {}
            Message::Error { message, .. } => self.close(conn, close_code::NORMAL, message, out),
            Message::Leave { .. } => self.close(conn, close_code::NORMAL, "peer left".into(), out),
            Message::CrmSummary { count, digest, .. } => {
                self.on_summary(&peer, conn, count, digest, out)
            }
            Message::CrmSummaryReply {
                matched,
                entries,
                buckets,
                ..
            } => self.on_summary_reply(&peer, matched, entries, buckets, out),
            Message::CrmBuckets { buckets, .. } => self.on_buckets(&peer, conn, buckets, out),
            Message::CrmBucketEntries {
                buckets, entries, ..
            } => {
                if outbound {
                    self.compare(&peer, Some(buckets), entries, out)
                }
            }
            Message::CrmBatch { items, .. } => {
                for item in items {
                    match item.kind {
                        BatchKind::DocUnavailable => self.on_unavailable(
                            &peer,
                            item.document_id,
                            item.data == protocol::UNAVAILABLE_HELD,
                            out,
                        ),
                        BatchKind::Fetch if !outbound => {
                            self.on_fetch(now, &peer, item.document_id, out)
                        }
                        BatchKind::Doc if outbound => {
                            self.on_whole_document(&peer, item.document_id, item.data, out)
                        }
                        // A client does not serve fetches; a server takes no `doc`s.
                        BatchKind::Fetch | BatchKind::Doc => {}
                        kind => self.on_doc_message(
                            now,
                            &peer,
                            conn,
                            kind,
                            item.document_id,
                            item.data,
                            out,
                        ),
                    }
                }
            }
        }
    }
}
