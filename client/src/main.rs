use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`crm contact list | head`), as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
