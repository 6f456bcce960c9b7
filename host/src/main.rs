//! The `tickstock` binary: parses the command line, runs it, and turns any error into one
//! line on stderr and a non-zero exit.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so a closed pipe (`tickstock plugins list | head -1`) would
    // make the next print panic. A command-line tool should just stop, as cat and grep do.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            // sqlx reports any statement over a second at warn; a bulk upsert of thousands of
            // bars is such a statement by design, so its timing is only shown on request.
            tracing_subscriber::EnvFilter::try_from_env("TICKSTOCK_LOG")
                .unwrap_or_else(|_| "warn,sqlx::query=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = tickstock::cli::Cli::parse();
    match tickstock::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line: the chain joined, so the reason and its cause read together.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
