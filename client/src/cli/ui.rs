//! Arguments of `crm ui`.

use clap::Args;

#[derive(Debug, Args)]
pub struct UiArgs {
    /// The port to listen on, on 127.0.0.1 [default: any free port]
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the address in the web browser
    #[arg(long)]
    pub open: bool,
}
