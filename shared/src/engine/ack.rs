//! The commonest sync message, handled without walking the document's history: a peer telling us
//! it holds exactly our heads (the acknowledgement every subscriber sends after each change).
//!
//! `automerge::sync` handles such a message by visiting every ancestor of the peer's heads (to
//! trim the hashes in flight) and answers it by building a Bloom filter of the changes since the
//! last sync, only to find there is nothing to say: both cost time in proportion to the document's
//! history, once per peer per change. Here the same outcome is reached from the sync state alone.
//! Debug builds check every shortcut against `automerge::sync` itself, so the whole test suite
//! (the scenario and convergence tests above all) holds the two to the same result.

use automerge::sync::{self, Capability, MessageFlags, SyncDoc};
use automerge::{Automerge, ChangeHash};

/// Applies `msg` to `state` as [`SyncDoc::receive_sync_message`] would, when `msg` carries no
/// changes and its heads are exactly `ours`, `doc`'s (non-empty) heads. Otherwise hands `msg`
/// back untouched, for the general path.
pub(super) fn receive(
    doc: &mut Automerge,
    ours: &[ChangeHash],
    state: &mut sync::State,
    msg: sync::Message,
) -> Result<(), sync::Message> {
    debug_assert_eq!(ours, doc.get_heads(), "the heads given are the document's");
    if !msg.changes.is_empty() || msg.heads.is_empty() || msg.heads != ours {
        return Err(msg);
    }
    #[cfg(debug_assertions)]
    let expected = {
        let mut expected = state.clone();
        let applied = doc.receive_sync_message(&mut expected, msg.clone());
        debug_assert!(applied.is_ok(), "an acknowledgement that automerge refuses");
        expected
    };
    state.in_flight = false;
    if let Some(flags) = msg.flags {
        let mut capabilities = vec![Capability::MessageV2];
        if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
            capabilities.push(Capability::SyncReset);
        }
        state.their_capabilities = Some(capabilities);
        if flags.contains(MessageFlags::SYNC_RESET) {
            state.sent_hashes.clear();
        }
        state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
    }
    // What we sent are changes of this document, and every one of them is an ancestor of (or
    // one of) its heads, which the peer now holds: nothing is in flight any more.
    state.sent_hashes.clear();
    state.last_sent_heads.clone_from(&msg.heads);
    state.shared_heads.clone_from(&msg.heads);
    state.their_have = Some(msg.have);
    state.their_heads = Some(msg.heads);
    state.their_need = Some(msg.need);
    #[cfg(debug_assertions)]
    debug_assert_eq!(*state, expected, "acknowledgement shortcut");
    Ok(())
}

/// True when [`SyncDoc::generate_sync_message`] would return `None` for `state` because the peer
/// holds exactly our (non-empty) heads, has heard them from us, asks for nothing, and last synced
/// at those heads (so no change is after what it has): the answer to an acknowledgement. False
/// means "ask automerge" (it may still have nothing to say).
pub(super) fn nothing_to_send(doc: &Automerge, state: &sync::State, ours: &[ChangeHash]) -> bool {
    debug_assert_eq!(ours, doc.get_heads(), "the heads given are the document's");
    let quiet = !ours.is_empty()
        && state.have_responded
        && !state.needs_reset
        && state.last_sent_heads == ours
        && state.their_heads.as_deref() == Some(ours)
        && state.their_need.as_ref().is_none_or(|need| need.is_empty())
        && state
            .their_have
            .as_ref()
            .is_none_or(|haves| haves.iter().all(|have| have.last_sync == ours));
    debug_assert!(
        !quiet || doc.generate_sync_message(&mut state.clone()).is_none(),
        "nothing-to-send shortcut"
    );
    quiet
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::ROOT;

    fn put(doc: &mut Automerge, key: &str, value: &str) {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, value).unwrap();
        tx.commit();
    }

    /// A server document and one subscriber, synced; then one more change on the server,
    /// delivered. Returns the server doc, its state with the subscriber, and the subscriber's
    /// acknowledgement of that change.
    fn delivered_change() -> (Automerge, sync::State, sync::Message) {
        let mut server = Automerge::new();
        put(&mut server, "name", "Acme");
        let mut peer = server.fork();
        let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
        sync_all(&mut server, &mut ours, &mut peer, &mut theirs);
        put(&mut server, "name", "Acme Logistics");
        // The peer's Bloom filter may claim the new change by a false positive (about 1 in 100):
        // then the first message carries none, and the peer asks for it.
        for _ in 0..10 {
            let message = server.generate_sync_message(&mut ours).unwrap();
            peer.receive_sync_message(&mut theirs, message).unwrap();
            let reply = peer.generate_sync_message(&mut theirs).unwrap();
            if peer.get_heads() == server.get_heads() {
                return (server, ours, reply);
            }
            server.receive_sync_message(&mut ours, reply).unwrap();
        }
        panic!("the change never arrived");
    }

    fn sync_all(a: &mut Automerge, sa: &mut sync::State, b: &mut Automerge, sb: &mut sync::State) {
        for _ in 0..10 {
            let ab = a.generate_sync_message(sa);
            let ba = b.generate_sync_message(sb);
            if ab.is_none() && ba.is_none() {
                return;
            }
            if let Some(m) = ab {
                b.receive_sync_message(sb, m).unwrap();
            }
            if let Some(m) = ba {
                a.receive_sync_message(sa, m).unwrap();
            }
        }
        panic!("did not settle");
    }

    #[test]
    fn an_acknowledgement_takes_the_shortcut_and_ends_where_automerge_does() {
        let (mut doc, mut state, ack) = delivered_change();
        assert!(state.in_flight, "the change is in flight");
        let mut expected = state.clone();
        doc.clone()
            .receive_sync_message(&mut expected, ack.clone())
            .unwrap();
        let ours = doc.get_heads();
        assert!(receive(&mut doc, &ours, &mut state, ack).is_ok());
        assert_eq!(state, expected);
        assert!(nothing_to_send(&doc, &state, &doc.get_heads()));
        assert!(doc.generate_sync_message(&mut state).is_none());
    }

    /// Found by the frame robustness property test: a peer that names our heads but last synced
    /// at heads we do not know must get automerge's reset, not silence.
    #[test]
    fn a_have_at_other_heads_is_left_to_automerge() {
        let (mut doc, mut state, mut ack) = delivered_change();
        for have in &mut ack.have {
            have.last_sync = vec![ChangeHash([7; 32])];
        }
        let ours = doc.get_heads();
        assert!(receive(&mut doc, &ours, &mut state, ack).is_ok());
        assert!(!nothing_to_send(&doc, &state, &doc.get_heads()));
        assert!(doc.generate_sync_message(&mut state).is_some());
    }

    #[test]
    fn messages_with_changes_or_other_heads_go_the_general_way() {
        let (mut doc, mut state, _) = delivered_change();
        let before = state.clone();
        // A peer with a change of its own: not our heads, and changes to apply.
        let mut other = Automerge::new();
        put(&mut other, "other", "x");
        let stale = other
            .generate_sync_message(&mut sync::State::new())
            .unwrap();
        let ours = doc.get_heads();
        assert!(receive(&mut doc, &ours, &mut state, stale).is_err());
        assert_eq!(state, before, "untouched when handed back");
        // A fresh state has heard nothing: automerge decides.
        assert!(!nothing_to_send(
            &doc,
            &sync::State::new(),
            &doc.get_heads()
        ));
    }
}
