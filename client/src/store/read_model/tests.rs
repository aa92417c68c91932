//! Unit tests of [`super::derive`]: what the read model takes from a document, with no database.

use super::derive;
use automerge::{ActorId, AutoCommit};
use crm_shared::schema::{self, ChangeAuthor, Edit, NewRecord};
use crm_shared::values::Currency;
use crm_shared::{DocumentId, RecordKind};

const T0: i64 = 1_700_000_000_000;

fn author(user: &str) -> ChangeAuthor {
    ChangeAuthor {
        user: user.into(),
        device: format!("{user}-laptop"),
        offline: false,
        action: None,
    }
}

fn set(kind: RecordKind, field: &str, value: &str) -> Edit {
    Edit::parse_set(kind, field, value, Currency::EUR).expect("a valid edit")
}

fn new_record(kind: RecordKind, edits: &[Edit]) -> (DocumentId, AutoCommit) {
    let id = DocumentId::from_random([9; 16]);
    let new = NewRecord {
        id,
        kind,
        created_at: T0,
        created_by: "ana".into(),
        owner: "ana".into(),
        book: "north".into(),
    };
    let doc = schema::create_record(&new, edits, ActorId::from([1u8; 16]), &author("ana"), T0)
        .expect("a record");
    (id, doc)
}

fn edit(doc: &mut AutoCommit, kind: RecordKind, edits: &[Edit], user: &str, at: i64) {
    schema::apply_edits_and_commit(doc, kind, edits, &author(user), at).expect("an edit");
}

fn derived(id: DocumentId, doc: &mut AutoCommit) -> super::Derived {
    let record = schema::read_record(id, doc.document(), None).expect("a readable record");
    derive(doc.document(), id, record).expect("derived")
}

#[test]
fn a_contact_with_one_line_of_history_has_no_versions_and_no_conflicts() {
    let k = RecordKind::Contact;
    let (id, mut doc) = new_record(k, &[set(k, "name", "Ines Duarte")]);
    edit(&mut doc, k, &[set(k, "title", "CFO")], "ana", T0 + 1_000);
    let d = derived(id, &mut doc);
    assert_eq!(d.kind(), RecordKind::Contact);
    assert_eq!(d.record.str("title"), Some("CFO"));
    assert!(
        d.versions.is_empty(),
        "only cases and activities keep versions"
    );
    assert!(d.conflicts.is_empty());
    assert!(d.settings.is_none());
}

#[test]
fn a_case_keeps_one_version_per_change_ending_with_the_record_now() {
    let k = RecordKind::Case;
    let (id, mut doc) = new_record(
        k,
        &[
            set(k, "title", "Fleet renewal"),
            set(k, "stage", "prospecting"),
        ],
    );
    edit(
        &mut doc,
        k,
        &[set(k, "amount", "12000.50")],
        "ana",
        T0 + 1_000,
    );
    edit(&mut doc, k, &[set(k, "grade", "A")], "ana", T0 + 2_000);
    let d = derived(id, &mut doc);
    assert_eq!(d.versions.len(), 3);
    let last = d.versions.last().expect("a last version");
    assert_eq!(last.record, d.record);
    assert_eq!(d.record.str("grade"), Some("A"));
    assert_eq!(d.versions[0].record.str("grade"), None);
}

#[test]
fn concurrent_values_of_one_field_are_a_conflict_and_of_two_fields_are_not() {
    let k = RecordKind::Contact;
    let (id, mut a) = new_record(k, &[set(k, "name", "Ines Duarte")]);
    let mut b = a.fork().with_actor(ActorId::from([2u8; 16]));
    edit(&mut a, k, &[set(k, "title", "CFO")], "ana", T0 + 1_000);
    edit(&mut b, k, &[set(k, "region", "north")], "bruno", T0 + 2_000);
    a.merge(&mut b).expect("a merge");
    assert!(derived(id, &mut a).conflicts.is_empty());

    let mut c = a.fork().with_actor(ActorId::from([3u8; 16]));
    edit(&mut a, k, &[set(k, "title", "CEO")], "ana", T0 + 3_000);
    edit(&mut c, k, &[set(k, "title", "COO")], "carla", T0 + 4_000);
    a.merge(&mut c).expect("a merge");
    assert_eq!(derived(id, &mut a).conflicts, vec!["title".to_string()]);
}
