//! The read model: plain tables and a full-text index derived from the documents, so lists,
//! search, the agenda and reports never load a document.

use super::search_terms;
use crate::error::StoreError;
use automerge::Automerge;
use crm_shared::schema::{self, Record};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{Connection, OptionalExtension};

mod lookups;
pub mod match_keys;
#[cfg(test)]
mod tests;
mod versions;

/// Bump when the tables or what goes into them change: stores rebuild on open.
/// 7: the agenda's covering indexes hold the contact and organization (who a meeting is with).
/// 8: `rm_match_keys` (likely duplicates), and records merged into another are not listed.
/// 9: the agenda's indexes in its order (at, id), names by id covered for its joins, reminders.
/// 10: `rm_external_ids` (what `crm import` matches a file's UID with) and `rm_distinct` (pairs
/// dismissed as not duplicates).
/// 11: activities by organization (an organization's timeline).
/// 12: `rm_catalogue` (products, quotes and their lines).
/// 13: `rm_quotes` (a customer's quote history and the quotes report, without the documents).
/// 14: price lists in `rm_catalogue`.
pub const READ_MODEL_VERSION: i64 = 14;

const TABLES: &[&str] = &[
    "rm_orgs",
    "rm_contacts",
    "rm_contact_orgs",
    "rm_cases",
    "rm_case_contacts",
    "rm_activities",
    "rm_relationships",
    "rm_users",
    "rm_conflicts",
    "rm_search",
    "rm_stage_probability",
    "rm_case_versions",
    "rm_stage_changes",
    "rm_activity_versions",
    "rm_handover_edits",
    "rm_match_keys",
    "rm_external_ids",
    "rm_distinct",
    "rm_catalogue",
    "rm_quotes",
];

const SCHEMA: &str = "
-- `n` is the record's row in `documents`, which is also its rowid in `rm_search`: a search maps
-- its hits to orgs and contacts through these small indexes, never through the big documents.
CREATE TABLE rm_orgs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, industry TEXT, kind TEXT, region TEXT,
    email TEXT, phone TEXT, website TEXT, parent TEXT, owner TEXT, deleted INTEGER NOT NULL,
    n INTEGER NOT NULL
);
CREATE INDEX rm_orgs_name ON rm_orgs(name COLLATE NOCASE);
CREATE INDEX rm_orgs_n ON rm_orgs(n);
-- Who a meeting is with: the agenda joins thousands of rows to a name by id; this answers each
-- from the index alone, never the wider table row.
CREATE INDEX rm_orgs_name_by_id ON rm_orgs(id, name);
CREATE TABLE rm_contacts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, title TEXT, email TEXT, phone TEXT, region TEXT,
    owner TEXT, deleted INTEGER NOT NULL, n INTEGER NOT NULL
);
CREATE INDEX rm_contacts_name ON rm_contacts(name COLLATE NOCASE);
-- Covers a search's filter and sort, so only the page of contacts shown is read from the table.
CREATE INDEX rm_contacts_n ON rm_contacts(n, deleted, name COLLATE NOCASE, id);
CREATE INDEX rm_contacts_name_by_id ON rm_contacts(id, name);
CREATE TABLE rm_contact_orgs (contact_id TEXT NOT NULL, org_id TEXT NOT NULL, role TEXT,
    PRIMARY KEY (contact_id, org_id)) WITHOUT ROWID;
CREATE INDEX rm_contact_orgs_org ON rm_contact_orgs(org_id);
CREATE TABLE rm_cases (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, org_id TEXT, stage TEXT NOT NULL,
    probability INTEGER NOT NULL, grade TEXT, interest INTEGER, amount INTEGER, currency TEXT,
    close_date TEXT, region TEXT, owner TEXT, created_at INTEGER, deleted INTEGER NOT NULL,
    prob_override INTEGER
);
CREATE INDEX rm_cases_stage ON rm_cases(stage);
CREATE INDEX rm_cases_org ON rm_cases(org_id);
CREATE TABLE rm_case_contacts (case_id TEXT NOT NULL, contact_id TEXT NOT NULL, role TEXT,
    PRIMARY KEY (case_id, contact_id)) WITHOUT ROWID;
CREATE INDEX rm_case_contacts_contact ON rm_case_contacts(contact_id);
CREATE TABLE rm_activities (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, at TEXT, end_at TEXT,
    due TEXT, status TEXT NOT NULL, case_id TEXT, contact_id TEXT, org_id TEXT, location TEXT,
    remind INTEGER, owner TEXT, deleted INTEGER NOT NULL
);
CREATE INDEX rm_activities_at ON rm_activities(at);
-- The agenda reads only these two covering indexes, in order, never the table: a week of a busy
-- book is thousands of rows, and fetching each from the table costs a random page read. Both are
-- in the agenda's order (time, then id), so nothing is sorted.
CREATE INDEX rm_activities_agenda ON rm_activities(
    owner, at, id, deleted, status, end_at, kind, subject, location, contact_id, org_id);
CREATE INDEX rm_activities_overdue ON rm_activities(
    owner, due, id, deleted, status, at, end_at, kind, subject, location, contact_id, org_id)
    WHERE status = 'planned' AND due IS NOT NULL AND deleted = 0;
-- The reminders the agenda shows: the few planned appointments with a reminder, never the week.
CREATE INDEX rm_activities_reminders ON rm_activities(owner, at, id, kind, subject, remind)
    WHERE status = 'planned' AND deleted = 0 AND remind IS NOT NULL;
CREATE INDEX rm_activities_due ON rm_activities(due) WHERE due IS NOT NULL;
CREATE INDEX rm_activities_case ON rm_activities(case_id) WHERE case_id IS NOT NULL;
CREATE INDEX rm_activities_contact ON rm_activities(contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX rm_activities_org ON rm_activities(org_id) WHERE org_id IS NOT NULL;
CREATE TABLE rm_relationships (
    id TEXT PRIMARY KEY, from_id TEXT NOT NULL, to_id TEXT NOT NULL, kind TEXT NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX rm_relationships_from ON rm_relationships(from_id);
CREATE INDEX rm_relationships_to ON rm_relationships(to_id);
-- The users the workspace knows (each device's own record): `login` is the name records are
-- owned by, `created_at` (ms) when the workspace first knew them.
CREATE TABLE rm_users (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT, deleted INTEGER NOT NULL,
    login TEXT NOT NULL, created_at INTEGER);
-- Products (key: SKU), quotes (parent: case, key: number) and quote lines (parent: quote,
-- key: product id).
CREATE TABLE rm_catalogue (id TEXT PRIMARY KEY, type TEXT NOT NULL, parent TEXT, key TEXT NOT NULL,
    owner TEXT NOT NULL, deleted INTEGER NOT NULL);
CREATE INDEX rm_catalogue_parent ON rm_catalogue(type, parent);
CREATE INDEX rm_catalogue_key ON rm_catalogue(type, key);
-- Each quote (every revision) with what it showed when sent: totals in minor units of its
-- currency, `sent_at`/`closed_at` (ms) when it was sent and accepted, rejected or superseded.
CREATE TABLE rm_quotes (id TEXT PRIMARY KEY, number TEXT NOT NULL, revision INTEGER NOT NULL,
    case_id TEXT, status TEXT NOT NULL, quote_date TEXT, valid_until TEXT, currency TEXT,
    owner TEXT NOT NULL, sent_at INTEGER, closed_at INTEGER, net INTEGER, total INTEGER,
    discount INTEGER, deleted INTEGER NOT NULL);
CREATE INDEX rm_quotes_case ON rm_quotes(case_id);
CREATE TABLE rm_conflicts (id TEXT NOT NULL, type TEXT NOT NULL, field TEXT NOT NULL,
    PRIMARY KEY (id, field)) WITHOUT ROWID;
-- Stage probabilities of the settings document (absent: the defaults of `Stage`).
CREATE TABLE rm_stage_probability (stage TEXT PRIMARY KEY, probability INTEGER NOT NULL);
-- Reports as of a date: each case as it stood from `t` (ms) until `t_end` (NULL: still now),
-- derived from its document's history (`schema::versions`). Now is `t_end IS NULL`. `region` is
-- the case's own; a case without one is in its organization's region (`org_id`), looked up when
-- read, so a case follows its organization's moves and an organization that arrives after it.
CREATE TABLE rm_case_versions (
    case_id TEXT NOT NULL, t INTEGER NOT NULL, t_end INTEGER, stage TEXT NOT NULL,
    lost_from_stage TEXT, prob_override INTEGER, amount INTEGER, currency TEXT, owner TEXT,
    region TEXT, grade TEXT, close_date TEXT, created_at INTEGER, closed_at INTEGER,
    deleted INTEGER NOT NULL, org_id TEXT,
    PRIMARY KEY (case_id, t)
) WITHOUT ROWID;
-- Every stage change of every case, with `known_at`: the time of the first version holding it.
CREATE TABLE rm_stage_changes (
    case_id TEXT NOT NULL, i INTEGER NOT NULL, stage TEXT NOT NULL, from_stage TEXT,
    at INTEGER NOT NULL, by TEXT, known_at INTEGER NOT NULL,
    PRIMARY KEY (case_id, i)
) WITHOUT ROWID;
CREATE TABLE rm_activity_versions (
    activity_id TEXT NOT NULL, t INTEGER NOT NULL, t_end INTEGER, kind TEXT NOT NULL,
    status TEXT NOT NULL, owner TEXT, at TEXT, case_id TEXT, deleted INTEGER NOT NULL,
    PRIMARY KEY (activity_id, t)
) WITHOUT ROWID;
-- Changes by the rep who handed a record over, made concurrently with the handover (merged, shown).
CREATE TABLE rm_handover_edits (id TEXT NOT NULL, type TEXT NOT NULL, user TEXT NOT NULL,
    at INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (id, hash)) WITHOUT ROWID;
-- What a listed contact or organization shares with its likely duplicates (`match_keys`): one
-- row per normalised e-mail, phone and name. `crm duplicates` groups by key.
CREATE TABLE rm_match_keys (type TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (type, key, id)) WITHOUT ROWID;
CREATE INDEX rm_match_keys_id ON rm_match_keys(id);
-- The ids listed records have in other address books and calendars (`external_ids`): `crm import`
-- finds the record a file's UID names here, without reading documents.
CREATE TABLE rm_external_ids (uid TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    PRIMARY KEY (uid, id)) WITHOUT ROWID;
CREATE INDEX rm_external_ids_id ON rm_external_ids(id);
-- Pairs dismissed as not duplicates (`schema::distinct`), as each record of the pair says.
CREATE TABLE rm_distinct (id TEXT NOT NULL, other TEXT NOT NULL,
    PRIMARY KEY (id, other)) WITHOUT ROWID;
CREATE INDEX rm_distinct_other ON rm_distinct(other);
CREATE VIRTUAL TABLE rm_search USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
";

pub fn create(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

pub fn drop_all(conn: &Connection) -> Result<(), StoreError> {
    for t in TABLES {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {t}"))?;
    }
    Ok(())
}

/// The `deleted` column: 1 for a record lists and search leave out (removed, or merged into
/// another record).
fn deleted(r: &Record) -> i64 {
    i64::from(!r.is_listed())
}

/// Brings the read model of one document (row `n` of `documents`) up to date.
pub fn upsert(
    conn: &Connection,
    n: i64,
    doc: &Automerge,
    id: DocumentId,
) -> Result<(), StoreError> {
    let r = schema::read_record(id, doc, None)?;
    write(conn, n, doc, id, r, false)
}

/// Whether the record `id` is listed and not removed (`None`: the read model has no row for it,
/// as for the settings document).
pub fn is_live(conn: &Connection, id: DocumentId) -> Result<Option<bool>, StoreError> {
    let deleted: Option<i64> = conn
        .prepare_cached(
            "SELECT deleted FROM rm_orgs WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_contacts WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_cases WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_activities WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_relationships WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_users WHERE id = ?1
             UNION ALL SELECT deleted FROM rm_catalogue WHERE id = ?1
             LIMIT 1",
        )?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(deleted.map(|d| d == 0))
}

/// What the read model takes from one document: everything read out of Automerge, so that
/// writing it needs only the database (and deriving it, only the document: another thread may).
pub struct Derived {
    /// The record now.
    record: Record,
    /// Cases and activities: the record over time (the last is `record`).
    versions: Vec<schema::Version>,
    handover_edits: Vec<schema::HandoverEdit>,
    /// Fields holding concurrent values (none for a document with a linear history).
    conflicts: Vec<String>,
    /// The settings document's settings.
    settings: Option<schema::Settings>,
    /// Contacts and organizations: the records this one is dismissed as a duplicate of.
    distinct: Vec<DocumentId>,
}

impl Derived {
    pub fn kind(&self) -> RecordKind {
        self.record.kind
    }
}

/// Reads what the read model needs of a document (`r`: `read_record(id, doc, None)`).
pub fn derive(doc: &Automerge, id: DocumentId, r: Record) -> Result<Derived, StoreError> {
    let mut r = r;
    let mut versions = Vec::new();
    let mut handover_edits = Vec::new();
    if matches!(r.kind, RecordKind::Case | RecordKind::Activity) {
        versions = schema::versions(id, doc, Some(r))?;
        r = match versions.last() {
            Some(last) => last.record.clone(),
            None => schema::read_record(id, doc, None)?,
        };
        if r.str("handed_over_from").is_some() {
            handover_edits = schema::handover_edits(doc);
        }
    }
    let conflicts = if linear_history(doc) {
        Vec::new()
    } else {
        schema::conflicts(doc, r.kind)
            .into_iter()
            .map(|c| c.field)
            .collect()
    };
    let settings = (r.kind == RecordKind::Settings).then(|| schema::read_settings(Some(doc)));
    let distinct = match r.kind {
        RecordKind::Contact | RecordKind::Organization => schema::distinct_from(doc),
        _ => Vec::new(),
    };
    Ok(Derived {
        record: r,
        versions,
        handover_edits,
        conflicts,
        settings,
        distinct,
    })
}

/// [`upsert`] with the record now already read (`r`: `read_record(id, doc, None)`). `fresh`: the
/// read model holds nothing of this document yet (new to the store, or tables just created), so
/// there are no old rows to delete.
pub fn write(
    conn: &Connection,
    n: i64,
    doc: &Automerge,
    id: DocumentId,
    r: Record,
    fresh: bool,
) -> Result<(), StoreError> {
    write_derived(conn, n, id, derive(doc, id, r)?, fresh)
}

/// Writes what [`derive`] read of document `id` (row `n` of `documents`); `fresh` as for [`write`].
pub fn write_derived(
    conn: &Connection,
    n: i64,
    id: DocumentId,
    d: Derived,
    fresh: bool,
) -> Result<(), StoreError> {
    let id_s = id.to_string();
    let Derived {
        record: r,
        versions,
        handover_edits,
        conflicts,
        settings,
        distinct,
    } = d;
    if matches!(r.kind, RecordKind::Case | RecordKind::Activity) {
        versions::write(conn, &id_s, &versions, fresh)?;
        if !fresh {
            conn.prepare_cached("DELETE FROM rm_handover_edits WHERE id = ?1")?
                .execute([&id_s])?;
        }
        for e in &handover_edits {
            conn.prepare_cached("INSERT OR IGNORE INTO rm_handover_edits VALUES (?1,?2,?3,?4,?5)")?
                .execute((&id_s, r.kind.as_str(), &e.user, e.at, &e.hash))?;
        }
    }
    let first = |field: &str| r.labelled(field).first().map(|l| l.value.clone());
    let mut search: Vec<String> = vec![r.title().to_string()];
    match r.kind {
        RecordKind::Organization => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO rm_orgs VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
            )?
            .execute(rusqlite::params![
                id_s,
                r.title(),
                r.str("industry"),
                r.str("kind"),
                r.str("region"),
                first("emails"),
                first("phones"),
                r.str("website"),
                r.str("parent"),
                r.owner,
                deleted(&r),
                n
            ])?;
            search.extend(r.str("industry").map(String::from));
        }
        RecordKind::Contact => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO rm_contacts VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )?
            .execute(rusqlite::params![
                id_s,
                r.title(),
                r.str("title"),
                first("emails"),
                first("phones"),
                r.str("region"),
                r.owner,
                deleted(&r),
                n
            ])?;
            if !fresh {
                conn.prepare_cached("DELETE FROM rm_contact_orgs WHERE contact_id = ?1")?
                    .execute([&id_s])?;
            }
            for (org, role) in r.links("orgs").into_iter().flatten() {
                conn.prepare_cached("INSERT INTO rm_contact_orgs VALUES (?1, ?2, ?3)")?
                    .execute((&id_s, org, role))?;
            }
            search.extend(r.str("title").map(String::from));
        }
        RecordKind::Case => {
            let stage = r.str("stage").unwrap_or("prospecting");
            let probability = match r.int("probability") {
                Some(p) => p,
                None => stage_probability(conn, stage)?,
            };
            conn.prepare_cached(
                "INSERT OR REPLACE INTO rm_cases VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
            )?
            .execute(rusqlite::params![
                id_s,
                r.title(),
                r.str("org"),
                stage,
                probability,
                r.str("grade"),
                r.int("interest"),
                r.int("amount"),
                r.str("currency"),
                r.str("close_date"),
                r.str("region"),
                r.owner,
                r.created_at,
                deleted(&r),
                r.int("probability")
            ])?;
            if !fresh {
                conn.prepare_cached("DELETE FROM rm_case_contacts WHERE case_id = ?1")?
                    .execute([&id_s])?;
            }
            for (contact, role) in r.links("contacts").into_iter().flatten() {
                conn.prepare_cached("INSERT INTO rm_case_contacts VALUES (?1, ?2, ?3)")?
                    .execute((&id_s, contact, role))?;
            }
            search.extend(r.set("competitors").iter().cloned());
        }
        RecordKind::Activity => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO rm_activities VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
            )?
            .execute(rusqlite::params![
                id_s,
                r.str("kind").unwrap_or("task"),
                r.title(),
                r.str("start").or(r.str("due")),
                r.str("end"),
                r.str("due"),
                r.str("status").unwrap_or("planned"),
                r.str("case"),
                r.str("contact"),
                r.str("org"),
                r.str("location"),
                r.int("remind"),
                r.owner,
                deleted(&r)
            ])?;
            search.extend(r.str("location").map(String::from));
        }
        RecordKind::Relationship => {
            conn.prepare_cached("INSERT OR REPLACE INTO rm_relationships VALUES (?1,?2,?3,?4,?5)")?
                .execute(rusqlite::params![
                    id_s,
                    r.str("from").unwrap_or(""),
                    r.str("to").unwrap_or(""),
                    r.str("kind").unwrap_or(""),
                    deleted(&r)
                ])?;
        }
        RecordKind::Settings => {
            let settings = settings.unwrap_or_else(|| schema::read_settings(None));
            conn.execute("DELETE FROM rm_stage_probability", [])?;
            for stage in crm_shared::Stage::ALL {
                conn.execute(
                    "INSERT INTO rm_stage_probability VALUES (?1, ?2)",
                    (stage.key(), settings.probability(stage)),
                )?;
            }
            conn.execute(
                "UPDATE rm_cases SET probability = coalesce(prob_override,
                    (SELECT probability FROM rm_stage_probability p WHERE p.stage = rm_cases.stage), 0)",
                [],
            )?;
        }
        // Read from their documents (`store/mailing.rs`): nothing to list, search or report.
        RecordKind::Schedule | RecordKind::SendLog => return Ok(()),
        RecordKind::User => {
            conn.prepare_cached("INSERT OR REPLACE INTO rm_users VALUES (?1,?2,?3,?4,?5,?6)")?
                .execute(rusqlite::params![
                    id_s,
                    r.title(),
                    r.str("role"),
                    deleted(&r),
                    r.owner,
                    r.created_at
                ])?;
        }
        RecordKind::Product | RecordKind::Quote | RecordKind::QuoteLine | RecordKind::PriceList => {
            let (parent, key) = match r.kind {
                RecordKind::Product => (None, r.str("sku")),
                RecordKind::PriceList => (None, r.str("name")),
                RecordKind::Quote => (r.str("case"), r.str("number")),
                _ => (r.str("quote"), r.str("product")),
            };
            conn.prepare_cached("INSERT OR REPLACE INTO rm_catalogue VALUES (?1,?2,?3,?4,?5,?6)")?
                .execute(rusqlite::params![
                    id_s,
                    r.kind.as_str(),
                    parent,
                    key.unwrap_or(""),
                    r.owner,
                    deleted(&r)
                ])?;
            if r.kind == RecordKind::Quote {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO rm_quotes VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                )?
                .execute(rusqlite::params![
                    id_s,
                    r.str("number").unwrap_or(""),
                    r.int("revision").unwrap_or(1),
                    r.str("case"),
                    r.str("status").unwrap_or("draft"),
                    r.str("quote_date"),
                    r.str("valid_until"),
                    r.str("currency"),
                    r.owner,
                    r.int("sent_at"),
                    r.int("closed_at"),
                    r.int("net"),
                    r.int("total"),
                    r.int("discount_total"),
                    deleted(&r)
                ])?;
            }
        }
    }
    search.extend(r.labelled("emails").iter().map(|l| l.value.clone()));
    let phones: Vec<String> = r
        .labelled("phones")
        .iter()
        .map(|l| l.value.clone())
        .collect();
    search.extend(r.set("tags").iter().cloned());
    search.extend(r.str("notes").map(String::from));

    if !fresh {
        conn.prepare_cached("DELETE FROM rm_conflicts WHERE id = ?1")?
            .execute([&id_s])?;
    }
    for field in &conflicts {
        conn.prepare_cached("INSERT INTO rm_conflicts VALUES (?1, ?2, ?3)")?
            .execute((&id_s, r.kind.as_str(), field))?;
    }

    if !fresh {
        conn.prepare_cached("DELETE FROM rm_search WHERE rowid = ?1")?
            .execute([n])?;
    }
    if r.is_listed() {
        conn.prepare_cached("INSERT INTO rm_search(rowid, body) VALUES (?1, ?2)")?
            .execute((n, search_terms::index_text(&search, &phones)))?;
    }
    if matches!(r.kind, RecordKind::Contact | RecordKind::Organization) {
        if !fresh {
            conn.prepare_cached("DELETE FROM rm_match_keys WHERE id = ?1")?
                .execute([&id_s])?;
        }
        if r.is_listed() {
            let emails: Vec<String> = r
                .labelled("emails")
                .iter()
                .map(|l| l.value.clone())
                .collect();
            for key in match_keys::keys(r.title(), &emails, &phones) {
                conn.prepare_cached("INSERT OR IGNORE INTO rm_match_keys VALUES (?1, ?2, ?3)")?
                    .execute((r.kind.as_str(), key, &id_s))?;
            }
        }
        lookups::write_distinct(conn, &id_s, &distinct, fresh)?;
    }
    lookups::write_external_ids(conn, &id_s, &r, fresh)?;
    Ok(())
}

/// True when the document's history is one line: every change made after seeing all the others
/// before it. Such a document holds no concurrent values (each write saw, and replaced, whatever
/// the field held), so it has no conflicts to look for.
fn linear_history(doc: &Automerge) -> bool {
    // At most one parent per change and one head: a single chain (k separate chains would
    // have k heads, a change with two parents is a merge of concurrent ones).
    doc.get_heads().len() <= 1 && doc.get_changes_meta(&[]).iter().all(|m| m.deps.len() <= 1)
}

/// The default probability of a stage: the settings', else the product's default.
fn stage_probability(conn: &Connection, stage: &str) -> Result<i64, StoreError> {
    let set: Option<i64> = conn
        .prepare_cached("SELECT probability FROM rm_stage_probability WHERE stage = ?1")?
        .query_row([stage], |r| r.get(0))
        .optional()?;
    Ok(set.unwrap_or_else(|| {
        stage
            .parse::<crm_shared::Stage>()
            .map(|s| s.default_probability())
            .unwrap_or(0)
    }))
}
