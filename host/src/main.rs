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
    let cli = tickstock::cli::Cli::parse();
    let outcome = tickstock::cli::init_logging(&cli).and_then(|()| tickstock::cli::run(cli));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line: the chain joined, so the reason and its cause read together.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
