//! The running host behind `tickstock serve`: the admin API (`server`), the plugin folder
//! and its watcher, and the load engine's workers, wired to one store and one queue, until
//! Ctrl-C or SIGTERM (see `shutdown`: a second one exits at once with 130; a serve that
//! stopped cleanly exits 0, as a service manager expects of a service it stopped).
//!
//! Depends on `server`, `load`, `worker`, `queue`, `store`, `plugin`, `metrics`,
//! `shutdown`; never on `cli`, which only turns `tickstock serve`'s flags into a
//! [`ServeConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::api::load::RequestLimits;
use crate::metrics::{BreakerState, JobOutcome, Metrics};
use crate::plugin::{PluginKind, RuntimeOptions};
use crate::provider::Provider;
use crate::queue::{JobQueue, Queue, QueueOptions};
use crate::redact::SecretUrl;
use crate::schedule::CircuitState;
use crate::server::{self, loads::LoadsState};
use crate::worker::{JobEvent, WorkerContext, WorkerCounters, WorkerOptions};

/// Everything `serve` needs, already parsed and checked by the caller.
pub struct ServeConfig {
    /// Address of the admin API.
    pub listen: SocketAddr,
    /// Bearer token for mutating routes (required beyond loopback).
    pub token: Option<String>,
    /// The plugin folder to load and watch.
    pub plugins: Option<PathBuf>,
    pub runtime: RuntimeOptions,
    /// How long a plugin file must be left alone before it is loaded.
    pub debounce: Duration,
    /// Store location: a SQLite path or a postgres:// URL (printed redacted).
    pub store: SecretUrl,
    /// Queue: a redis:// URL, or None for the in-process queue (printed redacted).
    pub queue: Option<SecretUrl>,
    pub queue_options: QueueOptions,
    pub provider: Arc<dyn Provider>,
    pub workers: WorkerOptions,
    /// What one `POST /loads` may ask for.
    pub request_limits: RequestLimits,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
}

/// Header read timeout by default (the server's).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = server::DEFAULT_HEADER_READ_TIMEOUT;

pub fn run(config: ServeConfig) -> anyhow::Result<()> {
    server::check_exposure(config.listen, config.token.as_deref())?;
    // Without a token only loopback `Host` names are served (see `ServeLimits`).
    let serve_limits = server::ServeLimits {
        header_read_timeout: config.header_read_timeout,
        ..server::ServeLimits::for_token(config.token.as_deref())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        // First thing: a SIGTERM while plugins compile must not kill the process outright.
        let stop = crate::shutdown::listen();
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let plugin_dir = config.plugins.clone();
        let runtime_options = config.runtime.clone();
        let token = config.token.clone();
        let debounce = config.debounce;
        // Loading plugins compiles wasm and calls it: not work for an async worker.
        let assembled = tokio::task::spawn_blocking(move || {
            server::assemble(runtime_options, plugin_dir.as_deref(), token, debounce)
        })
        .await??;
        let server::Assembled { state, watcher: _watcher } = assembled;
        let calendars = state.registry.names(PluginKind::Calendar).join(", ");

        // The load engine: a store, a queue, workers that run until shutdown, and the
        // load routes, with every job event feeding the metrics; loads are read from the
        // store's ledger, which every worker process writes.
        // The store's and the queue's errors name their location redacted themselves.
        let location = config.store.clone();
        let store = crate::store::Store::open(location.expose()).await?;
        let queue = Queue::open(config.queue.as_ref().map(SecretUrl::expose), config.queue_options.clone())
            .await
            .with_context(|| match &config.queue {
                Some(url) => format!("opening the queue {url}"),
                None => "opening the in-process queue".to_string(),
            })?;
        let metrics = state.metrics.clone();
        let observer: crate::worker::JobObserver =
            Arc::new(move |event: &JobEvent<'_>| record_job_metrics(&metrics, event));
        let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
        let (_no_more, no_more_jobs) = tokio::sync::watch::channel(false);
        let worker_counters = Arc::new(WorkerCounters::default());
        let worker_context = WorkerContext {
            registry: state.registry.clone(),
            store: store.clone(),
            provider: config.provider.clone(),
            queue: queue.clone(),
            counters: worker_counters.clone(),
            observer: Some(observer),
        };
        let workers = tokio::spawn(crate::worker::run_workers(
            worker_context,
            config.workers.clone(),
            workers_stop,
            no_more_jobs,
        ));
        let depth_metrics = state.metrics.clone();
        let depth_queue = queue.clone();
        // `load finished` lines for loads any process ends (the ledger knows).
        let finish_task = tokio::spawn(crate::load::log::watch_finishes(store.clone(), Duration::from_secs(1)));
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
        let datasets = server::datasets::DatasetsState { registry: state.registry.clone(), store: store.clone() };
        let loads = LoadsState {
            registry: state.registry.clone(),
            store: store.clone(),
            queue,
            limits: config.request_limits,
            planning: Arc::new(tokio::sync::Semaphore::new(server::loads::DEFAULT_CONCURRENT_PLANS)),
        };
        let state = server::ServerState { store: Some(store.clone()), ..state };
        let state_console = state.console.clone();
        let app = server::router(state.clone())
            .merge(server::loads::routes(loads, state))
            .merge(server::datasets::routes(datasets));

        tracing::info!(
            "tickstock serve: listening on http://{} (calendars: {calendars}; store {location}; queue {})",
            listener.local_addr()?,
            config.queue.as_ref().map_or_else(|| "in-process".to_string(), SecretUrl::to_string)
        );
        // The console's event streams end first, so the graceful shutdown has no
        // never-ending response to wait for.
        let console = state_console;
        let shutdown = async move {
            crate::shutdown::requested(stop).await;
            console.close();
        };
        let served = server::run(listener, app, serve_limits, shutdown).await.context("serving the admin API");
        // Stop taking jobs, let those in flight finish and commit, then close the store.
        tracing::info!("{}", worker_counters.stopping_notice());
        let _ = stop_workers.send(true);
        depth_task.abort();
        finish_task.abort();
        if let Ok(Ok(summary)) = workers.await {
            tracing::info!(jobs_done = summary.jobs_done, rows_written = summary.rows_written, "workers stopped");
        }
        store.close().await;
        served
    })
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
