//! The `infracheck` binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = infracheck::cli::Cli::parse();
    infracheck::app::execute(cli).into()
}
