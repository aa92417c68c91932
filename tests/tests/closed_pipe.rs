//! `crm` exits quietly and successfully when the reader of its output stops reading
//! (`crm contact list | head -1`), so scripts under `set -o pipefail` carry on.

use crm_tests::{crm_bin, Crm};
use std::process::Command;

/// Runs `crm --data-dir DIR ARGS | head -1` in bash with `pipefail`; returns the exit status,
/// what head printed and what crm wrote on stderr.
fn piped_to_head(crm: &Crm, args: &str) -> (Option<i32>, String, String) {
    let stderr = crm.scratch().join("stderr");
    let script = format!(
        "set -o pipefail; '{}' --data-dir '{}' {args} 2>'{}' | head -n 1",
        crm_bin().display(),
        crm.dir().display(),
        stderr.display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env_remove("CRM_HOME")
        .env("CRM_NOW", "2026-06-30T12:00")
        .output()
        .expect("bash can be started");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(stderr).unwrap_or_default(),
    )
}

#[test]
fn a_closed_output_pipe_ends_crm_quietly() {
    let crm = Crm::new();
    // Far more output than a pipe holds (64 KiB), so crm is still writing when head leaves.
    let mut cmd = crm.command();
    cmd.env("CRM_NOW", "2026-06-30T12:00").args([
        "demo-data",
        "--contacts",
        "800",
        "--orgs",
        "10",
        "--cases",
        "0",
        "--activities",
        "0",
    ]);
    let made = cmd.output().expect("crm can be started");
    assert!(made.status.success(), "{made:?}");
    for args in [
        "contact list --limit 100000",
        "--json contact list --limit 100000",
    ] {
        let (status, first, stderr) = piped_to_head(&crm, args);
        assert_eq!(
            status,
            Some(0),
            "crm {args} | head -1: exit {status:?}, stderr {stderr:?}"
        );
        assert!(!first.trim().is_empty(), "crm {args} printed nothing");
        assert_eq!(stderr, "", "crm {args} | head -1 wrote on stderr");
    }
}
