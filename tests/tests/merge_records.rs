//! `crm merge-records` and `crm unmerge` with real `crm` processes: one laptop, and two reps
//! merging and editing offline, then syncing through the real `crm-sync-server` with users,
//! books, grants and tokens.

use crm_tests::{contact_names, rows, Crm, SyncServer};
use serde_json::Value;

fn show(crm: &Crm, id: &str) -> Value {
    crm.json(&["contact", "show", id])
}

/// The values of a contact's e-mails or phones.
fn values(record: &Value, field: &str) -> Vec<String> {
    record[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l["value"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The contact ids a case links.
fn case_contacts(crm: &Crm, case: &str) -> Vec<String> {
    let c = crm.json(&["case", "show", case]);
    c["contacts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whom relationship `id` of contact `boss` relates to `boss`.
fn relation_from(crm: &Crm, boss: &str, id: &str) -> Option<String> {
    let shown = show(crm, boss);
    shown["relationships"]
        .as_array()?
        .iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["from"].as_str().map(String::from))
}

/// A laptop with contacts KEEP and OTHER (the same person twice), a case and an activity of
/// OTHER's, and a relationship of another contact to OTHER.
struct Book {
    crm: Crm,
    keep: String,
    other: String,
    case: String,
    activity: String,
    boss: String,
    relation: String,
}

fn book() -> Book {
    let crm = Crm::init("ana");
    let keep = crm.add(&[
        "contact",
        "add",
        "--name",
        "Inês Duarte",
        "--email",
        "ines@acme.pt",
        "--notes",
        "Met at the fair.",
    ]);
    let other = crm.add(&[
        "contact",
        "add",
        "--name",
        "DUARTE, Ines",
        "--email",
        "ines@gmail.com",
        "--phone",
        "+351 912 345 678",
        "--title",
        "Buyer",
        "--tag",
        "vip",
        "--notes",
        "Likes pumps.",
    ]);
    let case = crm.add(&[
        "case",
        "add",
        "--title",
        "Pumps",
        "--contact",
        &format!("{other}=champion"),
    ]);
    let activity = crm.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Follow-up",
        "--at",
        "2026-12-01T10:00",
        "--contact",
        &other,
    ]);
    let boss = crm.add(&["contact", "add", "--name", "Rui Costa"]);
    let relation = crm.add(&["relate", &other, &boss, "--as", "reports-to"]);
    Book {
        crm,
        keep,
        other,
        case,
        activity,
        boss,
        relation,
    }
}

#[test]
fn a_merge_keeps_keeps_values_unites_the_rest_and_repoints_what_pointed_at_the_other() {
    let b = book();
    let crm = &b.crm;
    let out = crm.ok(&["merge-records", &b.keep, &b.other]);
    assert!(out.contains(&b.keep), "prints KEEP's id: {out}");

    let keep = show(crm, &b.keep);
    assert_eq!(keep["name"], "Inês Duarte", "KEEP's own value stays");
    assert_eq!(keep["title"], "Buyer", "an empty field takes the other's");
    assert_eq!(values(&keep, "emails"), ["ines@acme.pt", "ines@gmail.com"]);
    assert_eq!(values(&keep, "phones"), ["+351 912 345 678"]);
    assert_eq!(keep["tags"], serde_json::json!(["vip"]));
    let notes = keep["notes"].as_str().unwrap_or_default();
    assert!(
        notes.contains("Met at the fair.") && notes.contains("Likes pumps."),
        "{notes}"
    );

    assert_eq!(case_contacts(crm, &b.case), [b.keep.as_str()]);
    let call = crm.json(&["activity", "show", &b.activity]);
    assert_eq!(call["contact"], b.keep.as_str());
    assert_eq!(
        relation_from(crm, &b.boss, &b.relation),
        Some(b.keep.clone())
    );

    // The other is kept, marked, and hidden from lists and search.
    let other = show(crm, &b.other);
    assert_eq!(other["merged_into"], b.keep.as_str());
    assert!(other["deleted_at"].is_null(), "never removed: {other}");
    let text = crm.ok(&["contact", "show", &b.other]);
    assert!(
        text.contains("merged into") && text.contains("Inês Duarte"),
        "{text}"
    );
    assert_eq!(contact_names(crm), ["Inês Duarte", "Rui Costa"]);
    let found = crm.json(&["contact", "list", "--search", "gmail"]);
    let found: Vec<&Value> = rows(&found).iter().collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], b.keep.as_str());

    // History shows the merge on both.
    for id in [&b.keep, &b.other] {
        let history = crm.ok(&["history", id]);
        assert!(history.contains("merged"), "{history}");
    }
}

#[test]
fn take_chooses_a_field_and_a_dry_run_changes_nothing() {
    let crm = Crm::init("ana");
    let keep = crm.add(&["contact", "add", "--name", "Ines Duarte", "--title", "CEO"]);
    let a = crm.add(&["contact", "add", "--name", "Ines D.", "--title", "Buyer"]);
    let b = crm.add(&["contact", "add", "--name", "I. Duarte", "--region", "north"]);
    let before = crm.store_bytes();
    let plan = crm.ok(&[
        "merge-records",
        &keep,
        &a,
        &b,
        "--take",
        &format!("title={a}"),
        "--dry-run",
    ]);
    assert!(plan.contains("title: CEO -> Buyer"), "{plan}");
    assert!(plan.contains("region: (empty) -> north"), "{plan}");
    assert_eq!(crm.store_bytes(), before, "a dry run writes nothing");
    assert_eq!(contact_names(&crm).len(), 3);

    crm.ok(&[
        "merge-records",
        &keep,
        &a,
        &b,
        "--take",
        &format!("title={a}"),
    ]);
    let merged = show(&crm, &keep);
    assert_eq!(merged["title"], "Buyer");
    assert_eq!(merged["region"], "north");
    assert_eq!(contact_names(&crm), ["Ines Duarte"]);
}

#[test]
fn bad_merges_are_refused_in_one_line_and_change_nothing() {
    let crm = Crm::init("ana");
    let keep = crm.add(&["contact", "add", "--name", "Ines"]);
    let other = crm.add(&["contact", "add", "--name", "Inês"]);
    let org = crm.add(&["org", "add", "--name", "Acme"]);
    let case = crm.add(&["case", "add", "--title", "Pumps"]);
    let before = crm.store_bytes();
    let (take_emails, take_org) = (format!("emails={other}"), format!("title={org}"));
    let cases = [
        (
            vec!["merge-records", &keep, &org],
            "merge records of one kind",
        ),
        (vec!["merge-records", &keep, &keep], "named twice"),
        (
            vec!["merge-records", &case, &keep],
            "only contacts and organizations",
        ),
        (
            vec!["merge-records", &keep, &other, "--take", "emails"],
            "FIELD=ID",
        ),
        (
            vec!["merge-records", &keep, &other, "--take", &take_emails],
            "united",
        ),
        (
            vec!["merge-records", &keep, &other, "--take", &take_org],
            "not one of the records",
        ),
        (vec!["merge-records", &keep, "zzzz9"], "no record"),
        (vec!["unmerge", &keep], "no merge to undo"),
    ];
    for (args, says) in cases {
        let err = crm.fail(&args);
        assert!(err.contains(says), "crm {args:?}: {err}");
    }
    assert_eq!(crm.store_bytes(), before, "nothing was written");
    crm.ok(&["merge-records", &keep, &other]);
    let err = crm.fail(&["merge-records", &org, &org]);
    assert!(err.contains("twice"), "{err}");
    let third = crm.add(&["contact", "add", "--name", "Ines 3"]);
    let err = crm.fail(&["merge-records", &third, &other]);
    assert!(err.contains("already merged into"), "{err}");
}

#[test]
fn unmerge_gives_the_records_back_and_keeps_edits_made_since() {
    let b = book();
    let crm = &b.crm;
    crm.ok(&["merge-records", &b.keep, &b.other]);
    // After the merge: KEEP's title is changed, a new e-mail added to it.
    crm.ok(&["contact", "edit", &b.keep, "--title", "Head buyer"]);
    crm.ok(&["contact", "edit", &b.keep, "--add-email", "duarte@acme.pt"]);

    let out = crm.ok(&["unmerge", &b.other]);
    assert!(out.contains(&b.other), "{out}");
    let keep = show(crm, &b.keep);
    assert_eq!(
        keep["title"], "Head buyer",
        "an edit made since stays on KEEP"
    );
    assert_eq!(values(&keep, "emails"), ["ines@acme.pt", "duarte@acme.pt"]);
    assert!(values(&keep, "phones").is_empty(), "{keep}");
    assert_eq!(keep["tags"], serde_json::json!([]));
    assert_eq!(keep["notes"], "Met at the fair.");
    let other = show(crm, &b.other);
    assert!(other["merged_into"].is_null(), "{other}");
    assert_eq!(other["title"], "Buyer");
    assert_eq!(case_contacts(crm, &b.case), [b.other.as_str()]);
    let champion = crm.json(&["case", "show", &b.case]);
    assert_eq!(
        champion["contacts"][&b.other], "champion",
        "the role comes back too"
    );
    assert_eq!(
        crm.json(&["activity", "show", &b.activity])["contact"],
        b.other.as_str()
    );
    assert_eq!(
        relation_from(crm, &b.boss, &b.relation),
        Some(b.other.clone())
    );
    let mut names = contact_names(crm);
    names.sort();
    assert_eq!(names, ["DUARTE, Ines", "Inês Duarte", "Rui Costa"]);
    let history = crm.ok(&["history", &b.keep]);
    assert!(
        history.contains("merged") && history.contains("unmerged"),
        "{history}"
    );
}

#[test]
fn unmerging_keep_gives_back_every_record_merged_into_it() {
    let crm = Crm::init("ana");
    let keep = crm.add(&["contact", "add", "--name", "Ines"]);
    let a = crm.add(&["contact", "add", "--name", "Inês", "--email", "a@x.pt"]);
    let b = crm.add(&["contact", "add", "--name", "INES", "--email", "b@x.pt"]);
    crm.ok(&["merge-records", &keep, &a]);
    crm.ok(&["merge-records", &keep, &b]);
    assert_eq!(values(&show(&crm, &keep), "emails"), ["a@x.pt", "b@x.pt"]);
    crm.ok(&["unmerge", &keep]);
    assert!(values(&show(&crm, &keep), "emails").is_empty());
    assert_eq!(contact_names(&crm).len(), 3);
}

/// Syncs ana, bruno, then ana again: both hold everything.
fn meet(ana: &Crm, bruno: &Crm) {
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    ana.ok(&["sync"]);
}

#[test]
fn two_reps_merging_the_same_pair_offline_agree_and_lose_nothing() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let keep = ana.add(&[
        "contact",
        "add",
        "--name",
        "Inês Duarte",
        "--email",
        "ines@acme.pt",
    ]);
    let other = ana.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--email",
        "ines@gmail.com",
        "--phone",
        "912 345 678",
    ]);
    let case = ana.add(&["case", "add", "--title", "Pumps", "--contact", &other]);
    meet(&ana, &bruno);

    // Both merge the pair offline, each also adding something of their own.
    ana.ok(&["merge-records", &keep, &other]);
    bruno.ok(&["merge-records", &keep, &other]);
    ana.ok(&["contact", "edit", &keep, "--add-email", "ana-saw@acme.pt"]);
    bruno.ok(&["case", "edit", &case, "--amount", "5000"]);
    for told in [ana.ok(&["sync"]), bruno.ok(&["sync"]), ana.ok(&["sync"])] {
        assert!(
            !told.contains("had not seen the merge"),
            "one merge twice is no news: {told}"
        );
    }

    assert_eq!(ana.snapshot(), bruno.snapshot(), "the replicas agree");
    let merged = show(&ana, &keep);
    assert_eq!(
        values(&merged, "emails"),
        ["ines@acme.pt", "ines@gmail.com", "ana-saw@acme.pt"],
        "each e-mail once: {merged}"
    );
    assert_eq!(values(&merged, "phones"), ["912 345 678"]);
    assert!(
        merged["conflicts"].as_array().is_some_and(|c| c.is_empty()),
        "{merged}"
    );
    assert_eq!(show(&bruno, &other)["merged_into"], keep.as_str());
    assert_eq!(case_contacts(&bruno, &case), [keep.as_str()]);
    assert_eq!(bruno.json(&["case", "show", &case])["amount"], 500000);
    assert_eq!(contact_names(&ana), ["Inês Duarte"]);

    // Undone on one laptop, undone on both: nothing of either merge is left.
    bruno.ok(&["unmerge", &other]);
    meet(&ana, &bruno);
    assert_eq!(ana.snapshot(), bruno.snapshot());
    assert_eq!(contact_names(&ana).len(), 2, "{:?}", contact_names(&ana));
    let keep_now = show(&ana, &keep);
    assert_eq!(
        values(&keep_now, "emails"),
        ["ines@acme.pt", "ana-saw@acme.pt"],
        "{keep_now}"
    );
    assert_eq!(case_contacts(&ana, &case), [other.as_str()]);
}

#[test]
fn an_edit_to_a_record_another_rep_merged_is_kept_and_unmerge_brings_it_back() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let keep = ana.add(&[
        "contact",
        "add",
        "--name",
        "Inês Duarte",
        "--email",
        "ines@acme.pt",
    ]);
    let other = ana.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--title",
        "Buyer",
    ]);
    meet(&ana, &bruno);

    // Ana merges offline while Bruno, offline too, edits both records.
    ana.ok(&["merge-records", &keep, &other]);
    bruno.ok(&[
        "contact",
        "edit",
        &other,
        "--title",
        "Head buyer",
        "--add-phone",
        "912 000 111",
    ]);
    bruno.ok(&["contact", "edit", &keep, "--region", "north"]);
    let late = bruno.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Late call",
        "--at",
        "2026-12-01T10:00",
        "--contact",
        &other,
    ]);
    ana.ok(&["sync"]);
    let told = bruno.ok(&["sync"]);
    assert!(
        told.contains("had not seen the merge"),
        "bruno is told: {told}"
    );
    let told = ana.ok(&["sync"]);
    assert!(
        told.contains("had not seen the merge"),
        "ana is told: {told}"
    );
    assert!(
        told.contains(&format!("crm merge-records {keep}")),
        "{told}"
    );
    assert_eq!(ana.snapshot(), bruno.snapshot());

    let merged = show(&ana, &keep);
    assert_eq!(merged["region"], "north", "bruno's edit of KEEP merged");
    assert_eq!(merged["title"], "Buyer", "the merge took the title it saw");
    let kept = show(&ana, &other);
    assert_eq!(kept["merged_into"], keep.as_str());
    assert_eq!(
        kept["title"], "Head buyer",
        "bruno's edit of OTHER is kept on it"
    );
    assert_eq!(values(&kept, "phones"), ["912 000 111"]);
    assert_eq!(
        ana.json(&["activity", "show", &late])["contact"],
        other.as_str()
    );

    // Merging again brings what was added since over.
    ana.ok(&["merge-records", &keep, &other]);
    let merged = show(&ana, &keep);
    assert_eq!(values(&merged, "phones"), ["912 000 111"], "{merged}");
    assert_eq!(
        ana.json(&["activity", "show", &late])["contact"],
        keep.as_str()
    );

    // And undone, each record is as it was with everyone's edits.
    ana.ok(&["unmerge", &keep]);
    meet(&ana, &bruno);
    let back = show(&bruno, &other);
    assert!(back["merged_into"].is_null());
    assert_eq!(back["title"], "Head buyer");
    let keep_back = show(&bruno, &keep);
    assert_eq!(keep_back["region"], "north");
    assert!(keep_back["title"].is_null(), "{keep_back}");
    assert!(values(&keep_back, "phones").is_empty(), "{keep_back}");
    assert_eq!(
        bruno.json(&["activity", "show", &late])["contact"],
        other.as_str()
    );
}
