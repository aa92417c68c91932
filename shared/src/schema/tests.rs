//! Unit tests of the record schema: creating, reading, merging, conflicts, history, versions.

use super::*;
use crate::model::RecordKind;
use crate::values::Currency;
use crate::DocumentId;
use automerge::{ActorId, AutoCommit};

fn author(user: &str) -> ChangeAuthor {
    ChangeAuthor {
        user: user.into(),
        device: format!("{user}-laptop"),
        offline: true,
        action: None,
    }
}

fn new_contact() -> (DocumentId, AutoCommit) {
    let id = DocumentId::from_random([7; 16]);
    let new = NewRecord {
        id,
        kind: RecordKind::Contact,
        created_at: 1_700_000_000_000,
        created_by: "ana".into(),
        owner: "ana".into(),
        book: "north".into(),
    };
    let edits = [
        Edit::parse_set(RecordKind::Contact, "name", "Ines Duarte", Currency::EUR).unwrap(),
        Edit::parse_set(RecordKind::Contact, "emails", "ines@acme.pt", Currency::EUR).unwrap(),
        Edit::SetText {
            field: "notes",
            text: "Met at the fair.".into(),
        },
    ];
    let doc = create_record(
        &new,
        &edits,
        ActorId::from([1u8; 16]),
        &author("ana"),
        1_700_000_000_000,
    )
    .unwrap();
    (id, doc)
}

#[test]
fn a_created_record_reads_back() {
    let (id, mut doc) = new_contact();
    let rec = read_record(id, doc.document(), None).unwrap();
    assert_eq!(rec.kind, RecordKind::Contact);
    assert_eq!(rec.str("name"), Some("Ines Duarte"));
    assert_eq!(rec.labelled("emails")[0].value, "ines@acme.pt");
    assert_eq!(rec.str("notes"), Some("Met at the fair."));
    assert_eq!(rec.owner, "ana");
    assert!(rec.problems.is_empty());
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(json["type"], "contact");
    assert_eq!(json["name"], "Ines Duarte");
}

#[test]
fn concurrent_edits_merge_and_same_field_conflicts_keep_every_value() {
    let (id, mut a) = new_contact();
    let mut b = a.fork().with_actor(ActorId::from([2u8; 16]));
    let k = RecordKind::Contact;
    let eur = Currency::EUR;
    apply_edits_and_commit(
        &mut a,
        k,
        &[
            Edit::parse_set(k, "title", "CFO", eur).unwrap(),
            Edit::SetText {
                field: "notes",
                text: "Met at the fair. Likes golf.".into(),
            },
        ],
        &author("ana"),
        1_700_000_100_000,
    )
    .unwrap();
    apply_edits_and_commit(
        &mut b,
        k,
        &[
            Edit::parse_set(k, "title", "CEO", eur).unwrap(),
            Edit::parse_set(k, "region", "north", eur).unwrap(),
            Edit::SetText {
                field: "notes",
                text: "Met at the Lisbon fair.".into(),
            },
        ],
        &author("bruno"),
        1_700_000_200_000,
    )
    .unwrap();
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    let ra = read_record(id, a.document(), None).unwrap();
    let rb = read_record(id, b.document(), None).unwrap();
    assert_eq!(ra, rb);
    assert_eq!(ra.str("region"), Some("north"));
    assert_eq!(ra.str("notes"), Some("Met at the Lisbon fair. Likes golf."));

    let ca = conflicts(a.document(), k);
    assert_eq!(ca, conflicts(b.document(), k));
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0].field, "title");
    let mut values: Vec<_> = ca[0].values.iter().map(|v| v.value.clone()).collect();
    values.sort_by_key(|v| v.to_string());
    assert_eq!(values, vec!["CEO", "CFO"]);
    let users: Vec<_> = ca[0].values.iter().filter_map(|v| v.user.clone()).collect();
    assert!(users.contains(&"ana".to_string()) && users.contains(&"bruno".to_string()));
    // The value shown by `get` is listed first.
    assert_eq!(
        ca[0].values[0].value,
        serde_json::json!(ra.str("title").unwrap())
    );

    // Resolving writes one value over both.
    apply_edits_and_commit(
        &mut a,
        k,
        &[Edit::parse_set(k, "title", "CFO", eur).unwrap()],
        &author("ana"),
        1_700_000_300_000,
    )
    .unwrap();
    assert!(conflicts(a.document(), k).is_empty());
}

#[test]
fn delete_against_edit_keeps_the_edit() {
    let (id, mut a) = new_contact();
    let mut b = a.fork().with_actor(ActorId::from([2u8; 16]));
    let k = RecordKind::Contact;
    apply_edits_and_commit(&mut a, k, &[Edit::Delete { at: 5 }], &author("ana"), 5).unwrap();
    apply_edits_and_commit(
        &mut b,
        k,
        &[Edit::parse_set(k, "title", "CTO", Currency::EUR).unwrap()],
        &author("bruno"),
        6,
    )
    .unwrap();
    a.merge(&mut b).unwrap();
    let r = read_record(id, a.document(), None).unwrap();
    assert!(r.is_deleted());
    assert_eq!(r.str("title"), Some("CTO"));
}

#[test]
fn history_names_author_device_and_fields() {
    let (_, mut doc) = new_contact();
    let k = RecordKind::Contact;
    apply_edits_and_commit(
        &mut doc,
        k,
        &[Edit::parse_set(k, "title", "CFO", Currency::EUR).unwrap()],
        &author("bruno"),
        1_700_000_500_000,
    )
    .unwrap();
    let h = history(doc.document());
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].user.as_deref(), Some("ana"));
    assert!(h[0].fields.contains(&"name".to_string()));
    assert_eq!(h[1].user.as_deref(), Some("bruno"));
    assert_eq!(h[1].device.as_deref(), Some("bruno-laptop"));
    assert_eq!(h[1].fields, vec!["title".to_string()]);
    assert_eq!(h[1].at, 1_700_000_500);
}

#[test]
fn bad_values_and_missing_required_fields_are_refused_without_change() {
    let (id, mut doc) = new_contact();
    let k = RecordKind::Contact;
    let before = doc.get_heads();
    assert!(Edit::parse_set(k, "emails", "not-an-email", Currency::EUR).is_err());
    assert!(Edit::parse_set(k, "shoe_size", "42", Currency::EUR).is_err());
    let err = apply_edits_and_commit(
        &mut doc,
        k,
        &[
            Edit::parse_set(k, "title", "CFO", Currency::EUR).unwrap(),
            Edit::Clear { field: "name" },
        ],
        &author("ana"),
        1,
    )
    .unwrap_err();
    assert!(matches!(err, WriteError::Required { .. }));
    assert_eq!(doc.get_heads(), before);
    assert_eq!(
        read_record(id, doc.document(), None).unwrap().str("title"),
        None
    );
}

#[test]
fn a_record_from_a_newer_schema_reads_with_a_note() {
    use automerge::transaction::Transactable;
    let (id, mut doc) = new_contact();
    doc.put(automerge::ROOT, "schema", 2u64).unwrap();
    doc.put(automerge::ROOT, "favourite_colour", "teal")
        .unwrap();
    doc.put(automerge::ROOT, "title", 42).unwrap();
    doc.commit();
    let r = read_record(id, doc.document(), None).unwrap();
    assert_eq!(r.str("name"), Some("Ines Duarte"));
    assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
}

#[test]
fn reading_as_of_earlier_heads() {
    let (id, mut doc) = new_contact();
    let heads = doc.get_heads();
    let k = RecordKind::Contact;
    apply_edits_and_commit(
        &mut doc,
        k,
        &[Edit::parse_set(k, "name", "Ines D. Silva", Currency::EUR).unwrap()],
        &author("ana"),
        2,
    )
    .unwrap();
    let then = read_record(id, doc.document(), Some(&heads)).unwrap();
    assert_eq!(then.str("name"), Some("Ines Duarte"));
}

#[test]
fn history_is_listed_in_the_same_order_on_every_replica() {
    let (_, mut a) = new_contact();
    let mut b = a.fork().with_actor(ActorId::from([2u8; 16]));
    let k = RecordKind::Contact;
    for (doc, user, title, t) in [(&mut a, "ana", "CFO", 10), (&mut b, "bruno", "CEO", 20)] {
        apply_edits_and_commit(
            doc,
            k,
            &[Edit::parse_set(k, "title", title, Currency::EUR).unwrap()],
            &author(user),
            1_700_000_000_000 + t * 1000,
        )
        .unwrap();
    }
    let mut ab = a.fork();
    ab.merge(&mut b).unwrap();
    let mut ba = b.fork();
    ba.merge(&mut a).unwrap();
    let order = |d: &mut AutoCommit| -> Vec<String> {
        history(d.document()).into_iter().map(|h| h.hash).collect()
    };
    assert_eq!(order(&mut ab), order(&mut ba));
    let users: Vec<_> = history(ab.document())
        .into_iter()
        .filter_map(|h| h.user)
        .collect();
    assert_eq!(users, ["ana", "ana", "bruno"], "creation, then by time");
}
