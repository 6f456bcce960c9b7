//! `tickstock serve`'s flags. The running host itself (admin API, plugin folder, workers)
//! is the library's `service`; this only turns flags into its `ServeConfig`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::GlobalOptions;
use crate::api::load::RequestLimits;
use crate::redact::SecretUrl;
use crate::service::{DEFAULT_HEADER_READ_TIMEOUT, ServeConfig};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address of the admin API. Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Bearer token that mutating endpoints (POST ...) require: at least 16 characters.
    /// Prefer --token-file or TICKSTOCK_TOKEN: a flag shows in the process list.
    #[arg(long, env = "TICKSTOCK_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    pub token: Option<String>,
    /// File holding the bearer token (its first line; at most 4 KiB, a regular file).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// Most symbols one `POST /loads` may name (or count).
    #[arg(long, default_value_t = RequestLimits::default().max_symbols)]
    pub max_symbols_per_request: usize,
    /// Seconds a client may take to send a request's headers before it is disconnected.
    #[arg(long, default_value_t = DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout_secs: u64,
    /// How long a plugin file written in place must be left alone before it is loaded, in
    /// milliseconds (a file renamed into the folder waits 20 ms, or this if shorter).
    #[arg(long, default_value_t = crate::watch::DEFAULT_DEBOUNCE.as_millis() as u64)]
    pub watch_debounce_ms: u64,
    /// Store the workers write to: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
    pub db: Option<SecretUrl>,
    #[command(flatten)]
    pub work: super::load::JobRunnerArgs,
    #[command(flatten)]
    pub queue: super::load::QueueArgs,
}

/// Shortest token accepted: shorter ones are guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Largest token file read.
const MAX_TOKEN_FILE_BYTES: u64 = 4 * 1024;

/// The token from --token / TICKSTOCK_TOKEN or --token-file, checked: none at all is
/// allowed (loopback only), a short or blank one is an error rather than a weak lock.
pub fn resolve_token(token: Option<&str>, token_file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let token = match (token, token_file) {
        (Some(token), _) => token.to_string(),
        (None, Some(path)) => read_token_file(path)?,
        (None, None) => return Ok(None),
    };
    let token = token.trim();
    if token.chars().count() < MIN_TOKEN_CHARS {
        anyhow::bail!(
            "the token is {}: give at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 24`)",
            if token.is_empty() { "blank".to_string() } else { format!("{} characters", token.chars().count()) }
        );
    }
    if token.chars().any(char::is_control) {
        anyhow::bail!("the token holds a control character: give printable characters only");
    }
    Ok(Some(token.to_string()))
}

fn read_token_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading the token file {shown}"))?;
    if !file.metadata().with_context(|| format!("reading the token file {shown}"))?.is_file() {
        anyhow::bail!("the token file {shown} is not a regular file");
    }
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the token file {shown} (UTF-8 text expected)"))?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        anyhow::bail!("the token file {shown} is over {MAX_TOKEN_FILE_BYTES} bytes: it should hold one token");
    }
    Ok(text.lines().next().unwrap_or_default().to_string())
}

pub fn run(options: &GlobalOptions, args: ServeArgs) -> anyhow::Result<()> {
    let token = resolve_token(args.token.as_deref(), args.token_file.as_deref())?;
    if args.max_symbols_per_request == 0 {
        anyhow::bail!("--max-symbols-per-request 0 would refuse every load: give a positive count");
    }
    if args.header_read_timeout_secs == 0 {
        anyhow::bail!("--header-read-timeout-secs 0 would drop every client: give a positive number of seconds");
    }
    let claim_idle = Duration::from_secs(args.queue.claim_idle_secs.max(1));
    crate::service::run(ServeConfig {
        listen: args.listen,
        token,
        plugins: options.plugins.clone(),
        runtime: options.runtime_options(),
        debounce: Duration::from_millis(args.watch_debounce_ms),
        store: args.db.clone().unwrap_or_else(crate::store::default_location),
        queue: args.queue.queue.clone(),
        queue_options: args.queue.options(),
        provider: args.work.provider()?,
        workers: args.work.worker_options(false, claim_idle)?,
        request_limits: RequestLimits { max_symbols: args.max_symbols_per_request },
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
    })
}
