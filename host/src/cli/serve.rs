//! `tickstock serve`: the long-running host. Loads the built-in plugins and the
//! `--plugins` folder, watches the folder, and serves the admin API until Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::GlobalOptions;
use crate::metrics::Metrics;
use crate::plugin::{PluginKind, Registry, Runtime, RuntimeOptions};
use crate::server::{self, ServerState};
use crate::watch::{FolderWatcher, PluginFolder};

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
        let assembled =
            tokio::task::spawn_blocking(move || assemble(runtime_options, plugin_dir.as_deref(), token, debounce)).await??;
        let Assembled { state, watcher: _watcher } = assembled;
        let calendars = state.registry.names(PluginKind::Calendar).join(", ");
        // Seam for the load engine: build its state from `state.metrics` (and --db,
        // --queue), start its workers here, and merge its routes (`POST /loads`,
        // `GET /loads/{id}`) behind `server::require_token` into `app`.
        let app = server::router(state);
        eprintln!("tickstock serve: listening on http://{} (calendars: {calendars})", listener.local_addr()?);
        server::run(listener, app, shutdown_signal()).await.context("serving the admin API")
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
