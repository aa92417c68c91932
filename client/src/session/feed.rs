//! What `crm sync --watch` says as it goes: one line per connect and reconnect, per batch of
//! records received or sent, and per record the server refuses or someone else removed. With
//! `--json`, one JSON object per line instead. Due reminders of the watching user are told
//! too, once each.

use super::reminders::Reminders;
use super::SyncReport;
use crate::output::records;
use crate::store::Store;
use crm_shared::DocumentId;

/// Prints the difference between the last report it saw and the next.
pub struct Feed {
    json: bool,
    /// A connection was made or tried before.
    tried: bool,
    seen: Seen,
    reminders: Reminders,
}

/// How much of a session's report was told.
#[derive(Default)]
struct Seen {
    created: u64,
    updated: u64,
    pushed: u64,
    refused: usize,
    removed: usize,
}

impl Feed {
    pub fn new(json: bool) -> Self {
        Feed {
            json,
            tried: false,
            seen: Seen::default(),
            reminders: Reminders::new(),
        }
    }

    /// A connection to the server failed or was lost (the command said why).
    pub fn lost(&mut self) {
        self.tried = true;
    }

    /// A session is connected to `url` (a reconnect when a connection was made or tried before).
    pub fn connected(&mut self, url: &str) {
        self.seen = Seen::default();
        let event = if std::mem::replace(&mut self.tried, true) {
            "reconnected"
        } else {
            "connected"
        };
        self.line(
            event,
            serde_json::json!({ "server": url }),
            format!("{event} to {url}"),
        );
    }

    /// Tells what `report` holds that was not told yet.
    pub fn tell(&mut self, report: &SyncReport) {
        let created = report.created - self.seen.created;
        let updated = report.updated - self.seen.updated;
        if created + updated > 0 {
            self.line(
                "received",
                serde_json::json!({ "created": created, "updated": updated }),
                format!(
                    "received {} ({created} new, {updated} updated)",
                    records(created + updated)
                ),
            );
        }
        let pushed = report.pushed - self.seen.pushed;
        if pushed > 0 {
            self.line(
                "sent",
                serde_json::json!({ "records": pushed }),
                format!("sent changes of {}", records(pushed)),
            );
        }
        let refused = report
            .refused_ids
            .get(self.seen.refused..)
            .unwrap_or_default();
        if !refused.is_empty() {
            self.line(
                "refused",
                serde_json::json!({ "ids": ids(refused) }),
                format!(
                    "the server did not accept {} (kept here; `crm sync` says why): {}",
                    records(refused.len() as u64),
                    ids(refused).join(", ")
                ),
            );
        }
        let removed = report
            .removed_ids
            .get(self.seen.removed..)
            .unwrap_or_default();
        if !removed.is_empty() {
            self.line(
                "removed",
                serde_json::json!({ "ids": ids(removed) }),
                format!(
                    "someone else removed {} (`crm KIND rm ID --restore` brings one back): {}",
                    records(removed.len() as u64),
                    ids(removed).join(", ")
                ),
            );
        }
        self.seen = Seen {
            created: report.created,
            updated: report.updated,
            pushed: report.pushed,
            refused: report.refused_ids.len(),
            removed: report.removed_ids.len(),
        };
    }

    /// Tells the watching user's reminders that came due since the last call.
    pub fn remind(&mut self, store: &Store) {
        match self.reminders.due(store) {
            Ok(due) => {
                for (id, text) in due {
                    self.line("reminder", serde_json::json!({ "id": id }), text);
                }
            }
            Err(e) => eprintln!("crm: cannot read the reminders: {e:#}"),
        }
    }

    fn line(&self, event: &str, mut fields: serde_json::Value, text: String) {
        let now = chrono::Local::now();
        if self.json {
            if let Some(map) = fields.as_object_mut() {
                map.insert("event".into(), event.into());
                map.insert("at".into(), now.to_rfc3339().into());
            }
            println!("{fields}");
        } else {
            println!("{} {text}", now.format("%H:%M:%S"));
        }
    }
}

fn ids(ids: &[DocumentId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}
