//! The architecture's invariants, checked on the source text (as rust-analyzer's `tidy` does):
//!
//! - `shared` is pure: its library code opens no file or socket, reads no clock, draws no random
//!   numbers and keeps no global or thread-local state, but for the exceptions in [`ALLOWED`],
//!   each with its reason. (Time and randomness are the caller's to pass in.)
//! - `shared` depends on no runtime, database, web or WebSocket crate.
//! - Every module of the workspace starts with a `//!` doc comment saying what it holds.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// What pure code does not name: (pattern, what it stands for).
const FORBIDDEN: &[(&str, &str)] = &[
    ("std::fs", "a file"),
    ("File::", "a file"),
    ("OpenOptions", "a file"),
    ("std::io::stdin", "the terminal"),
    ("println!", "the terminal"),
    ("eprintln!", "the terminal"),
    ("dbg!", "the terminal"),
    ("std::net", "a socket"),
    ("TcpStream", "a socket"),
    ("TcpListener", "a socket"),
    ("UdpSocket", "a socket"),
    ("std::env", "the environment"),
    ("std::process", "a process"),
    ("std::thread", "a thread"),
    ("SystemTime", "the clock"),
    ("Instant::now", "the clock"),
    ("Utc::now", "the clock"),
    ("Local::now", "the clock"),
    ("rand::", "random numbers"),
    ("getrandom", "random numbers"),
    ("thread_rng", "random numbers"),
    ("new_v4", "random numbers"),
    ("ActorId::random", "random numbers"),
    ("Automerge::new()", "random numbers (a random actor id)"),
    ("AutoCommit::new()", "random numbers (a random actor id)"),
    ("thread_local!", "thread-local state"),
    ("static mut", "global state"),
    ("OnceLock", "global state"),
    ("LazyLock", "global state"),
    ("lazy_static", "global state"),
    ("Mutex", "shared state"),
    ("RwLock", "shared state"),
    ("Atomic", "shared state"),
];

/// The exceptions: (file under `shared/src`, pattern, why it is allowed). Each must still occur
/// there, so that the list stays true.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "engine/slots.rs",
        "Automerge::new()",
        "a document storage lacks starts empty with a random actor id; the engine only receives \
         changes into it and never writes one, so the actor reaches neither storage nor the wire",
    ),
    (
        "engine/backlog.rs",
        "Automerge::new()",
        "the same for a document the client requests from its server",
    ),
    (
        "engine/exchange.rs",
        "Automerge::new()",
        "the same for a fetch the server answered with the sync protocol",
    ),
    (
        "schema/write.rs",
        "AutoCommit::new()",
        "a new record's document: the random actor is replaced at once by the caller's \
         (`with_actor`), so no result depends on it",
    ),
    (
        "schema/settings.rs",
        "AutoCommit::new()",
        "the settings document: the random actor is replaced at once by the caller's",
    ),
    (
        "schema/mailing.rs",
        "AutoCommit::new()",
        "a schedule's or a send log's document: the random actor is replaced at once by the \
         caller's",
    ),
    (
        "protocol/decode/recent_ids.rs",
        "thread_local!",
        "the decoder remembers the document ids it read lately on this thread: a cache that \
         changes no result, only what checking a repeated bs58check id costs",
    ),
    (
        "document_id.rs",
        "thread_local!",
        "`Display` remembers the last id it wrote on this thread: a cache that changes no \
         result, only what writing the same id in many messages costs",
    ),
];

/// Crates `shared` must not depend on: the I/O shells' runtime, database, web and WebSocket.
const FORBIDDEN_DEPENDENCIES: &[&str] = &[
    "tokio",
    "rusqlite",
    "axum",
    "tungstenite",
    "tokio-tungstenite",
    "hyper",
    "reqwest",
    "rand",
    "getrandom",
];

fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    shared_dir()
        .parent()
        .expect("shared/ lies in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Test code may use what the library may not: files of a `tests` module, and a trailing
/// `#[cfg(test)] mod tests { ... }`.
fn is_test_file(relative: &str) -> bool {
    relative.ends_with("tests.rs") || relative.split('/').any(|part| part == "tests")
}

/// The library code of a file: without its trailing test module and without comments.
fn library_code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn shared_uses_no_file_socket_clock_rng_or_global_state_but_for_the_stated_exceptions() {
    let src = shared_dir().join("src");
    let mut found = Vec::new();
    let mut allowed_seen = vec![false; ALLOWED.len()];
    for path in rust_files(&src) {
        let relative = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if is_test_file(&relative) {
            continue;
        }
        let code = library_code(&read(&path));
        for (pattern, what) in FORBIDDEN {
            if !code.contains(pattern) {
                continue;
            }
            match ALLOWED
                .iter()
                .position(|(file, p, _)| *file == relative && p == pattern)
            {
                Some(i) => allowed_seen[i] = true,
                None => found.push(format!(
                    "shared/src/{relative} names `{pattern}` ({what}): pass it in from the \
                     shell, or add the file to ALLOWED with the reason"
                )),
            }
        }
    }
    for ((file, pattern, _), seen) in ALLOWED.iter().zip(&allowed_seen) {
        if !seen {
            found.push(format!(
                "ALLOWED lists `{pattern}` in shared/src/{file}, which no longer names it: \
                 remove the entry"
            ));
        }
    }
    assert!(found.is_empty(), "\n{}", found.join("\n"));
}

#[test]
fn shared_depends_on_no_runtime_database_web_or_websocket_crate() {
    let manifest = read(&shared_dir().join("Cargo.toml"));
    let mut section = String::new();
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_owned();
            continue;
        }
        // Test-only dependencies are free; everything the library links is checked.
        if !section.ends_with("dependencies") || section.ends_with("dev-dependencies") {
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_end_matches(".workspace").trim();
        if FORBIDDEN_DEPENDENCIES.contains(&name) {
            found.push(format!("shared/Cargo.toml [{section}] depends on `{name}`"));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_module_of_the_workspace_starts_with_a_doc_comment() {
    let root = workspace_dir();
    let mut members: Vec<PathBuf> = fs::read_dir(&root)
        .expect("the workspace directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    members.sort();
    assert!(
        members.len() >= 4,
        "expected the workspace's members, found {members:?}"
    );
    let mut missing = Vec::new();
    let mut checked = 0;
    for member in &members {
        for path in rust_files(&member.join("src")) {
            checked += 1;
            if !read(&path).starts_with("//!") {
                let shown = path.strip_prefix(&root).unwrap_or(&path).display();
                missing.push(format!(
                    "{shown} does not start with a `//!` comment saying what it holds"
                ));
            }
        }
    }
    assert!(checked > 100, "only {checked} files found under */src");
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}
