//! The `tickstock` binary: parses the command line, runs it, and turns any error into one
//! line on stderr and exit code 1, and how a command ended (`cli::Outcome`) into its exit
//! code. The process exits here, once the command has closed its store, and nowhere else
//! but at a second Ctrl-C (`tickstock::shutdown`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so a closed pipe (`tickstock plugins list | head -1`) would
    // make the next print panic. A command-line tool should just stop, as cat and grep do.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The config file (`tickstock.toml`) becomes flags before clap parses, so clap's
    // checks and defaults apply to its values as to typed ones.
    let outcome = tickstock::cli::config::apply(std::env::args_os().collect()).and_then(|argv| {
        let cli = tickstock::cli::Cli::parse_from(argv);
        tickstock::cli::init_logging(&cli).and_then(|()| tickstock::cli::run(cli))
    });
    match outcome {
        Ok(outcome) => std::process::ExitCode::from(outcome.exit_code()),
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: many library errors already
/// quote their source in their own message, and printing the chain as well would repeat
/// it ("cannot open X: connection refused: connection refused").
fn one_line(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        if message.contains(text.as_str()) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}
