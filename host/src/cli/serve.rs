//! `tickstock serve`'s flags. The running host itself (admin API, plugin folder, workers)
//! is the library's `service`; this only turns flags into its `ServeConfig`.

use std::net::SocketAddr;
use std::time::Duration;

use super::GlobalOptions;
use crate::api::load::RequestLimits;
use crate::service::ServeConfig;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address of the admin API. Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Bearer token that mutating endpoints (POST ...) require.
    #[arg(long, env = "TICKSTOCK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How long a plugin file must be left alone before it is loaded, in milliseconds.
    #[arg(long, default_value_t = crate::watch::DEFAULT_DEBOUNCE.as_millis() as u64)]
    pub watch_debounce_ms: u64,
    /// Store the workers write to: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB")]
    pub db: Option<String>,
    #[command(flatten)]
    pub work: super::load::JobRunnerArgs,
    #[command(flatten)]
    pub queue: super::load::QueueArgs,
}

pub fn run(options: &GlobalOptions, args: ServeArgs) -> anyhow::Result<()> {
    let claim_idle = Duration::from_secs(args.queue.claim_idle_secs.max(1));
    crate::service::run(ServeConfig {
        listen: args.listen,
        token: args.token.clone(),
        plugins: options.plugins.clone(),
        runtime: options.runtime_options(),
        debounce: Duration::from_millis(args.watch_debounce_ms),
        store: args.db.clone().unwrap_or_else(crate::store::default_location),
        queue: args.queue.queue.clone(),
        queue_options: args.queue.options(),
        provider: args.work.provider()?,
        workers: args.work.worker_options(false, claim_idle)?,
        request_limits: RequestLimits::default(),
    })
}
