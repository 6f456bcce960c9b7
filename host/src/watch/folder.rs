//! What a file in the plugin folder means for the registry: `PluginFolder` loads, removes
//! and rescans files (checking pins first), and logs what a calendar's new generation
//! changes before it goes live. Used by the debounced watcher, by `POST /plugins/reload`,
//! and by every command given `--plugins`.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::is_plugin_file_name;
use super::pins::{check_pin, read_pins};
use crate::diff;
use crate::metrics::Metrics;
use crate::plugin::{Generation, PluginKind, PluginLoadError, PluginSource, Registry, load};

/// A calendar's changes are computed and logged over this many months from today.
const CALENDAR_DIFF_MONTHS: u32 = 24;

/// Swaps kept for `GET /plugins/swaps`, newest last; older ones are dropped.
pub const MAX_SWAPS_KEPT: usize = 100;

/// Special-day changes kept with one swap; the count is always whole.
pub const MAX_CHANGES_KEPT: usize = 200;

/// A generation as a swap names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationRef {
    pub generation: u64,
    pub version: String,
    pub sha256: String,
    /// The file, or `built-in (name.wasm)`.
    pub source: String,
}

impl GenerationRef {
    fn of(generation: &Generation) -> GenerationRef {
        GenerationRef {
            generation: generation.number(),
            version: generation.identity.version.clone(),
            sha256: generation.sha256.clone(),
            source: generation.source.to_string(),
        }
    }
}

/// One change of what serves a slot, made by the folder: what went out, what came in,
/// and, for a calendar, which special days of the next 24 months differ.
#[derive(Debug, Clone, Serialize)]
pub struct SwapRecord {
    pub at: DateTime<Utc>,
    /// `kind/name`.
    pub plugin: String,
    pub file: String,
    /// `loaded` (a file's new generation went live), `removed` (its file went away) or
    /// `rolled-back` (an operator put the built-in back).
    pub action: &'static str,
    pub from: Option<GenerationRef>,
    pub to: Option<GenerationRef>,
    /// How many special days differ (calendars), None when there was nothing to compare.
    pub changed_dates: Option<usize>,
    /// The first `MAX_CHANGES_KEPT` of them, by date.
    pub changes: Vec<crate::diff::SpecialDayChange>,
}

/// Why a roll-back to the built-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("no plugin {0} is live")]
    NotLive(String),
    #[error("{0} already serves its built-in")]
    AlreadyBuiltin(String),
    #[error("{plugin} has no built-in to roll back to; remove {file} from the folder to retire it")]
    NoBuiltin { plugin: String, file: String },
    #[error("{plugin} is served by {source_name}, which is not a file of this folder")]
    NotFromFolder { plugin: String, source_name: String },
    #[error("cannot set {file} aside: {source}")]
    Rename { file: String, source: std::io::Error },
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot watch {path}: {source}")]
    Notify { path: PathBuf, source: notify::Error },
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum FileOutcome {
    /// A new generation went live.
    Loaded { file: String, plugin: String, generation: u64, calendar_changes: Option<usize> },
    /// The live generation already has these bytes from this file.
    Unchanged { file: String, plugin: String },
    /// Refused. `serving` says what serves the plugin the file claimed to be now (a
    /// generation from an earlier version of the file, the built-in, or nothing), so the
    /// log never claims a generation the process does not have.
    Failed { file: String, message: String, serving: String },
    /// Refused before with these very bytes under this very pin manifest: not checked,
    /// logged or counted again (`POST /plugins/reload` checks it anew).
    StillRefused { file: String },
    /// The file is gone; its plugin was removed (or its built-in reinstated).
    Removed { file: String, plugin: Option<String> },
}

/// The plugin folder and what its files mean for the registry.
pub struct PluginFolder {
    dir: PathBuf,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    /// One folder action at a time (watcher and `POST /plugins/reload` alike), so a rescan
    /// never interleaves with a load of the same file and outcomes read in order. Plugin
    /// calls never take it.
    serial: Mutex<()>,
    /// Files refused, with what they were refused as. A file is checked once per content
    /// and pin manifest: a refusal is logged and counted once, not at every event the
    /// file's readers cause.
    refused: Mutex<HashMap<PathBuf, RefusedAs>>,
    /// The last `MAX_SWAPS_KEPT` swaps, oldest first.
    swaps: Mutex<VecDeque<SwapRecord>>,
    /// Swaps recorded since start (older ones included), so a watcher of the history can
    /// tell it changed without copying it.
    swaps_recorded: std::sync::atomic::AtomicU64,
}

/// What a refused file was when it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RefusedAs {
    /// sha256 of its bytes, or its size and mtime when it could not be read.
    content: String,
    /// sha256 of `pins.txt` then, None without one.
    pins: Option<String>,
}

impl RefusedAs {
    /// `sha256` is the file's, when it could be read (the caller has read it already).
    fn of(path: &Path, sha256: Option<&str>, dir: &Path) -> RefusedAs {
        let content = match sha256 {
            Some(sha256) => sha256.to_string(),
            None => match std::fs::metadata(path) {
                Ok(metadata) => format!("unreadable:{}:{:?}", metadata.len(), metadata.modified().ok()),
                Err(_) => "missing".to_string(),
            },
        };
        let pins = std::fs::read(dir.join(super::PINS_FILE_NAME)).ok().map(|bytes| load::sha256_hex(&bytes));
        RefusedAs { content, pins }
    }
}

impl PluginFolder {
    /// `dir` is made absolute so that event paths and load paths name files the same way
    /// (the registry matches a removed file by its path).
    pub fn new(dir: &Path, registry: Arc<Registry>, metrics: Arc<Metrics>) -> Result<PluginFolder, WatchError> {
        let dir = dir.canonicalize().map_err(|source| WatchError::Io { path: dir.to_path_buf(), source })?;
        Ok(PluginFolder {
            dir,
            registry,
            metrics,
            serial: Mutex::new(()),
            refused: Mutex::new(HashMap::new()),
            swaps: Mutex::new(VecDeque::new()),
            swaps_recorded: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Loads every plugin file whose bytes are not live yet, and removes the plugins of
    /// files that are gone. The outcomes, in file-name order.
    pub fn rescan(&self) -> Result<Vec<FileOutcome>, WatchError> {
        let _serial = self.serial.lock().unwrap_or_else(|poison| poison.into_inner());
        let entries =
            std::fs::read_dir(&self.dir).map_err(|source| WatchError::Io { path: self.dir.clone(), source })?;
        let mut present: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .map(|entry| entry.path())
            .filter(|path| path.file_name().and_then(|name| name.to_str()).is_some_and(is_plugin_file_name))
            .collect();
        present.sort();
        let mut outcomes: Vec<FileOutcome> = present.iter().map(|path| self.load_locked(path)).collect();
        let live_sources: Vec<PathBuf> = self
            .registry
            .list()
            .into_iter()
            .filter(|entry| !entry.builtin)
            .map(|entry| PathBuf::from(entry.source))
            .filter(|source| source.parent() == Some(self.dir.as_path()) && !present.contains(source))
            .collect();
        for gone in live_sources {
            outcomes.push(self.remove_locked(&gone));
        }
        Ok(outcomes)
    }

    /// Forgets every refusal and rescans: files refused before are checked anew (what
    /// `POST /plugins/reload` does).
    pub fn reload(&self) -> Result<Vec<FileOutcome>, WatchError> {
        self.refused.lock().unwrap_or_else(|poison| poison.into_inner()).clear();
        self.rescan()
    }

    /// The swaps this folder made, oldest first (at most `MAX_SWAPS_KEPT`).
    pub fn swaps(&self) -> Vec<SwapRecord> {
        self.swaps.lock().unwrap_or_else(|poison| poison.into_inner()).iter().cloned().collect()
    }

    /// How many swaps this folder has made since start: changes whenever `swaps` does.
    pub fn swaps_recorded(&self) -> u64 {
        self.swaps_recorded.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record_swap(&self, swap: SwapRecord) {
        let mut swaps = self.swaps.lock().unwrap_or_else(|poison| poison.into_inner());
        if swaps.len() == MAX_SWAPS_KEPT {
            swaps.pop_front();
        }
        swaps.push_back(swap);
        self.swaps_recorded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Puts a plugin's built-in back in place of the folder file serving it. The file is
    /// renamed to `<name>.wasm.rolled-back` (`.rolled-back-2`, ... when taken), which is not a
    /// plugin file name, so the roll-back outlives a restart and the bytes stay for a look;
    /// renaming it back rolls forward again.
    pub fn roll_back(&self, kind: PluginKind, name: &str) -> Result<FileOutcome, RollbackError> {
        let _serial = self.serial.lock().unwrap_or_else(|poison| poison.into_inner());
        let plugin = format!("{kind}/{name}");
        let live = self.registry.get(kind, name).ok_or_else(|| RollbackError::NotLive(plugin.clone()))?;
        let path = match &live.source {
            PluginSource::Builtin(_) => return Err(RollbackError::AlreadyBuiltin(plugin)),
            PluginSource::File(path) if path.parent() == Some(self.dir.as_path()) => path.clone(),
            PluginSource::File(path) => {
                return Err(RollbackError::NotFromFolder { plugin, source_name: path.display().to_string() });
            }
        };
        let file = path.display().to_string();
        if !self.registry.has_builtin(kind, name) {
            return Err(RollbackError::NoBuiltin { plugin, file });
        }
        let aside = (1..=100)
            .map(|n| {
                let suffix = if n == 1 { ".rolled-back".to_string() } else { format!(".rolled-back-{n}") };
                PathBuf::from(format!("{file}{suffix}"))
            })
            .find(|candidate| !candidate.exists())
            .ok_or_else(|| RollbackError::Rename {
                file: file.clone(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "100 rolled-back copies exist already"),
            })?;
        std::fs::rename(&path, &aside).map_err(|source| RollbackError::Rename { file: file.clone(), source })?;
        tracing::info!(%plugin, %file, aside = %aside.display(), "rolling back to the built-in");
        Ok(self.remove_as(&path, "rolled-back"))
    }

    /// Loads one file (see the module comment for pins and the calendar difference).
    pub fn load(&self, path: &Path) -> FileOutcome {
        let _serial = self.serial.lock().unwrap_or_else(|poison| poison.into_inner());
        self.load_locked(path)
    }

    /// The file is gone: its plugin goes, and a built-in of the same name comes back.
    pub fn remove(&self, path: &Path) -> FileOutcome {
        let _serial = self.serial.lock().unwrap_or_else(|poison| poison.into_inner());
        self.remove_locked(path)
    }

    fn load_locked(&self, path: &Path) -> FileOutcome {
        let file = path.display().to_string();
        // Read and hashed once: the refusal memo and the "already live" check share it.
        let sha256 = load::read_plugin_file(path).ok().map(|bytes| load::sha256_hex(&bytes));
        let refused_as = RefusedAs::of(path, sha256.as_deref(), &self.dir);
        {
            let mut refused = self.refused.lock().unwrap_or_else(|poison| poison.into_inner());
            match refused.get(path) {
                Some(before) if *before == refused_as => return FileOutcome::StillRefused { file },
                Some(_) => {
                    refused.remove(path);
                }
                None => {}
            }
        }
        // Skip bytes that are already live from this very file: a `touch`, or an editor
        // saving without a change, must not mint a new generation.
        if let Some(sha256) = &sha256
            && let Some(entry) =
                self.registry.list().into_iter().find(|entry| entry.source == file && &entry.sha256 == sha256)
        {
            return FileOutcome::Unchanged { file, plugin: format!("{}/{}", entry.kind, entry.name) };
        }
        let pins = read_pins(&self.dir);
        let mut calendar_changes = None;
        let mut replaced = None;
        let outcome = self.registry.load_file_with(path, |candidate, current| {
            check_pin(&pins, path, &candidate.sha256)?;
            calendar_changes = log_calendar_changes(candidate, current);
            replaced = current.map(GenerationRef::of);
            Ok(())
        });
        match outcome {
            Ok(generation) => {
                let plugin = format!("{}/{}", generation.kind(), generation.name());
                self.metrics.record_swap(&plugin, generation.number());
                let changed_dates = calendar_changes.as_ref().map(Vec::len);
                let mut changes = calendar_changes.unwrap_or_default();
                changes.truncate(MAX_CHANGES_KEPT);
                self.record_swap(SwapRecord {
                    at: Utc::now(),
                    plugin: plugin.clone(),
                    file: file.clone(),
                    action: "loaded",
                    from: replaced,
                    to: Some(GenerationRef::of(&generation)),
                    changed_dates,
                    changes,
                });
                FileOutcome::Loaded { file, plugin, generation: generation.number(), calendar_changes: changed_dates }
            }
            Err(error) => {
                let claimed = match &error {
                    PluginLoadError::Gate { error, .. } => Some(error.plugin.to_string()),
                    PluginLoadError::Refused { plugin, .. } => Some(plugin.to_string()),
                    _ => None,
                };
                self.metrics.record_load_failure(claimed.as_deref());
                let serving = self.serving_after_refusal(&file, claimed.as_deref());
                self.refused.lock().unwrap_or_else(|poison| poison.into_inner()).insert(path.to_path_buf(), refused_as);
                FileOutcome::Failed { file, message: error.to_string(), serving }
            }
        }
    }

    /// What serves, after `file` was refused: the generation an earlier version of this
    /// file made live, else the slot the file claimed (`kind/name`), else nothing.
    fn serving_after_refusal(&self, file: &str, claimed: Option<&str>) -> String {
        let live = self.registry.list();
        let describe = |entry: &crate::plugin::PluginEntry| {
            let origin = if entry.builtin { "the built-in".to_string() } else { entry.source.clone() };
            let short = entry.sha256.get(..12).unwrap_or(&entry.sha256);
            format!(
                "{}/{} generation {} from {origin} (sha256 {short}) keeps serving",
                entry.kind, entry.name, entry.generation
            )
        };
        if let Some(entry) = live.iter().find(|entry| entry.source == file) {
            return describe(entry);
        }
        if let Some(entry) =
            claimed.and_then(|plugin| live.iter().find(|entry| format!("{}/{}", entry.kind, entry.name) == plugin))
        {
            return describe(entry);
        }
        match claimed {
            Some(plugin) => format!("nothing serves {plugin}"),
            None => "nothing from this file is live".to_string(),
        }
    }

    fn remove_locked(&self, path: &Path) -> FileOutcome {
        self.remove_as(path, "removed")
    }

    /// Removes `path`'s plugin, recording the swap as `action`.
    fn remove_as(&self, path: &Path, action: &'static str) -> FileOutcome {
        let file = path.display().to_string();
        self.refused.lock().unwrap_or_else(|poison| poison.into_inner()).remove(path);
        let before = self
            .registry
            .list()
            .into_iter()
            .find(|entry| entry.source == file)
            .and_then(|entry| self.registry.get(entry.kind, &entry.name));
        let removed = self.registry.remove_file(path);
        if let Some((kind, name)) = &removed {
            let plugin = format!("{kind}/{name}");
            let after = self.registry.get(*kind, name);
            match &after {
                Some(builtin) => self.metrics.record_swap(&plugin, builtin.number()),
                None => self.metrics.set_generation(&plugin, 0),
            }
            let (changed_dates, mut changes) = match (&before, &after) {
                (Some(before), Some(after)) => match calendar_changes(after, before) {
                    Some(changes) => (Some(changes.len()), changes),
                    None => (None, Vec::new()),
                },
                _ => (None, Vec::new()),
            };
            changes.truncate(MAX_CHANGES_KEPT);
            self.record_swap(SwapRecord {
                at: Utc::now(),
                plugin: plugin.clone(),
                file: file.clone(),
                action,
                from: before.as_deref().map(GenerationRef::of),
                to: after.as_deref().map(GenerationRef::of),
                changed_dates,
                changes,
            });
            tracing::info!(file = %file, plugin = %plugin, action, "plugin file removed");
        }
        FileOutcome::Removed { file, plugin: removed.map(|(kind, name)| format!("{kind}/{name}")) }
    }
}

/// The special days that differ between two calendar generations over the next 24
/// months; None when either is not a calendar or they cannot be compared.
fn calendar_changes(candidate: &Generation, current: &Generation) -> Option<Vec<diff::SpecialDayChange>> {
    let (new, old) = (candidate.calendar()?, current.calendar()?);
    let from = Utc::now().date_naive();
    let to = diff::months_after(from, CALENDAR_DIFF_MONTHS);
    diff::special_day_changes(old, new, from, to).ok()
}

/// Logs what a new calendar generation changes over the next 24 months, before it goes
/// live; the changed dates, or None when there is nothing to compare.
fn log_calendar_changes(candidate: &Generation, current: Option<&Generation>) -> Option<Vec<diff::SpecialDayChange>> {
    let (new, old) = (candidate.calendar()?, current?.calendar()?);
    let from = Utc::now().date_naive();
    let to = diff::months_after(from, CALENDAR_DIFF_MONTHS);
    match diff::special_day_changes(old, new, from, to) {
        Ok(changes) => {
            let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
            tracing::info!(
                plugin = %format!("calendar/{}", candidate.name()),
                from_version = %current?.identity.version,
                to_version = %candidate.identity.version,
                changed_dates = changes.len(),
                "calendar changes over the next {CALENDAR_DIFF_MONTHS} months: {}",
                if lines.is_empty() { "none".to_string() } else { lines.join("; ") }
            );
            Some(changes)
        }
        Err(error) => {
            // Not a refusal: the gate already decided the candidate is sound for the
            // years it checks; a later year that fails will fail its queries, visibly.
            tracing::warn!(plugin = %format!("calendar/{}", candidate.name()), %error, "could not compare special days");
            None
        }
    }
}
