//! What the runner says it did, one line per thing: a schedule's run sent (late or not) or
//! failed, a reminder or a digest sent, failed or not sendable, what a sync received and sent,
//! and the end of each pass. As text with the runner's time, or with `--json` one JSON object
//! per line: `event`, `at`, and the fields of the event (a failure says when it is tried again
//! in `retry_at`). The sync's own events are the ones `crm sync --watch --json` prints.

use crate::commands::Ctx;
use chrono::TimeZone;

/// Where the runner tells what it does.
pub struct Events {
    pub json: bool,
    /// Seconds between two passes (`--watch`): a failure is tried again after them.
    pub every: Option<u64>,
}

impl Events {
    /// Tells `event`: as `text` after the runner's time, or as `fields` with `event` and `at`.
    pub fn tell(&self, ctx: &Ctx, event: &str, mut fields: serde_json::Value, text: &str) {
        if !self.json {
            println!("{} {text}", ctx.now_local.format("%Y-%m-%dT%H:%M"));
            return;
        }
        if let Some(map) = fields.as_object_mut() {
            map.insert("event".into(), event.into());
            map.insert("at".into(), at(ctx.now_ms).into());
        }
        println!("{fields}");
    }

    /// When a failed send is tried again: at the next pass of `--watch`, else unknown (the next
    /// `crm agent`).
    pub fn retry_at(&self, ctx: &Ctx) -> serde_json::Value {
        match self.every {
            Some(s) => at(ctx.now_ms + s.max(1) as i64 * 1000).into(),
            None => serde_json::Value::Null,
        }
    }
}

/// A moment in local time, RFC 3339 (as `crm sync --watch --json` gives its times).
fn at(ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}
