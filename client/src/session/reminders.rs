//! The reminders `crm sync --watch` tells: the watching user's planned activities whose
//! reminder time has come and that have not started, each once per watch.

use crate::store::Store;
use crm_shared::values::{format_datetime, parse_datetime};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often the store is asked.
const EVERY: Duration = Duration::from_secs(15);

pub struct Reminders {
    told: HashSet<String>,
    next: Instant,
}

impl Reminders {
    pub fn new() -> Self {
        Reminders {
            told: HashSet::new(),
            next: Instant::now(),
        }
    }

    /// The due reminders not told yet, as (activity id, words); none between two checks.
    pub fn due(&mut self, store: &Store) -> anyhow::Result<Vec<(String, String)>> {
        if Instant::now() < self.next {
            return Ok(Vec::new());
        }
        self.next = Instant::now() + EVERY;
        let (_, now) = crate::commands::now()?;
        let rows: Vec<(String, String, String, String, i64)> = store
            .conn()
            .prepare(
                "SELECT id, at, kind, subject, remind FROM rm_activities
                 WHERE owner = ?1 AND deleted = 0 AND status = 'planned' AND remind IS NOT NULL
                   AND at >= ?2 AND at < ?3
                 ORDER BY at, id",
            )?
            .query_map(
                (
                    &store.identity.user,
                    format_datetime(now),
                    format_datetime(now + chrono::Duration::days(8)),
                ),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, at, kind, subject, remind) in rows {
            let Ok(start) = parse_datetime(&at) else {
                continue;
            };
            let key = format!("{id}@{at}");
            if start - chrono::Duration::minutes(remind) <= now && self.told.insert(key) {
                out.push((
                    id.clone(),
                    format!(
                        "reminder: {kind} `{subject}` at {} (`crm activity show {}`)",
                        start.format("%a %-d %b %H:%M"),
                        crate::output::short_id(&id)
                    ),
                ));
            }
        }
        Ok(out)
    }
}
