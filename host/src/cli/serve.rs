//! `tickstock serve`: the long-running host. Loads the built-in plugins and the
//! `--plugins` folder, watches the folder, and serves the admin API until Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::GlobalOptions;
use crate::api::load::RequestLimits;
use crate::load::LoadBoard;
use crate::metrics::{BreakerState, JobOutcome, Metrics};
use crate::plugin::{PluginKind, Registry, Runtime, RuntimeOptions};
use crate::queue::JobQueue;
use crate::redact::SecretUrl;
use crate::schedule::CircuitState;
use crate::server::loads::LoadsState;
use crate::server::{self, ServerState};
use crate::watch::{FolderWatcher, PluginFolder};
use crate::worker::{JobEvent, WorkerContext, WorkerCounters};

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
    #[arg(long, default_value_t = server::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout_secs: u64,
    /// How long a plugin file must be left alone before it is loaded, in milliseconds.
    #[arg(long, default_value_t = crate::watch::DEFAULT_DEBOUNCE.as_millis() as u64)]
    pub watch_debounce_ms: u64,
    /// Store the workers write to: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
    pub db: Option<SecretUrl>,
    #[command(flatten)]
    pub work: super::load::WorkArgs,
    #[command(flatten)]
    pub queue: super::load::QueueArgs,
}

/// A server's state with its folder watched; drop it to stop watching.
pub struct Assembled {
    pub state: ServerState,
    pub watcher: Option<FolderWatcher>,
}

/// Builds what `serve` serves: a runtime whose calls feed the metrics, the built-ins, and
/// the plugin folder (watched first, then scanned, so that nothing landing in between is
/// missed). `bench serve` assembles the same way.
pub fn assemble(
    runtime_options: RuntimeOptions,
    plugin_dir: Option<&Path>,
    token: Option<String>,
    debounce: Duration,
) -> anyhow::Result<Assembled> {
    let metrics = Arc::new(Metrics::new());
    let runtime = Runtime::new(runtime_options)?;
    let observer_metrics = metrics.clone();
    if runtime.observe_calls(Box::new(move |call| observer_metrics.record_plugin_call(call))).is_err() {
        unreachable!("a new runtime has no call observer yet");
    }
    let registry = Arc::new(Registry::with_builtins(runtime).context("loading the built-in plugins")?);
    for entry in registry.list() {
        metrics.set_generation(&format!("{}/{}", entry.kind, entry.name), entry.generation);
    }
    let mut state = ServerState::new(registry.clone(), metrics.clone());
    state.token = token.filter(|token| !token.is_empty()).map(Arc::from);
    let mut watcher = None;
    if let Some(dir) = plugin_dir {
        let folder = Arc::new(PluginFolder::new(dir, registry.clone(), metrics.clone())?);
        watcher = Some(FolderWatcher::start(folder.clone(), debounce)?);
        for outcome in folder.rescan()? {
            if let crate::watch::FileOutcome::Failed { message, .. } = outcome {
                eprintln!("warning: {message}");
            }
        }
        state.folder = Some(folder);
    }
    Ok(Assembled { state, watcher })
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
    server::check_exposure(args.listen, token.as_deref())?;
    let serve_limits = server::ServeLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        ..server::ServeLimits::for_token(token.as_deref())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let plugin_dir = options.plugins.clone();
        let runtime_options = options.runtime_options();
        let debounce = Duration::from_millis(args.watch_debounce_ms);
        // Loading plugins compiles wasm and calls it: not work for an async worker.
        let assembled =
            tokio::task::spawn_blocking(move || assemble(runtime_options, plugin_dir.as_deref(), token, debounce))
                .await??;
        let Assembled { state, watcher: _watcher } = assembled;
        let calendars = state.registry.names(PluginKind::Calendar).join(", ");

        // The load engine: a store, a queue, workers that run until shutdown, and the
        // load routes, with every job event feeding the board and the metrics.
        let location = args.db.clone().unwrap_or_else(crate::store::default_location);
        let store = super::load::open_store(&location).await?;
        let queue = args.queue.open().await?;
        let board = LoadBoard::new();
        let metrics = state.metrics.clone();
        let observer = board.observer(Some(Arc::new(move |event: &JobEvent<'_>| record_job_metrics(&metrics, event))));
        let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
        let (_no_more, no_more_jobs) = tokio::sync::watch::channel(false);
        let claim_idle = Duration::from_secs(args.queue.claim_idle_secs.max(1));
        let worker_context = WorkerContext {
            registry: state.registry.clone(),
            store: store.clone(),
            provider: args.work.provider()?,
            queue: queue.clone(),
            counters: Arc::new(WorkerCounters::default()),
            observer: Some(observer),
        };
        let workers = tokio::spawn(crate::worker::run_workers(
            worker_context,
            args.work.worker_options(false, claim_idle)?,
            workers_stop,
            no_more_jobs,
        ));
        let depth_metrics = state.metrics.clone();
        let depth_queue = queue.clone();
        let depth_task = tokio::spawn(async move {
            loop {
                if let Ok(status) = depth_queue.status().await {
                    for depth in &status.tiers {
                        depth_metrics.set_queue_depth(depth.tier, depth.queued + depth.in_flight);
                    }
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
        let loads = LoadsState {
            registry: state.registry.clone(),
            store: store.clone(),
            queue,
            board,
            limits: RequestLimits { max_symbols: args.max_symbols_per_request },
            planning: Arc::new(tokio::sync::Semaphore::new(server::loads::DEFAULT_CONCURRENT_PLANS)),
        };
        let app = server::router(state.clone()).merge(server::loads::routes(loads, state));

        eprintln!(
            "tickstock serve: listening on http://{} (calendars: {calendars}; store {location}; queue {})",
            listener.local_addr()?,
            args.queue.queue.as_ref().map_or_else(|| "in-process".to_string(), SecretUrl::to_string)
        );
        let served = server::run(listener, app, serve_limits, shutdown_signal()).await.context("serving the admin API");
        // Stop taking jobs, let those in flight finish and commit, then close the store.
        let _ = stop_workers.send(true);
        depth_task.abort();
        if let Ok(Ok(summary)) = workers.await {
            eprintln!("workers stopped: {} jobs done, {} rows written", summary.jobs_done, summary.rows_written);
        }
        store.close().await;
        served
    })
}

/// Ctrl-C, or SIGTERM on Unix (what service managers send).
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Job events as Prometheus series.
fn record_job_metrics(metrics: &Metrics, event: &JobEvent<'_>) {
    match event {
        JobEvent::Done { tier, rows, .. } => {
            metrics.record_job(*tier, JobOutcome::Done);
            metrics.record_rows_written(*rows);
        }
        JobEvent::Retried { tier, .. } => metrics.record_job(*tier, JobOutcome::Retried),
        JobEvent::Dead { tier, .. } => metrics.record_job(*tier, JobOutcome::Dead),
        JobEvent::Circuit { provider, state } => metrics.set_circuit_breaker(
            provider,
            match state {
                CircuitState::Closed => BreakerState::Closed,
                CircuitState::HalfOpen => BreakerState::HalfOpen,
                CircuitState::Open => BreakerState::Open,
            },
        ),
    }
}
