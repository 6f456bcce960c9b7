//! The plugin folder of `tickstock serve`: what a file in it means (`PluginFolder`: load,
//! remove, rescan, sha256 pins) and the watcher that turns file-system events into those
//! actions (`FolderWatcher`).
//!
//! The watcher watches the folder, not the files: inotify follows inodes, so a per-file
//! watch goes silent when an editor or `mv` replaces the file. Events are debounced per
//! file name by our own small loop over `notify` rather than by notify-debouncer-full:
//! the rule for *when* a file may be loaded needs more than "no event for a while", and
//! the debouncer would hide the events that rule is made of. A file is loaded when
//!
//! - it arrived by rename (the atomic way to publish a file: write `x.wasm.part`, then
//!   `mv x.wasm.part x.wasm`) and no event touched it for one debounce period; or
//! - it was written in place, no writer still has it open (on Linux, where inotify
//!   reports every close-after-write, a modification without a close since means a copy
//!   is still under way, however long it pauses), and its size and mtime stayed the same
//!   across one debounce period after its last event.
//!
//! Names that are not plugin files are ignored: dotfiles (rsync and many editors write
//! `.name.XXXXXX`), editor and download temp names (`~`, `.swp`, `.swx`, `.tmp`, `.part`,
//! `.crdownload`), and anything not ending in `.wasm`.
//!
//! Pins: when the folder holds `pins.txt`, every plugin file must be listed there with
//! the sha256 of its bytes, in `sha256sum` format (`<sha256>  <file name>` per line, `#`
//! comments), so `sha256sum *.wasm > pins.txt` writes one. A file that is not listed, or
//! whose bytes hash differently, is refused and the failure shows in `/plugins`. A
//! manifest with a malformed line refuses every load (fail closed). The manifest is read
//! at each load, and a change to it rescans the folder (a newly pinned file loads; a live
//! plugin whose pin was removed stays live until its file changes).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde::Serialize;

use crate::diff;
use crate::metrics::Metrics;
use crate::plugin::{Generation, LoadError, Registry, Runtime, RuntimeOptions, load};

/// The pin manifest's file name.
pub const PINS_FILE_NAME: &str = "pins.txt";

/// How long a file must be left alone before it is loaded. 150 ms: long enough to stitch
/// a rename's events and a burst of writes together, short enough for the < 250 ms
/// swap target.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

/// A calendar's changes are computed and logged over this many months from today.
const CALENDAR_DIFF_MONTHS: u32 = 24;

/// Suffixes of temp files written by editors, downloaders and copy tools.
const TEMP_SUFFIXES: [&str; 8] = ["~", ".swp", ".swx", ".tmp", ".part", ".partial", ".crdownload", ".download"];

/// Whether a file name in the folder names a plugin to load.
pub fn is_plugin_file_name(name: &str) -> bool {
    // The suffix list is redundant with the `.wasm` rule today; it is kept so that
    // `x.wasm.part` stays ignored if the accepted extensions ever grow.
    !name.starts_with('.') && !TEMP_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) && name.ends_with(".wasm")
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
    /// Refused; the previous generation (if any) keeps serving.
    Failed { file: String, message: String },
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
}

impl PluginFolder {
    /// `dir` is made absolute so that event paths and load paths name files the same way
    /// (the registry matches a removed file by its path).
    pub fn new(dir: &Path, registry: Arc<Registry>, metrics: Arc<Metrics>) -> Result<PluginFolder, WatchError> {
        let dir = dir.canonicalize().map_err(|source| WatchError::Io { path: dir.to_path_buf(), source })?;
        Ok(PluginFolder { dir, registry, metrics, serial: Mutex::new(()) })
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
        // Skip bytes that are already live from this very file: a `touch`, or an editor
        // saving without a change, must not mint a new generation.
        if let Ok(bytes) = load::read_plugin_file(path) {
            let sha256 = load::sha256_hex(&bytes);
            if let Some(entry) =
                self.registry.list().into_iter().find(|entry| entry.source == file && entry.sha256 == sha256)
            {
                return FileOutcome::Unchanged { file, plugin: format!("{}/{}", entry.kind, entry.name) };
            }
        }
        let pins = read_pins(&self.dir);
        let mut calendar_changes = None;
        let outcome = self.registry.load_file_with(path, |candidate, current| {
            check_pin(&pins, path, &candidate.sha256)?;
            calendar_changes = log_calendar_changes(candidate, current);
            Ok(())
        });
        match outcome {
            Ok(generation) => {
                let plugin = format!("{}/{}", generation.kind(), generation.name());
                self.metrics.record_swap(&plugin, generation.number());
                FileOutcome::Loaded { file, plugin, generation: generation.number(), calendar_changes }
            }
            Err(error) => {
                let claimed = match &error {
                    LoadError::Gate { source, .. } => Some(source.plugin.as_str()),
                    LoadError::Refused { plugin, .. } => Some(plugin.as_str()),
                    _ => None,
                };
                self.metrics.record_load_failure(claimed);
                FileOutcome::Failed { file, message: error.to_string() }
            }
        }
    }

    fn remove_locked(&self, path: &Path) -> FileOutcome {
        let file = path.display().to_string();
        let removed = self.registry.remove_file(path);
        if let Some((kind, name)) = &removed {
            let plugin = format!("{kind}/{name}");
            match self.registry.get(*kind, name) {
                Some(builtin) => self.metrics.record_swap(&plugin, builtin.number()),
                None => self.metrics.set_generation(&plugin, 0),
            }
            tracing::info!(file = %file, plugin = %plugin, "plugin file removed");
        }
        FileOutcome::Removed { file, plugin: removed.map(|(kind, name)| format!("{kind}/{name}")) }
    }
}

// ---- pins -------------------------------------------------------------------------------

/// The manifest as read: file name -> sha256, or why it cannot be trusted.
type Pins = Option<Result<HashMap<String, String>, String>>;

/// A registry with the built-in plugins, then `plugins_dir`'s files on top, read by the
/// same rules as `serve`'s watcher (editor temp files and dotfiles skipped, `pins.txt`
/// enforced). A file that fails to load is reported on stderr and skipped; the built-in of
/// the same name (if any) keeps serving. What every command line works with.
pub fn open_registry(plugins_dir: Option<&Path>, runtime: RuntimeOptions) -> anyhow::Result<Arc<Registry>> {
    use anyhow::Context as _;
    let runtime = Runtime::new(runtime)?;
    let registry = Arc::new(Registry::with_builtins(runtime).context("loading the built-in plugins")?);
    if let Some(dir) = plugins_dir {
        let folder = PluginFolder::new(dir, registry.clone(), Arc::new(Metrics::new()))?;
        for outcome in folder.rescan()? {
            if let FileOutcome::Failed { message, .. } = outcome {
                eprintln!("warning: {message}");
            }
        }
    }
    Ok(registry)
}

fn read_pins(dir: &Path) -> Pins {
    let path = dir.join(PINS_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(parse_pins(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => Some(Err(format!("{}: {error}", path.display()))),
    }
}

/// `sha256sum` format: `<64 hex>  <name>` or `<64 hex> *<name>` (binary mode), `#` comments.
pub fn parse_pins(text: &str) -> Result<HashMap<String, String>, String> {
    let mut pins = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("{PINS_FILE_NAME} line {}: expected `<sha256>  <file name>`, got {line:?}", index + 1);
        let (sha256, name) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let name = name.trim_start();
        let name = name.strip_prefix('*').unwrap_or(name);
        if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) || name.is_empty() {
            return Err(bad());
        }
        pins.insert(name.to_string(), sha256.to_ascii_lowercase());
    }
    Ok(pins)
}

fn check_pin(pins: &Pins, path: &Path, sha256: &str) -> Result<(), String> {
    let Some(pins) = pins else { return Ok(()) };
    let pins = pins.as_ref().map_err(|reason| format!("the pin manifest is unusable, so nothing loads: {reason}"))?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    match pins.get(&name) {
        None => Err(format!("{name} is not listed in {PINS_FILE_NAME}")),
        Some(pinned) if pinned != sha256 => {
            Err(format!("sha256 {sha256} does not match the pin {pinned} in {PINS_FILE_NAME}"))
        }
        Some(_) => Ok(()),
    }
}

/// Logs what a new calendar generation changes over the next 24 months, before it goes
/// live; the number of changed dates, or None when there is nothing to compare.
fn log_calendar_changes(candidate: &Generation, current: Option<&Generation>) -> Option<usize> {
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
            Some(changes.len())
        }
        Err(error) => {
            // Not a refusal: the gate already decided the candidate is sound for the
            // years it checks; a later year that fails will fail its queries, visibly.
            tracing::warn!(plugin = %format!("calendar/{}", candidate.name()), %error, "could not compare special days");
            None
        }
    }
}

// ---- the watcher --------------------------------------------------------------------------

/// A running watcher. Dropping it stops the watch and its thread.
pub struct FolderWatcher {
    // Held for its Drop: dropping the notify watcher closes the event channel, which ends
    // the debounce thread.
    _watcher: RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}

/// Whether inotify-style close-after-write events can be relied on to say a writer is
/// done. Elsewhere (FSEvents, kqueue, polling) only size and mtime stability count.
const CLOSE_EVENTS_RELIABLE: bool = cfg!(any(target_os = "linux", target_os = "android"));

#[derive(Debug)]
struct PendingFile {
    /// When the last event for this name arrived.
    last_event: Instant,
    /// (size, mtime) when the last event arrived; None when the file did not exist.
    fingerprint: Option<(u64, Option<SystemTime>)>,
    arrived_by_rename: bool,
    /// A write was seen and no close-after-write since (Linux only).
    open_for_writing: bool,
}

impl FolderWatcher {
    /// Starts watching `folder` (non-recursively). Start it before the first rescan, so
    /// that nothing landing during the rescan is missed.
    pub fn start(folder: Arc<PluginFolder>, debounce: Duration) -> Result<FolderWatcher, WatchError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(sender)
            .map_err(|source| WatchError::Notify { path: folder.dir.clone(), source })?;
        watcher
            .watch(&folder.dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Notify { path: folder.dir.clone(), source })?;
        let thread = std::thread::Builder::new()
            .name("tickstock-watch".into())
            .spawn(move || debounce_loop(&folder, &receiver, debounce))
            .map_err(|source| WatchError::Io { path: PathBuf::from("<watch thread>"), source })?;
        Ok(FolderWatcher { _watcher: watcher, _thread: thread })
    }
}

fn fingerprint(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    let metadata = std::fs::metadata(path).ok()?;
    metadata.is_file().then(|| (metadata.len(), metadata.modified().ok()))
}

fn debounce_loop(folder: &PluginFolder, events: &Receiver<notify::Result<notify::Event>>, debounce: Duration) {
    let mut pending: BTreeMap<PathBuf, PendingFile> = BTreeMap::new();
    let mut pins_changed_at: Option<Instant> = None;
    let tick = (debounce / 4).max(Duration::from_millis(5));
    loop {
        match events.recv_timeout(tick) {
            Ok(Ok(event)) => {
                if event.need_rescan() {
                    // The kernel dropped events (queue overflow): only a rescan is exact.
                    pins_changed_at = Some(Instant::now());
                }
                note_event(folder, &event, &mut pending, &mut pins_changed_at);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "plugin folder watch error; rescanning");
                pins_changed_at = Some(Instant::now());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if pins_changed_at.is_some_and(|at| now.duration_since(at) >= debounce) {
            pins_changed_at = None;
            match folder.rescan() {
                Ok(outcomes) => log_outcomes(&outcomes),
                Err(error) => tracing::warn!(%error, "plugin folder rescan failed"),
            }
        }
        let ready: Vec<PathBuf> = pending
            .iter()
            .filter(|(_, file)| now.duration_since(file.last_event) >= debounce)
            .map(|(path, _)| path.clone())
            .collect();
        for path in ready {
            let Some(file) = pending.get_mut(&path) else { continue };
            let current = fingerprint(&path);
            if current.is_none() {
                pending.remove(&path);
                log_outcomes(&[folder.remove(&path)]);
                continue;
            }
            if file.open_for_writing {
                // A copy is still under way: wait for its close, however long it pauses.
                continue;
            }
            if file.arrived_by_rename || file.fingerprint == current {
                pending.remove(&path);
                log_outcomes(&[folder.load(&path)]);
            } else {
                // Changed without an event we saw (or between event and stat): wait for
                // one more quiet period.
                file.fingerprint = current;
                file.last_event = now;
            }
        }
    }
}

fn note_event(
    folder: &PluginFolder,
    event: &notify::Event,
    pending: &mut BTreeMap<PathBuf, PendingFile>,
    pins_changed_at: &mut Option<Instant>,
) {
    let now = Instant::now();
    for (index, path) in event.paths.iter().enumerate() {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        // Event paths are under the (canonical) watched folder; rebuild them from the
        // name so they equal the paths the registry knows.
        let path = folder.dir.join(name);
        if name == PINS_FILE_NAME {
            *pins_changed_at = Some(now);
            continue;
        }
        if !is_plugin_file_name(name) {
            continue;
        }
        let file = pending.entry(path.clone()).or_insert(PendingFile {
            last_event: now,
            fingerprint: None,
            arrived_by_rename: false,
            open_for_writing: false,
        });
        file.last_event = now;
        file.fingerprint = fingerprint(&path);
        match event.kind {
            // For `Both`, paths are [from, to]: only the second arrived.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if index == 1 => {
                file.arrived_by_rename = true;
                file.open_for_writing = false;
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                file.arrived_by_rename = true;
                file.open_for_writing = false;
            }
            // A platform that does not say which side of the rename this is: if the
            // name exists now, something was renamed onto it.
            EventKind::Modify(ModifyKind::Name(RenameMode::Any)) if file.fingerprint.is_some() => {
                file.arrived_by_rename = true;
            }
            EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) if CLOSE_EVENTS_RELIABLE => {
                file.arrived_by_rename = false;
                file.open_for_writing = true;
            }
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => file.open_for_writing = false,
            EventKind::Create(_) => file.arrived_by_rename = false,
            _ => {}
        }
    }
}

fn log_outcomes(outcomes: &[FileOutcome]) {
    for outcome in outcomes {
        match outcome {
            FileOutcome::Loaded { file, plugin, generation, .. } => {
                tracing::info!(%file, %plugin, generation, "plugin file loaded")
            }
            FileOutcome::Failed { file, message } => {
                tracing::warn!(%file, "plugin file refused; the previous generation keeps serving: {message}")
            }
            FileOutcome::Unchanged { .. } | FileOutcome::Removed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_and_hidden_names_are_not_plugin_files() {
        assert!(is_plugin_file_name("xnys.wasm"));
        for name in [
            ".xnys.wasm",
            ".xnys.wasm.swp",
            "xnys.wasm~",
            "xnys.wasm.swp",
            "xnys.wasm.tmp",
            "xnys.wasm.part",
            "xnys.wasm.crdownload",
            ".xnys.wasm.Xa81k2",
            "pins.txt",
            "README.md",
        ] {
            assert!(!is_plugin_file_name(name), "{name}");
        }
    }

    #[test]
    fn pins_read_sha256sum_output_in_text_and_binary_mode() {
        let sha_a = "a".repeat(64);
        let sha_b = "B".repeat(64);
        let pins = parse_pins(&format!("# pinned\n{sha_a}  one.wasm\n\n{sha_b} *two.wasm\n")).unwrap();
        assert_eq!(pins.get("one.wasm"), Some(&sha_a));
        assert_eq!(pins.get("two.wasm"), Some(&"b".repeat(64)));
    }

    #[test]
    fn a_malformed_pin_line_makes_the_manifest_unusable() {
        let error = parse_pins("deadbeef  one.wasm\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn unpinned_and_mismatched_files_are_refused_when_a_manifest_exists() {
        let sha = "c".repeat(64);
        let pins: Pins = Some(Ok(HashMap::from([("one.wasm".to_string(), sha.clone())])));
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &sha).is_ok());
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &"d".repeat(64)).unwrap_err().contains("does not match"));
        assert!(check_pin(&pins, Path::new("/p/two.wasm"), &sha).unwrap_err().contains("not listed"));
        assert!(check_pin(&None, Path::new("/p/two.wasm"), &sha).is_ok());
    }
}
