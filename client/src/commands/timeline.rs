//! The communication log of a contact or organization: its activities (with their notes) and the
//! stage changes of the cases it is part of, newest first.

use super::rows::{query, Row};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use rusqlite::types::Value;

/// Entries shown at most.
const LIMIT: usize = 50;

/// Whose timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Contact,
    Organization,
}

/// The timeline entries of a contact or organization, newest first.
pub fn timeline(store: &Store, subject: Subject, id: &str) -> Result<Vec<Row>> {
    let p = [Value::Text(id.to_string())];
    let (activities_sql, changes_sql) = match subject {
        Subject::Contact => (
            "SELECT id, at, kind, subject, status, owner FROM rm_activities
             WHERE contact_id = ?1 AND deleted = 0 ORDER BY at DESC, id LIMIT 50",
            "SELECT s.case_id, s.at, s.stage, s.from_stage, s.by, c.title FROM rm_stage_changes s
             JOIN rm_cases c ON c.id = s.case_id
             WHERE s.case_id IN (SELECT case_id FROM rm_case_contacts WHERE contact_id = ?1) AND c.deleted = 0
             ORDER BY s.at DESC, s.case_id, s.stage LIMIT 50",
        ),
        Subject::Organization => (
            // Two indexed lookups (by organization, by its cases) rather than an OR that reads
            // every activity.
            "SELECT id, at, kind, subject, status, owner FROM rm_activities
             WHERE deleted = 0 AND id IN (
                 SELECT id FROM rm_activities WHERE org_id = ?1
                 UNION SELECT a.id FROM rm_cases c JOIN rm_activities a ON a.case_id = c.id WHERE c.org_id = ?1)
             ORDER BY at DESC, id LIMIT 50",
            "SELECT s.case_id, s.at, s.stage, s.from_stage, s.by, c.title FROM rm_stage_changes s
             JOIN rm_cases c ON c.id = s.case_id
             WHERE c.org_id = ?1 AND c.deleted = 0 ORDER BY s.at DESC, s.case_id, s.stage LIMIT 50",
        ),
    };
    let activities = query(
        store,
        activities_sql,
        &p,
        &["id", "at", "kind", "subject", "status", "owner"],
    )?;
    let changes = query(
        store,
        changes_sql,
        &p,
        &["case", "at", "stage", "from", "by", "title"],
    )?;
    let mut entries: Vec<Row> = Vec::new();
    for a in activities {
        let mut e = Row::new();
        let id = a["id"].as_str().unwrap_or("").to_string();
        e.insert("when".into(), a["at"].clone());
        e.insert("type".into(), "activity".into());
        e.insert("id".into(), id.clone().into());
        e.insert("kind".into(), a["kind"].clone());
        e.insert(
            "text".into(),
            format!(
                "{}: {} ({})",
                a["kind"].as_str().unwrap_or(""),
                a["subject"].as_str().unwrap_or(""),
                a["status"].as_str().unwrap_or("")
            )
            .into(),
        );
        e.insert("by".into(), a["owner"].clone());
        let notes = id
            .parse()
            .ok()
            .and_then(|id| store.record(id).ok())
            .and_then(|r| r.str("notes").map(str::to_string))
            .filter(|n| !n.trim().is_empty());
        e.insert("notes".into(), notes.map(Into::into).unwrap_or_default());
        entries.push(e);
    }
    for c in changes {
        let mut e = Row::new();
        let at = c["at"].as_i64().unwrap_or(0);
        e.insert(
            "when".into(),
            output::local_time_ms(at).replace(' ', "T").into(),
        );
        e.insert("type".into(), "stage-change".into());
        e.insert("id".into(), c["case"].clone());
        e.insert("kind".into(), "stage".into());
        let from = c["from"]
            .as_str()
            .map(|f| format!("{f} -> "))
            .unwrap_or_default();
        e.insert(
            "text".into(),
            format!(
                "case \"{}\": {from}{}",
                c["title"].as_str().unwrap_or(""),
                c["stage"].as_str().unwrap_or("")
            )
            .into(),
        );
        e.insert("by".into(), c["by"].clone());
        e.insert("notes".into(), serde_json::Value::Null);
        entries.push(e);
    }
    entries.sort_by(|a, b| {
        b["when"]
            .as_str()
            .unwrap_or("")
            .cmp(a["when"].as_str().unwrap_or(""))
    });
    entries.truncate(LIMIT);
    Ok(entries)
}

pub fn print(entries: &[Row]) {
    if entries.is_empty() {
        return;
    }
    println!("\nTimeline");
    let mut t = output::table(&["WHEN", "ID", "WHAT", "BY", "NOTES"]);
    for e in entries {
        let notes: String = e["notes"]
            .as_str()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        t.add_row(vec![
            e["when"].as_str().unwrap_or("").replace('T', " "),
            output::short_id(e["id"].as_str().unwrap_or("")),
            e["text"].as_str().unwrap_or("").to_string(),
            e["by"].as_str().unwrap_or("").to_string(),
            notes,
        ]);
    }
    println!("{t}");
}
