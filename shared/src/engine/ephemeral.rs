//! Ephemeral messages (presence, cursors): relayed once per (sender, session, count) to every
//! peer that may read the document, never stored; duplicates are remembered for
//! [`super::Config::ephemeral_dedupe_ms`].

use super::batch::Out;
use super::{Action, ConnectionId, Engine, Timestamp};
use crate::document_id::DocumentId;
use crate::protocol::{Message, PeerId, SessionId};

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_ephemeral(
        &mut self,
        now: Timestamp,
        sender: &PeerId,
        id: DocumentId,
        session: SessionId,
        count: u64,
        data: Vec<u8>,
        out: &mut Out,
    ) {
        let key = (sender.clone(), session.clone());
        if let Some((last, _)) = self.ephemeral_seen.get(&key) {
            if count <= *last {
                return; // duplicate or stale
            }
        }
        self.ephemeral_seen.insert(key, (count, now));
        let local = *sender == self.config.peer_id;
        if !local {
            out.actions.push(Action::Ephemeral {
                document_id: id,
                sender_id: sender.clone(),
                session_id: session.clone(),
                data: data.clone(),
            });
        }
        let targets: Vec<(PeerId, ConnectionId)> = self
            .peers
            .iter()
            .filter(|(pid, p)| {
                *pid != sender && (p.outbound || p.batch || p.states.contains_key(&id))
            })
            .map(|(pid, p)| (pid.clone(), p.conn))
            .collect();
        for (peer, conn) in targets {
            if !self.may_read(&peer, &id) {
                continue;
            }
            out.actions.push(Action::Send {
                conn,
                message: Message::Ephemeral {
                    sender_id: sender.clone(),
                    target_id: peer,
                    document_id: id,
                    session_id: session.clone(),
                    count,
                    data: data.clone(),
                },
            });
        }
    }

    /// Forgets duplicates older than [`super::Config::ephemeral_dedupe_ms`].
    pub(super) fn forget_old_ephemeral(&mut self, now: Timestamp) {
        let ttl = self.config.ephemeral_dedupe_ms;
        self.ephemeral_seen
            .retain(|_, (_, at)| at.0.saturating_add(ttl) > now.0);
    }
}
