//! Replacing a small file of the data dir whole (the kept grants, the CA certificates): written
//! beside it under a name of this process's own, synced, then renamed over it. A reader, or a
//! crash, sees the old file or the new one; two `crm` processes writing it at once (a `--watch`
//! session and a one-shot `crm sync` both keep the grants) never take each other's temporary file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes`.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    let mut nonce = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        crate::store::hex_encode(&nonce)
    ));
    let tmp = path.with_file_name(name);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_at_once_each_replace_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grants.json");
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        replace(&path, format!("writer {i}").as_bytes())?;
                    }
                    Ok::<(), std::io::Error>(())
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        let kept = std::fs::read_to_string(&path).unwrap();
        assert!(kept.starts_with("writer "), "{kept}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
