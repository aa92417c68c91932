//! Read-model queries returned as JSON-ready rows, and their table cells.

use crate::output;
use crate::store::Store;
use anyhow::Result;
use rusqlite::types::Value;

/// One result row: column name to value.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// Runs a read-model query and returns rows as JSON objects with the given column names.
pub fn query(store: &Store, sql: &str, params: &[Value], columns: &[&str]) -> Result<Vec<Row>> {
    let mut stmt = store.conn().prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |row| {
        let mut m = serde_json::Map::new();
        for (i, c) in columns.iter().enumerate() {
            let v = match row.get::<_, Value>(i)? {
                Value::Null => serde_json::Value::Null,
                Value::Integer(n) => n.into(),
                Value::Real(f) => f.into(),
                Value::Text(s) => s.into(),
                Value::Blob(_) => serde_json::Value::Null,
            };
            m.insert((*c).to_string(), v);
        }
        Ok(m)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The cells of a table row, ids shortened.
pub fn row_cells(r: &Row, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match r.get(*c) {
            Some(serde_json::Value::String(s)) if *c == "id" => output::short_id(s),
            Some(serde_json::Value::String(s)) => output::one_line(s),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        })
        .collect()
}
