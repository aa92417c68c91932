//! The users this data dir has seen: its own user, whoever has a user record here, and whoever
//! owns an activity here. An owner outside them may still be right (a colleague who has not
//! synced yet), so commands warn about one rather than refuse it.

use super::Store;
use crate::error::StoreError;
use crm_shared::DocumentId;
use rusqlite::OptionalExtension;
use std::collections::BTreeSet;

impl Store {
    /// The login names of the users seen here, sorted.
    pub fn known_users(&self) -> Result<Vec<String>, StoreError> {
        let mut users = BTreeSet::from([self.identity.user.clone()]);
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM rm_users WHERE deleted = 0")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in ids {
            if let Ok(id) = id.parse::<DocumentId>() {
                users.insert(self.record(id)?.owner);
            }
        }
        // The agenda's index starts with the owner, so this reads no table rows.
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT owner FROM rm_activities INDEXED BY rm_activities_agenda WHERE owner IS NOT NULL",
        )?;
        let owners = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for owner in owners {
            users.insert(owner?);
        }
        users.retain(|u| !u.is_empty());
        Ok(users.into_iter().collect())
    }

    /// The id of user `login`'s record here, if any: a laptop restored from the server holds
    /// the one an earlier device of the same user made.
    pub fn user_record_id(&self, login: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM rm_users WHERE login = ?1 AND deleted = 0 ORDER BY created_at, id LIMIT 1",
            )?
            .query_row([login], |r| r.get(0))
            .optional()?)
    }

    /// Warns on stderr when `user` is none of the users seen here, listing those (once per
    /// command, however many records it changes).
    pub fn warn_if_unknown_user(&self, user: &str) -> Result<(), StoreError> {
        static WARNED: std::sync::Mutex<std::collections::BTreeSet<String>> =
            std::sync::Mutex::new(std::collections::BTreeSet::new());
        let known = self.known_users()?;
        let first = WARNED
            .lock()
            .map(|mut w| w.insert(user.to_string()))
            .unwrap_or(true);
        if first && !known.iter().any(|u| u == user) {
            eprintln!(
                "crm: warning: no user `{user}` has been seen here (known: {}); kept as typed, in case they have not synced yet",
                known.join(", ")
            );
        }
        Ok(())
    }
}
