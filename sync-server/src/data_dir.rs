//! The server's data dir: the store file, the lock that `serve` and `restore` hold, and the
//! server's storage id.

use anyhow::Context;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The name of the server's store file inside `--data-dir`: documents and the directory.
pub const STORE_FILE: &str = "sync.sqlite3";

/// The lock file inside a data dir: `serve` and `restore` hold an exclusive lock on it.
pub const LOCK_FILE: &str = "lock";

/// The file that keeps the server's storage id.
pub const STORAGE_ID_FILE: &str = "storage-id";

/// The store file of `data_dir`.
pub fn store_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STORE_FILE)
}

/// An exclusive lock on a data dir, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock, or says who holds it.
    pub fn acquire(data_dir: &Path, what: &str) -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        let path = data_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "cannot {what}: a crm-sync-server process is using the data dir {} (stop it first)",
                data_dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// The server's stable storage id, kept in the data dir so clients can keep sync states across
/// restarts (made on first use).
pub fn storage_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(STORAGE_ID_FILE);
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let id = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Forgets the storage id (a restored store is another server as far as clients know).
pub fn forget_storage_id(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(STORAGE_ID_FILE));
}
