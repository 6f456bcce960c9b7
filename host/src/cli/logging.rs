//! Where log lines go and what they look like: the tracing subscriber the binary installs
//! before running a command.
//!
//! - Level: `--log-level`, else `RUST_LOG`, else `TICKSTOCK_LOG` (older name), else the
//!   command's default: `info` for the long-running `serve` and `worker`, `warn` for the
//!   rest. Any of them may be a full filter (`info,sqlx=warn`) and `off` prints nothing.
//! - Format: `--log-format text` (one human line) or `json` (one object per line with
//!   timestamp, level, target, message and the event's fields), for `jq` and log shippers.
//! - Colour: only when stderr is a terminal and `NO_COLOR` is unset, so log files and
//!   pipes never get ANSI escapes.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the process's subscriber. `command_default` is the level when nothing else
/// names one.
pub fn init(level: Option<&str>, format: LogFormat, command_default: &str) -> anyhow::Result<()> {
    // sqlx reports any statement over a second at warn; a bulk upsert of thousands of bars
    // is such a statement by design, so its timing is only shown on request. sqlx also
    // warns of a URL parameter it does not know *with its value*, which may be a secret
    // (`?apikey=...`): silenced too.
    let default = format!("{command_default},sqlx::query=error,sqlx_postgres::options=error");
    let chosen = level
        .map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|text| !text.trim().is_empty()))
        .or_else(|| std::env::var("TICKSTOCK_LOG").ok().filter(|text| !text.trim().is_empty()))
        .unwrap_or(default);
    let filter = EnvFilter::builder().parse(&chosen).with_context(|| {
        format!("log level {chosen:?} is not a level (error, warn, info, debug, trace, off) or a filter")
    })?;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    installed.map_err(|error| anyhow::anyhow!("installing the logger: {error}"))
}
