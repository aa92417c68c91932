//! Likely duplicates: pairs of listed contacts (or organizations) that share a match key
//! (`rm_match_keys`: e-mail, phone, folded name), found by grouping on the key, never by
//! comparing every record with every other; and the pairs a sync or a `crm merge` brought in,
//! kept in `dup_attention` until they are merged or no longer both listed. Pairs dismissed as
//! not duplicates (`rm_distinct`) are neither listed nor flagged.

use super::read_model::match_keys::Reason;
use super::Store;
use crate::error::StoreError;
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dup_attention (
    a TEXT NOT NULL, b TEXT NOT NULL, type TEXT NOT NULL, flagged_at INTEGER NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
";

/// A key shared by more records than this says little (a switchboard number, a common name in a
/// big book): it is left out of the pairs, and counted.
pub const MAX_GROUP: i64 = 20;

/// Two records that are likely the same, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub a: DocumentId,
    pub b: DocumentId,
    /// The keys they share.
    pub keys: Vec<String>,
    /// They are linked to the same organization (contacts).
    pub same_org: bool,
}

impl Pair {
    /// How likely the two are one, 0-100: what they share, added up.
    pub fn score(&self) -> u32 {
        let mut score: u32 = self
            .keys
            .iter()
            .filter_map(|k| Reason::of_key(k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|r| match r {
                Reason::Email => 60,
                Reason::Phone => 45,
                Reason::Name => 40,
            })
            .sum();
        if self.same_org {
            score += 20;
        }
        score.min(100)
    }
}

/// Likely duplicates of one kind, and how many keys were too common to tell.
#[derive(Debug, Default)]
pub struct Found {
    pub pairs: Vec<Pair>,
    pub common_keys: u64,
}

impl Store {
    /// Every pair of listed records of `kind` that share a match key, best first.
    pub fn likely_duplicates(&self, kind: RecordKind) -> Result<Found, StoreError> {
        let conn = &self.conn;
        // One scan in key order (the primary key's): each run of one key is a group.
        let mut stmt = conn
            .prepare("SELECT key, id FROM rm_match_keys WHERE type = ?1 ORDER BY type, key, id")?;
        let rows: Vec<(String, String)> = stmt
            .query_map([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut keys_of: HashMap<&str, Vec<&str>> = HashMap::new();
        for (key, id) in &rows {
            keys_of.entry(id.as_str()).or_default().push(key.as_str());
        }
        let mut pairs: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        let mut common_keys: u64 = 0;
        for group in rows.chunk_by(|x, y| x.0 == y.0) {
            if group.len() as i64 > MAX_GROUP {
                common_keys += 1;
                continue;
            }
            for (i, (_, a)) in group.iter().enumerate() {
                for (_, b) in &group[i + 1..] {
                    // Every key the two share, those too common to group by included.
                    pairs.entry((a.as_str(), b.as_str())).or_insert_with(|| {
                        let theirs = keys_of.get(b.as_str());
                        keys_of
                            .get(a.as_str())
                            .into_iter()
                            .flatten()
                            .filter(|k| theirs.is_some_and(|t| t.contains(k)))
                            .map(|k| k.to_string())
                            .collect()
                    });
                }
            }
        }
        let mut found = Found {
            pairs: Vec::with_capacity(pairs.len()),
            common_keys,
        };
        let dismissed = dismissed_pairs(conn)?;
        for ((a, b), keys) in pairs {
            if dismissed.contains(&(a.to_string(), b.to_string())) {
                continue;
            }
            let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else {
                continue;
            };
            let same_org = kind == RecordKind::Contact && share_org(conn, a, b)?;
            found.pairs.push(Pair {
                a,
                b,
                keys,
                same_org,
            });
        }
        found.pairs.sort_by_key(|p| std::cmp::Reverse(p.score()));
        Ok(found)
    }

    /// Flags, as needing attention, the likely duplicates that `arrived` (records a sync or a
    /// merge brought or changed) form with records that were here already. Returns the pairs
    /// flagged now that were not flagged before.
    pub fn flag_duplicates(
        &mut self,
        arrived: &[DocumentId],
        now_ms: i64,
    ) -> Result<Vec<Pair>, StoreError> {
        if arrived.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        let came: BTreeSet<String> = arrived.iter().map(ToString::to_string).collect();
        let mut found: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT a.type, a.key, b.id FROM rm_match_keys a
                 JOIN rm_match_keys b ON b.type = a.type AND b.key = a.key AND b.id != a.id
                 WHERE a.id = ?1 AND (SELECT count(*) FROM rm_match_keys c
                                      WHERE c.type = a.type AND c.key = a.key) <= ?2",
            )?;
            for id in &came {
                let rows = stmt.query_map((id, MAX_GROUP), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?;
                for row in rows {
                    let (kind, key, other) = row?;
                    if came.contains(&other) {
                        // Both came from elsewhere: not this laptop's to flag.
                        continue;
                    }
                    let pair = if *id < other {
                        (id.clone(), other)
                    } else {
                        (other, id.clone())
                    };
                    found
                        .entry(pair)
                        .or_insert_with(|| (kind, Vec::new()))
                        .1
                        .push(key);
                }
            }
        }
        let mut fresh = Vec::new();
        let dismissed = dismissed_pairs(&tx)?;
        for ((a, b), (kind, keys)) in found {
            if dismissed.contains(&(a.clone(), b.clone())) {
                continue;
            }
            let added = tx
                .prepare_cached("INSERT OR IGNORE INTO dup_attention VALUES (?1, ?2, ?3, ?4)")?
                .execute((&a, &b, &kind, now_ms))?;
            if added == 1 {
                if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                    let same_org = kind == "contact" && share_org(&tx, a, b)?;
                    fresh.push(Pair {
                        a,
                        b,
                        keys,
                        same_org,
                    });
                }
            }
        }
        tx.commit()?;
        Ok(fresh)
    }

    /// The flagged pairs of `kind` whose records are both still listed, as (a, b) ids.
    pub fn flagged_duplicates(
        &self,
        kind: RecordKind,
    ) -> Result<BTreeSet<(DocumentId, DocumentId)>, StoreError> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'dup_attention'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !exists {
            return Ok(BTreeSet::new());
        }
        let table = match kind {
            RecordKind::Organization => "rm_orgs",
            _ => "rm_contacts",
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT d.a, d.b FROM dup_attention d
             JOIN {table} x ON x.id = d.a AND x.deleted = 0
             JOIN {table} y ON y.id = d.b AND y.deleted = 0
             WHERE d.type = ?1 AND NOT EXISTS (SELECT 1 FROM rm_distinct x
                 WHERE (x.id = d.a AND x.other = d.b) OR (x.id = d.b AND x.other = d.a))"
        ))?;
        let rows = stmt.query_map([kind.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (a, b) = row?;
            if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                out.insert((a, b));
            }
        }
        Ok(out)
    }
}

/// The pairs dismissed as not duplicates, each as (smaller id, larger id): either record's mark
/// is enough (the other may not have arrived yet).
pub fn dismissed_pairs(conn: &Connection) -> Result<BTreeSet<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, other FROM rm_distinct")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeSet::new();
    for row in rows {
        let (a, b) = row?;
        out.insert(if a < b { (a, b) } else { (b, a) });
    }
    Ok(out)
}

/// Whether contacts `a` and `b` are linked to one organization.
fn share_org(conn: &Connection, a: DocumentId, b: DocumentId) -> Result<bool, StoreError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM rm_contact_orgs x JOIN rm_contact_orgs y ON x.org_id = y.org_id
             WHERE x.contact_id = ?1 AND y.contact_id = ?2",
        )?
        .query_row((a.to_string(), b.to_string()), |r| r.get(0))?;
    Ok(n > 0)
}
