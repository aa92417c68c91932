//! `backup --to FILE` (online, consistent: SQLite `VACUUM INTO`) and `restore --from FILE` (only
//! while no server holds the data dir; swaps the store atomically).

use crate::config::{BackupArgs, RestoreArgs};
use crate::data_dir::{self, DataDirLock};
use crate::storage::SqliteStorage;
use anyhow::Context;
use std::fs::File;
use std::path::{Path, PathBuf};

/// `backup --to FILE`.
pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let store = data_dir::store_path(&args.dir.data_dir);
    anyhow::ensure!(store.exists(), "no store at {}", store.display());
    anyhow::ensure!(
        !args.to.exists(),
        "{} exists: choose a new file",
        args.to.display()
    );
    let partial = sibling(&args.to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let storage = SqliteStorage::open(&store)?;
    let t = std::time::Instant::now();
    storage
        .backup_to(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("cannot write {}", args.to.display()))?;
    let bytes = std::fs::metadata(&args.to)?.len();
    if args.dir.json {
        println!(
            "{}",
            serde_json::json!({"backup": args.to, "bytes": bytes, "seconds": t.elapsed().as_secs_f64()})
        );
    } else {
        println!("backed up to {} ({bytes} bytes)", args.to.display());
    }
    Ok(())
}

/// `restore --from FILE`.
pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let dir = &args.dir.data_dir;
    let _lock = DataDirLock::acquire(dir, "restore")?;
    check_backup(&args.from)?;
    let store = data_dir::store_path(dir);
    let incoming = sibling(&store, ".restoring");
    std::fs::copy(&args.from, &incoming)
        .with_context(|| format!("cannot copy {}", args.from.display()))?;
    File::open(&incoming)?.sync_all()?;
    if store.exists() {
        // Fold the write-ahead log into the old store, so that no stale `-wal` file is left
        // beside the new one, and keep the old store beside it.
        {
            let conn = rusqlite::Connection::open(&store)?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(sibling(&store, suffix));
        }
        std::fs::copy(&store, sibling(&store, ".before-restore"))?;
    }
    std::fs::rename(&incoming, &store)
        .with_context(|| format!("cannot replace {}", store.display()))?;
    File::open(dir)?.sync_all()?;
    // Clients keep sync states per server storage id: the restored store is another server as
    // far as they know, so they compare everything again instead of trusting what they saved.
    data_dir::forget_storage_id(dir);
    println!(
        "restored {} from {} (the previous store is kept as {})",
        store.display(),
        args.from.display(),
        sibling(&store, ".before-restore").display()
    );
    Ok(())
}

/// A backup must be a readable SQLite store of this server.
fn check_backup(path: &Path) -> anyhow::Result<()> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open {}", path.display()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    anyhow::ensure!(check == "ok", "{} is damaged: {check}", path.display());
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'documents'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(
        tables == 1,
        "{} is not a crm-sync-server backup",
        path.display()
    );
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}
