//! Property tests of the command line: the parser never panics on any argument vector, and the
//! real binary turns any value of a validated flag into a record or a one-line error.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::{CommandFactory, Parser};
use crm_client::cli::{Cli, Command, ContactCommand};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

/// Words the parser knows, so that random vectors often get deep into subcommands.
const WORDS: &[&str] = &[
    "init",
    "org",
    "contact",
    "case",
    "activity",
    "agenda",
    "relate",
    "conflicts",
    "resolve",
    "history",
    "merge",
    "demo-data",
    "rebuild",
    "sync",
    "add",
    "list",
    "show",
    "edit",
    "move",
    "rm",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
    "--json",
    "--data-dir",
    "--user",
    "--name",
    "--email",
    "--phone",
    "--org",
    "--title",
    "--amount",
    "--currency",
    "--stage",
    "--grade",
    "--close-date",
    "--kind",
    "--subject",
    "--at",
    "--due",
    "--remind",
    "--search",
    "--deleted",
    "--limit",
    "--restore",
    "--clear",
    "--untag",
    "--day",
    "--week",
    "--date",
    "--as",
    "--from",
    "--reason",
    "--contacts",
    "--seed",
    "--watch",
    "--",
    "-",
    "=",
    "--name=",
    "--limit=-1",
];

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(String::from),
        2 => "\\PC{0,12}",
        1 => "-{1,2}[a-z-]{0,10}(=.{0,6})?",
        1 => "[0-9.,_+-]{0,8}",
    ]
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        // Reproducible runs; no regression files outside this one.
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn the_command_definition_is_valid() {
    Cli::command().debug_assert();
}

proptest! {
    #![proptest_config(config(1000, 0x05ee_dc11))]

    #[test]
    fn parsing_any_arguments_never_panics(args in proptest::collection::vec(arg(), 0..8)) {
        let argv = std::iter::once("crm".to_string()).chain(args);
        // Help and version requests are errors of try_parse_from; only a panic is a failure.
        let _ = Cli::try_parse_from(argv);
    }

    #[test]
    fn a_name_given_with_equals_is_taken_verbatim(name in "\\PC{0,20}") {
        let flag = format!("--name={name}");
        let cli = Cli::try_parse_from(["crm", "contact", "add", &flag]);
        let cli = cli.map_err(|e| TestCaseError::fail(e.to_string()))?;
        match cli.command {
            Command::Contact(ContactCommand::Add(f)) => prop_assert_eq!(f.name, Some(name)),
            other => prop_assert!(false, "parsed as {:?}", other),
        }
    }
}

// ---------------------------------------------------------------- the real binary

/// One data dir shared by the cases below (they only add records).
fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let out = crm(dir.path(), &["init", "--user", "prop"]);
        assert!(out.status.success(), "crm init failed: {out:?}");
        dir
    })
    .path()
}

fn crm(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_crm"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CRM_HOME")
        .output()
        .expect("crm can be started")
}

/// `crm` either succeeded with `--json` output or failed with one line `crm: error: ...`
/// (exit 1) or a usage error (exit 2); never a panic. Returns the JSON on success.
fn check(args: &[&str], out: &Output) -> Result<Option<serde_json::Value>, TestCaseError> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    prop_assert!(
        !stderr.contains("panicked"),
        "crm {:?} panicked: {}",
        args,
        stderr
    );
    match out.status.code() {
        Some(0) => {
            let v: serde_json::Value = serde_json::from_str(&stdout).map_err(|e| {
                TestCaseError::fail(format!("crm {args:?}: bad JSON {e}: {stdout}"))
            })?;
            Ok(Some(v))
        }
        Some(1) => {
            let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
            prop_assert!(
                line.starts_with("crm: error: ") && !line.contains('\n') && !line.contains('\r'),
                "crm {:?}: not a one-line error: {:?}",
                args,
                stderr
            );
            Ok(None)
        }
        Some(2) => {
            prop_assert!(stderr.starts_with("error:"), "crm {:?}: {:?}", args, stderr);
            Ok(None)
        }
        other => Err(TestCaseError::fail(format!(
            "crm {args:?} ended with {other:?}: {stderr}"
        ))),
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,6}(\\.[0-9]{0,3})?",
        "-?[0-9_.,e]{0,10}",
        "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",
        "[a-z.]{0,6}@[a-z]{0,6}(\\.[a-z]{0,3})?",
        proptest::sample::select(crm_shared::Stage::KEYS.to_vec()).prop_map(String::from),
        "[ -~]{0,16}",
        "[ -~\n\t]{0,12}",
        "\\PC{0,12}",
    ]
}

proptest! {
    #![proptest_config(config(40, 0x00c0_ffee))]

    #[test]
    fn the_binary_takes_any_value_or_refuses_it_in_one_line(v in value()) {
        let dir = data_dir();
        let eur = crm_shared::values::Currency::EUR;

        let flag = format!("--amount={v}");
        let args = ["--json", "case", "add", "--title", "P", flag.as_str()];
        let added = check(&args, &crm(dir, &args))?;
        let want = crm_shared::values::parse_amount(&v, eur).ok();
        prop_assert_eq!(added.as_ref().map(|r| r["amount"].as_i64()), want.map(Some));

        let flag = format!("--close-date={v}");
        let args = ["--json", "case", "add", "--title", "P", flag.as_str()];
        let added = check(&args, &crm(dir, &args))?;
        let want = crm_shared::values::parse_date(&v).ok().map(|d| d.to_string());
        prop_assert_eq!(added.map(|r| r["close_date"].as_str().map(String::from)), want.map(Some));

        let flag = format!("--email={v}");
        let args = ["--json", "contact", "add", "--name", "P", flag.as_str()];
        let added = check(&args, &crm(dir, &args))?;
        // `LABEL=ADDRESS` labels an address.
        let address = match v.split_once('=') {
            Some((label, address)) if !label.trim().is_empty() => address,
            _ => v.as_str(),
        };
        prop_assert_eq!(added.is_some(), crm_shared::values::Email::parse(address).is_ok());

        let flag = format!("--stage={v}");
        let args = ["--json", "case", "add", "--title", "P", flag.as_str()];
        let added = check(&args, &crm(dir, &args))?;
        let want = v.parse::<crm_shared::Stage>().ok().map(|s| s.key().to_string());
        prop_assert_eq!(added.map(|r| r["stage"].as_str().map(String::from)), want.map(Some));
    }
}
