//! The `infracheck` binary: parse the command line, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    let cli = match infracheck::cli::Cli::try_parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        // clap prints the message (or --help/--version) and exits 2 on usage errors, 0 otherwise.
        Err(e) => e.exit(),
    };
    infracheck::app::execute(cli).into()
}
