//! The history tables of the read model: each case and activity as it stood over time, and every
//! stage change with the time it became known. Reports "as of" a date read these, never documents.

use crate::error::StoreError;
use crm_shared::schema::{Record, Version};
use crm_shared::RecordKind;
use rusqlite::Connection;
use std::collections::HashMap;

/// Replaces the version rows of one case or activity (`fresh`: it has none yet).
pub fn write(
    conn: &Connection,
    id: &str,
    versions: &[Version],
    fresh: bool,
) -> Result<(), StoreError> {
    let Some(last) = versions.last() else {
        return Ok(());
    };
    match last.record.kind {
        RecordKind::Case => cases(conn, id, versions, fresh),
        RecordKind::Activity => activities(conn, id, versions, fresh),
        _ => Ok(()),
    }
}

fn ends(versions: &[Version]) -> impl Iterator<Item = (&Version, Option<i64>)> {
    versions
        .iter()
        .enumerate()
        .map(|(i, v)| (v, versions.get(i + 1).map(|n| n.since_ms)))
}

/// When a closed case (won or lost) was closed: the time of its last move to that stage.
pub fn closed_at(r: &Record) -> Option<i64> {
    let stage = r.str("stage")?;
    if stage != "won" && stage != "lost" {
        return None;
    }
    r.stage_history()
        .iter()
        .rev()
        .find(|c| c.stage == stage)
        .map(|c| c.at)
}

fn cases(conn: &Connection, id: &str, versions: &[Version], fresh: bool) -> Result<(), StoreError> {
    if !fresh {
        conn.prepare_cached("DELETE FROM rm_case_versions WHERE case_id = ?1")?
            .execute([id])?;
        conn.prepare_cached("DELETE FROM rm_stage_changes WHERE case_id = ?1")?
            .execute([id])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO rm_case_versions VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    )?;
    // The first version in which each stage change appears.
    let mut known: HashMap<(String, Option<String>, i64, String), i64> = HashMap::new();
    for (v, end) in ends(versions) {
        let r = &v.record;
        insert.execute(rusqlite::params![
            id,
            v.since_ms,
            end,
            r.str("stage").unwrap_or("prospecting"),
            r.str("lost_from_stage"),
            r.int("probability"),
            r.int("amount"),
            r.str("currency"),
            r.owner,
            r.str("region"),
            r.str("grade"),
            r.str("close_date"),
            r.created_at,
            closed_at(r),
            i64::from(r.is_deleted()),
            r.str("org"),
        ])?;
        for c in r.stage_history() {
            known
                .entry((c.stage.clone(), c.from.clone(), c.at, c.by.clone()))
                .or_insert(v.since_ms);
        }
    }
    let Some(last) = versions.last() else {
        return Ok(());
    };
    let mut insert =
        conn.prepare_cached("INSERT INTO rm_stage_changes VALUES (?1,?2,?3,?4,?5,?6,?7)")?;
    for (i, c) in last.record.stage_history().iter().enumerate() {
        let known_at = known
            .get(&(c.stage.clone(), c.from.clone(), c.at, c.by.clone()))
            .copied()
            .unwrap_or(last.since_ms);
        insert.execute(rusqlite::params![
            id, i as i64, c.stage, c.from, c.at, c.by, known_at
        ])?;
    }
    Ok(())
}

fn activities(
    conn: &Connection,
    id: &str,
    versions: &[Version],
    fresh: bool,
) -> Result<(), StoreError> {
    if !fresh {
        conn.prepare_cached("DELETE FROM rm_activity_versions WHERE activity_id = ?1")?
            .execute([id])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO rm_activity_versions VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    )?;
    for (v, end) in ends(versions) {
        let r = &v.record;
        insert.execute(rusqlite::params![
            id,
            v.since_ms,
            end,
            r.str("kind").unwrap_or("task"),
            r.str("status").unwrap_or("planned"),
            r.owner,
            r.str("start").or(r.str("due")),
            r.str("case"),
            i64::from(r.is_deleted()),
        ])?;
    }
    Ok(())
}
