//! The `crm` binary: parses the command line, runs the command, prints one-line errors.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The reader of our output has gone (`crm contact list | head -1`): stop quietly and
    // successfully, so a script under `set -o pipefail` carries on. Only writes to a closed pipe
    // or FIFO raise SIGPIPE here: socket writes use MSG_NOSIGNAL (Linux) or SO_NOSIGPIPE (macOS).
    // Whatever was being written to SQLite is rolled back, as after any kill.
    #[cfg(unix)]
    // SAFETY: installs a handler before any thread is started; the handler only calls `_exit`,
    // which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGPIPE,
            output_closed as *const () as libc::sighandler_t,
        );
    }
    let cli = crm_client::cli::Cli::parse();
    match crm_client::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!(
                "crm: error: {}",
                msg.join(": ").replace('\r', "\\r").replace('\n', "\\n")
            );
            if e.is::<crm_client::commands::RecordsRefused>() {
                ExitCode::from(crm_client::commands::EXIT_REFUSED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The SIGPIPE handler: ends the process at once with status 0, printing nothing.
#[cfg(unix)]
extern "C" fn output_closed(_signal: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(0) }
}
