//! Unit tests of merge and unmerge plans on real Automerge documents.

use super::*;
use crate::schema::{apply_edits_and_commit, create_record, read_record, ChangeAuthor, NewRecord};
use crate::schema::{plan_unmerge, to_undo};
use crate::values::Currency;
use automerge::{ActorId, AutoCommit};

fn author() -> ChangeAuthor {
    ChangeAuthor {
        user: "ana".into(),
        device: "ana-laptop".into(),
        offline: true,
        action: None,
    }
}

/// A record of `kind` made at `t` seconds with the fields `set` (`FIELD`, `VALUE` as typed).
fn make(seed: u8, kind: RecordKind, set: &[(&str, &str)], t: i64) -> (AutoCommit, Record) {
    let id = DocumentId::from_random([seed; 16]);
    let new = NewRecord {
        id,
        kind,
        created_at: t * 1000,
        created_by: "ana".into(),
        owner: "ana".into(),
        book: "north".into(),
    };
    let edits: Vec<Edit> = set
        .iter()
        .map(|(f, v)| Edit::parse_set(kind, f, v, Currency::EUR).unwrap())
        .collect();
    let mut doc =
        create_record(&new, &edits, ActorId::from([seed; 16]), &author(), t * 1000).unwrap();
    let r = read_record(id, doc.document(), None).unwrap();
    (doc, r)
}

fn apply(doc: &mut AutoCommit, r: &Record, plan: &Plan, t: i64) -> Record {
    if let Some((_, edits)) = plan.edits.iter().find(|(id, _)| *id == r.id) {
        apply_edits_and_commit(doc, r.kind, edits, &author(), t * 1000).unwrap();
    }
    read_record(r.id, doc.document(), None).unwrap()
}

fn edited(doc: &mut AutoCommit) -> BTreeMap<String, i64> {
    last_edits(doc.document())
}

#[test]
fn keep_keeps_its_values_and_takes_empty_ones_from_the_latest_edited_other() {
    let (mut kd, keep) = make(1, RecordKind::Contact, &[("name", "Ines Duarte")], 100);
    let (mut ad, a) = make(
        2,
        RecordKind::Contact,
        &[("name", "Inês Duarte"), ("title", "Buyer")],
        200,
    );
    let (mut bd, b) = make(
        3,
        RecordKind::Contact,
        &[("name", "INES DUARTE"), ("title", "Head buyer")],
        300,
    );
    let (ke, ae, be) = (edited(&mut kd), edited(&mut ad), edited(&mut bd));
    let plan = plan_merge(
        "m1",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[
            Source {
                record: &a,
                edited: &ae,
            },
            Source {
                record: &b,
                edited: &be,
            },
        ],
        &[],
        &[],
        400_000,
        "ana",
    )
    .unwrap();
    let keep = apply(&mut kd, &keep, &plan, 400);
    assert_eq!(keep.str("name"), Some("Ines Duarte"));
    assert_eq!(keep.str("title"), Some("Head buyer"));
    let a = apply(&mut ad, &a, &plan, 400);
    assert_eq!(a.merged_into(), Some(keep.id.to_string().as_str()));
    assert!(!a.is_listed());
}

#[test]
fn take_chooses_a_field_from_the_named_record() {
    let (mut kd, keep) = make(
        1,
        RecordKind::Contact,
        &[("name", "Ines"), ("title", "CEO")],
        100,
    );
    let (mut ad, a) = make(
        2,
        RecordKind::Contact,
        &[("name", "Ines D"), ("title", "Buyer")],
        200,
    );
    let (ke, ae) = (edited(&mut kd), edited(&mut ad));
    let takes = [Take {
        field: "title".into(),
        from: a.id,
    }];
    let plan = plan_merge(
        "m1",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &a,
            edited: &ae,
        }],
        &[],
        &takes,
        1,
        "ana",
    )
    .unwrap();
    assert_eq!(
        apply(&mut kd, &keep, &plan, 300).str("title"),
        Some("Buyer")
    );
    let bad = [Take {
        field: "emails".into(),
        from: a.id,
    }];
    let err = plan_merge(
        "m2",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &a,
            edited: &ae,
        }],
        &[],
        &bad,
        1,
        "ana",
    )
    .unwrap_err();
    assert!(matches!(err, MergeError::Take(..)), "{err}");
}

#[test]
fn records_of_other_kinds_or_named_twice_are_refused() {
    let (mut kd, keep) = make(1, RecordKind::Contact, &[("name", "Ines")], 100);
    let (mut od, org) = make(2, RecordKind::Organization, &[("name", "Acme")], 100);
    let (ke, oe) = (edited(&mut kd), edited(&mut od));
    let mixed = plan_merge(
        "m",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &org,
            edited: &oe,
        }],
        &[],
        &[],
        1,
        "ana",
    );
    assert!(matches!(mixed, Err(MergeError::Mixed(..))));
    let twice = plan_merge(
        "m",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &keep,
            edited: &ke,
        }],
        &[],
        &[],
        1,
        "ana",
    );
    assert!(matches!(twice, Err(MergeError::Repeated(_))));
}

#[test]
fn unmerge_restores_values_links_and_keeps_an_edit_made_to_keep_since() {
    let (mut kd, keep) = make(
        1,
        RecordKind::Contact,
        &[("name", "Ines"), ("emails", "ines@acme.pt")],
        100,
    );
    let (mut ad, a) = make(
        2,
        RecordKind::Contact,
        &[
            ("name", "Inês"),
            ("emails", "ines@gmail.com"),
            ("title", "Buyer"),
            ("region", "Norte"),
        ],
        200,
    );
    let a_id = a.id.to_string();
    let (mut cd, case) = make(
        3,
        RecordKind::Case,
        &[("title", "Pumps"), ("stage", "proposal")],
        100,
    );
    let case = {
        let link = Edit::Link {
            field: "contacts",
            id: a.id,
            role: "champion".into(),
        };
        apply_edits_and_commit(&mut cd, RecordKind::Case, &[link], &author(), 150_000).unwrap();
        read_record(case.id, cd.document(), None).unwrap()
    };
    let (ke, ae) = (edited(&mut kd), edited(&mut ad));
    let plan = plan_merge(
        "m1",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &a,
            edited: &ae,
        }],
        std::slice::from_ref(&case),
        &[],
        300_000,
        "ana",
    )
    .unwrap();
    let keep = apply(&mut kd, &keep, &plan, 300);
    let a = apply(&mut ad, &a, &plan, 300);
    let case = apply(&mut cd, &case, &plan, 300);
    assert_eq!(keep.labelled("emails").len(), 2);
    assert_eq!(keep.str("title"), Some("Buyer"));
    let links = case.links("contacts").unwrap();
    assert_eq!(
        links.get(&keep.id.to_string()).map(String::as_str),
        Some("champion")
    );
    assert!(!links.contains_key(&a_id));

    // Someone edits KEEP's region after the merge: that edit stays.
    let edit = Edit::parse_set(RecordKind::Contact, "region", "Sul", Currency::EUR).unwrap();
    apply_edits_and_commit(&mut kd, RecordKind::Contact, &[edit], &author(), 350_000).unwrap();
    let keep = read_record(keep.id, kd.document(), None).unwrap();

    let logs = merge_logs(kd.document());
    assert_eq!(logs.len(), 1);
    let others = BTreeMap::from([(a_id.clone(), a.clone())]);
    let linked = BTreeMap::from([(case.id.to_string(), case.clone())]);
    let plan = plan_unmerge(a.id, &keep, &logs, &others, &linked, 400_000, "ana").unwrap();
    let keep = apply(&mut kd, &keep, &plan, 400);
    let a = apply(&mut ad, &a, &plan, 400);
    let case = apply(&mut cd, &case, &plan, 400);
    assert_eq!(keep.labelled("emails").len(), 1);
    assert_eq!(keep.str("title"), None);
    assert_eq!(keep.str("region"), Some("Sul"));
    assert!(a.is_listed());
    let links = case.links("contacts").unwrap();
    assert_eq!(links.get(&a_id).map(String::as_str), Some("champion"));
    assert!(!links.contains_key(&keep.id.to_string()));

    // Undone once: nothing left to undo.
    let logs = merge_logs(kd.document());
    assert!(to_undo(&a_id, &keep.id.to_string(), &logs).is_empty());
    let again = plan_unmerge(a.id, &keep, &logs, &others, &linked, 500_000, "ana");
    assert!(matches!(again, Err(MergeError::NothingToUndo(_))));
}

#[test]
fn a_relationship_between_merged_records_is_removed_and_restored() {
    let (mut kd, keep) = make(1, RecordKind::Contact, &[("name", "Ines")], 100);
    let (mut ad, a) = make(2, RecordKind::Contact, &[("name", "Inês")], 100);
    let rel_set = [
        ("from", keep.id.to_string()),
        ("to", a.id.to_string()),
        ("kind", "colleague".to_string()),
    ];
    let rel_set: Vec<(&str, &str)> = rel_set.iter().map(|(f, v)| (*f, v.as_str())).collect();
    let (mut rd, rel) = make(3, RecordKind::Relationship, &rel_set, 100);
    let (ke, ae) = (edited(&mut kd), edited(&mut ad));
    let plan = plan_merge(
        "m1",
        Source {
            record: &keep,
            edited: &ke,
        },
        &[Source {
            record: &a,
            edited: &ae,
        }],
        std::slice::from_ref(&rel),
        &[],
        200_000,
        "ana",
    )
    .unwrap();
    let keep = apply(&mut kd, &keep, &plan, 200);
    let rel = apply(&mut rd, &rel, &plan, 200);
    assert!(rel.is_deleted());
    let logs = merge_logs(kd.document());
    let others = BTreeMap::from([(a.id.to_string(), apply(&mut ad, &a, &plan, 200))]);
    let linked = BTreeMap::from([(rel.id.to_string(), rel.clone())]);
    let plan = plan_unmerge(keep.id, &keep, &logs, &others, &linked, 300_000, "ana").unwrap();
    assert!(!apply(&mut rd, &rel, &plan, 300).is_deleted());
}
