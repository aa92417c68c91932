//! The device a data dir writes as, and what keeps two copies of one data dir from writing as
//! the same device.
//!
//! Every change made here carries the device as its Automerge actor, numbered in sequence. A
//! data dir copied with `cp -r`, or a laptop's backup restored on a new laptop while the old one
//! is still in use, starts with the same device: if both copies wrote with it, their changes
//! would share actor and sequence numbers, and no replica (nor the server) could ever merge
//! them. A fresh actor for every command would avoid it at a price: each actor a document has
//! seen costs it about 20 bytes, where the same actor's next change costs almost nothing
//! (measured: 50 one-field edits of a contact, 467 B with one actor, 1,473 B with one each).
//!
//! So the device stays, and the store remembers where it lives: the file system and inode of
//! its SQLite file ([`home`]). A store opened for writing somewhere else (a copy, a restore, a
//! move to another disk) takes a new device before its first change and says so once; the old
//! devices are kept in `past_devices`. Not caught: a backup written back into the same files
//! (same inode) whose record is edited before its first sync, while the server holds later
//! changes this data dir made to that record (Automerge numbers changes per document, so a
//! record synced first continues the numbering it gets back, and other records are safe).

use super::{hex_encode, Store};
use crate::error::StoreError;
use rand::RngCore;
use rusqlite::{OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Where the store file lived when its device was last chosen.
const HOME_KEY: &str = "device_home";
/// The devices this data dir wrote as before, oldest first, space-separated.
const PAST_KEY: &str = "past_devices";

/// A new random device id (16 bytes, hex).
pub fn new_device() -> String {
    let mut device = [0u8; 16];
    rand::rng().fill_bytes(&mut device);
    hex_encode(&device)
}

/// The identity of the store file on its file system: `device:inode`. `None` where the
/// platform does not say (the check is then skipped).
pub(super) fn home(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

impl Store {
    /// Called when a store is opened for writing: records where it lives the first time, and
    /// takes a new device when it finds itself somewhere else.
    pub(super) fn settle_device(&mut self) -> Result<(), StoreError> {
        let Some(here) = home(&self.path) else {
            return Ok(());
        };
        let recorded: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [HOME_KEY], |r| {
                r.get(0)
            })
            .optional()?;
        match recorded {
            Some(was) if was == here => Ok(()),
            None => {
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                    (HOME_KEY, &here),
                )?;
                Ok(())
            }
            Some(_) => self.take_new_device(),
        }
    }

    /// Writes as a new device from now on (committed before it returns), keeping the old one
    /// in `past_devices`, and says so on stderr. Two processes finding the same copy at once
    /// take one new device between them.
    fn take_new_device(&mut self) -> Result<(), StoreError> {
        let here = home(&self.path).unwrap_or_default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let get = |key: &str| -> Result<Option<String>, StoreError> {
            Ok(tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?)
        };
        let current = get("device")?.unwrap_or_default();
        if get(HOME_KEY)?.as_deref() == Some(here.as_str()) {
            // Another process settled it first: write as the device it chose.
            drop(tx);
            self.identity.device = current;
            return Ok(());
        }
        let past = match get(PAST_KEY)? {
            Some(p) if !p.is_empty() => format!("{p} {current}"),
            _ => current.clone(),
        };
        let device = new_device();
        for (k, v) in [("device", &device), (HOME_KEY, &here), (PAST_KEY, &past)] {
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                (k, v),
            )?;
        }
        tx.commit()?;
        eprintln!(
            "crm: this data dir was copied, restored or moved since it last wrote: it now writes as device {device} (was {current}), so its changes cannot collide with another copy's."
        );
        self.identity.device = device;
        Ok(())
    }
}
