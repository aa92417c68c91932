//! Operations with the real binary: `--config FILE` beneath environment variables and flags,
//! `backup` while serving, `restore` refused while serving and atomic when stopped.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crm-sync-server"));
    c.env_remove("CRM_SYNC_LISTEN")
        .env_remove("CRM_SYNC_DATA_DIR")
        .env_remove("CRM_SYNC_CONFIG")
        .env("CRM_SYNC_LOG", "warn");
    c
}

/// Starts `serve` with `args` (and `env`); returns the child once it listens, or its stderr.
fn serve(args: &[&str], env: &[(&str, &str)]) -> Result<Child, String> {
    let mut cmd = bin();
    cmd.arg("serve").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    if line.starts_with("listening on ") {
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Ok(child)
    } else {
        let output = child.wait_with_output().unwrap();
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn admin(data: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = admin(data, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_config_file_is_beneath_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata-dir = {:?}\nmax_frame_bytes = 1048576\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // The file alone: serves its data dir.
    let child = serve(&["--config", config], &[]).unwrap();
    stop(child);
    // (The lock is taken before it listens; the store is opened just after.)
    assert!(data.join("lock").exists());
    // A bad address in the file, overridden by the environment, then by a flag.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"not an address\"\n").unwrap();
    let bad = bad.to_str().unwrap();
    let data2 = dir.path().join("data2");
    let data2 = data2.to_str().unwrap();
    let err = serve(&["--config", bad, "--data-dir", data2], &[]).unwrap_err();
    assert!(err.contains("not an address"), "{err}");
    let child = serve(
        &["--config", bad, "--data-dir", data2],
        &[("CRM_SYNC_LISTEN", "127.0.0.1:0")],
    )
    .unwrap();
    stop(child);
    let child = serve(
        &[
            "--config",
            bad,
            "--data-dir",
            data2,
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    )
    .unwrap();
    stop(child);
    // CRM_SYNC_CONFIG works too; unknown keys are refused by name.
    let child = serve(&[], &[("CRM_SYNC_CONFIG", config)]).unwrap();
    stop(child);
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "listne = \"127.0.0.1:0\"\n").unwrap();
    let err = serve(&["--config", unknown.to_str().unwrap()], &[]).unwrap_err();
    assert!(err.contains("unknown setting `listne`"), "{err}");
}

#[test]
fn backup_while_serving_then_restore_only_when_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let server = serve(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &[]).unwrap();
    ok(&data, &["user", "add", "ana"]);
    ok(&data, &["book", "add", "north"]);
    let backup = dir.path().join("backup.sqlite3");
    let said = ok(&data, &["backup", "--to", backup.to_str().unwrap()]);
    assert!(said.contains("backed up"), "{said}");
    // Never over an existing file.
    assert!(!admin(&data, &["backup", "--to", backup.to_str().unwrap()])
        .status
        .success());
    // A second server on the same data dir, or a restore under a running server: refused.
    let err = serve(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &[]).unwrap_err();
    assert!(err.contains("is using the data dir"), "{err}");
    let out = admin(&data, &["restore", "--from", backup.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is using the data dir"),
        "{out:?}"
    );
    stop(server);
    ok(&data, &["user", "add", "late"]);
    // Not a backup: refused, store untouched.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a database at all, really not").unwrap();
    assert!(
        !admin(&data, &["restore", "--from", junk.to_str().unwrap()])
            .status
            .success()
    );
    assert!(ok(&data, &["user", "list"]).contains("late"));
    // The real restore: back to the backup's users.
    ok(&data, &["restore", "--from", backup.to_str().unwrap()]);
    let users = ok(&data, &["user", "list"]);
    assert!(users.contains("ana") && !users.contains("late"), "{users}");
    assert!(ok(&data, &["book", "list"]).contains("north"));
    let server = serve(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &[]).unwrap();
    stop(server);
}
