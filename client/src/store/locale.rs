//! The data dir's locale: which comes first in a date typed with slashes (`31/12/2026` or
//! `12/31/2026`). Kept in the store's `meta` table, for this data dir only.

use super::Store;
use crate::error::StoreError;
use crm_shared::dates::DateOrder;

/// The `meta` key holding the locale (`dmy`, `mdy` or `iso`).
pub const LOCALE_KEY: &str = "locale";

impl Store {
    /// Reads dates typed with slashes in `order` from now on.
    pub fn set_locale(&mut self, order: DateOrder) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
            [LOCALE_KEY, order.as_str()],
        )?;
        self.dates.order = order;
        Ok(())
    }
}
