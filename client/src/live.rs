//! Whether a sync session of a data dir is connected to the server right now, so that each
//! change can say whether it was made offline.
//!
//! A connected session (`crm sync`, `crm sync --watch`) holds a shared OS lock on `live.lock` in
//! the data dir for as long as its connection is up; the OS drops it when the process dies. A
//! writing command asks [`is_live`] inside its write transaction: if it cannot take the lock
//! exclusively, a session holds it, and the change is not offline. The write transaction
//! (`BEGIN IMMEDIATE`) keeps two writing commands from probing at once; a session that takes
//! its lock during a probe waits the few microseconds the probe holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file inside a data dir.
pub const LIVE_LOCK_FILE: &str = "live.lock";

/// Held by a sync session while it is connected; released when dropped (or the process dies).
#[derive(Debug)]
pub struct LiveLock {
    _file: File,
}

impl LiveLock {
    /// Marks the data dir live until the returned lock is dropped. `None` when the lock file
    /// cannot be opened or locked (a read-only data dir): changes are then marked offline,
    /// which is what they were before there was a mark at all.
    pub fn hold(data_dir: &Path) -> Option<LiveLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(lock_file(data_dir))
            .ok()?;
        file.lock_shared().ok()?;
        Some(LiveLock { _file: file })
    }
}

/// True when a sync session of `data_dir` is connected to the server at this moment.
pub fn is_live(data_dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(lock_file(data_dir)) else {
        // No session ever ran here.
        return false;
    };
    match file.try_lock() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

fn lock_file(data_dir: &Path) -> PathBuf {
    data_dir.join(LIVE_LOCK_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_while_a_lock_is_held_and_not_after() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_live(dir.path()));
        let first = LiveLock::hold(dir.path()).unwrap();
        // Two sessions of one data dir may be connected at once.
        let second = LiveLock::hold(dir.path()).unwrap();
        assert!(is_live(dir.path()));
        drop(first);
        assert!(is_live(dir.path()));
        drop(second);
        assert!(!is_live(dir.path()));
    }
}
