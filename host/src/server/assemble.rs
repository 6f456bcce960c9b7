//! What `tickstock serve` serves, put together: a runtime whose calls feed the metrics,
//! the built-in plugins, and the plugin folder, watched. `bench serve` assembles the same
//! way. Depends on `plugin`, `metrics` and `watch`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::ServerState;
use crate::metrics::Metrics;
use crate::plugin::{Registry, Runtime, RuntimeOptions};
use crate::watch::{FolderWatcher, PluginFolder};

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
            if let crate::watch::FileOutcome::Failed { file, message, serving } = outcome {
                tracing::warn!(%file, "plugin file refused; {serving}: {message}");
            }
        }
        state.folder = Some(folder);
    }
    // One line per slot: what serves it, so the log at start says exactly what this
    // process has, whatever an earlier run had.
    for entry in registry.list() {
        let source = if entry.builtin { "built-in" } else { entry.source.as_str() };
        tracing::info!(
            plugin = %format!("{}/{}", entry.kind, entry.name),
            generation = entry.generation,
            version = %entry.version,
            sha256 = %entry.sha256,
            source,
            "serving"
        );
    }
    Ok(Assembled { state, watcher })
}
