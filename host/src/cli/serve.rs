//! `tickstock serve`: the long-running host. Loads the built-in plugins and the
//! `--plugins` folder, watches the folder, and serves the admin API until Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::GlobalOptions;
use crate::load::LoadBoard;
use crate::metrics::{BreakerState, JobOutcome, Metrics};
use crate::plugin::PluginKind;
use crate::queue::JobQueue;
use crate::schedule::CircuitState;
use crate::server;
use crate::server::loads::LoadsState;
use crate::worker::{JobEvent, WorkerContext, WorkerCounters};

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
    server::check_exposure(args.listen, args.token.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let plugin_dir = options.plugins.clone();
        let runtime_options = options.runtime_options();
        let token = args.token.clone();
        let debounce = Duration::from_millis(args.watch_debounce_ms);
        // Loading plugins compiles wasm and calls it: not work for an async worker.
        let assembled = tokio::task::spawn_blocking(move || {
            server::assemble(runtime_options, plugin_dir.as_deref(), token, debounce)
        })
        .await??;
        let server::Assembled { state, watcher: _watcher } = assembled;
        let calendars = state.registry.names(PluginKind::Calendar).join(", ");

        // The load engine: a store, a queue, workers that run until shutdown, and the
        // load routes, with every job event feeding the board and the metrics.
        let location = args.db.clone().unwrap_or_else(crate::store::default_location);
        let store =
            crate::store::Store::open(&location).await.with_context(|| format!("opening the store {location}"))?;
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
            limits: crate::api::load::RequestLimits::default(),
        };
        let app = server::router(state.clone()).merge(server::loads::routes(loads, state));

        eprintln!(
            "tickstock serve: listening on http://{} (calendars: {calendars}; store {location}; queue {})",
            listener.local_addr()?,
            args.queue.queue.as_deref().unwrap_or("in-process")
        );
        let served = server::run(listener, app, shutdown_signal()).await.context("serving the admin API");
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
