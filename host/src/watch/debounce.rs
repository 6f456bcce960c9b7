//! The watcher that turns file-system events on the plugin folder into folder actions:
//! events are debounced per file name, and a file is handed to `PluginFolder` once it
//! arrived by rename or was closed and stayed stable (the rules are in the module docs of
//! `watch`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::folder::{FileOutcome, PluginFolder, WatchError};
use super::is_plugin_file_name;
use super::pins::PINS_FILE_NAME;

/// How long a file written in place must be left alone (closed, same size and mtime)
/// before it is loaded. 150 ms: long enough to stitch a burst of writes together.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

/// How long a file that arrived by rename waits before it is loaded (the debounce, if
/// that is shorter). A rename publishes a whole file at once, so there is no burst to
/// wait out: this only gathers the events of one `mv` (the kernel reports its two halves
/// together) and a write that follows at once, which turns the file back into one
/// written in place. It is most of why a swap takes a compile and not a debounce.
pub const RENAME_SETTLE: Duration = Duration::from_millis(20);

/// The longest the loop sleeps with nothing pending: it wakes only for events then, and
/// this bounds how late it notices that the event channel closed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

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
            .map_err(|source| WatchError::Notify { path: folder.dir().to_path_buf(), source })?;
        watcher
            .watch(folder.dir(), RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Notify { path: folder.dir().to_path_buf(), source })?;
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

impl PendingFile {
    /// When the file may be loaded (if it is still as it was).
    fn due(&self, debounce: Duration) -> Instant {
        let wait = if self.arrived_by_rename { RENAME_SETTLE.min(debounce) } else { debounce };
        self.last_event + wait
    }
}

/// How long the loop may sleep: until the first pending file or rescan is due, and at
/// most `IDLE_WAIT`. A file still open for writing waits for its close event, which wakes
/// the loop, so it sets no time; it is looked at again after one debounce all the same.
fn next_wake(
    pending: &BTreeMap<PathBuf, PendingFile>,
    pins_changed_at: Option<Instant>,
    debounce: Duration,
    now: Instant,
) -> Duration {
    let files = pending.values().map(|file| if file.open_for_writing { now + debounce } else { file.due(debounce) });
    let rescan = pins_changed_at.map(|at| at + debounce);
    match files.chain(rescan).min() {
        Some(due) => due.saturating_duration_since(now).min(IDLE_WAIT),
        None => IDLE_WAIT,
    }
}

fn debounce_loop(folder: &PluginFolder, events: &Receiver<notify::Result<notify::Event>>, debounce: Duration) {
    let mut pending: BTreeMap<PathBuf, PendingFile> = BTreeMap::new();
    let mut pins_changed_at: Option<Instant> = None;
    loop {
        let wait = next_wake(&pending, pins_changed_at, debounce, Instant::now());
        match events.recv_timeout(wait) {
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
        let ready: Vec<PathBuf> =
            pending.iter().filter(|(_, file)| now >= file.due(debounce)).map(|(path, _)| path.clone()).collect();
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
        let path = folder.dir().join(name);
        if name == PINS_FILE_NAME {
            *pins_changed_at = Some(now);
            continue;
        }
        if !is_plugin_file_name(name) {
            continue;
        }
        // Reading a file (our own load, a backup, `sha256sum`) changes nothing: only a
        // close after writing says something about its content. Reacting to reads made
        // every load of a file schedule the next one.
        if matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write)) {
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
            FileOutcome::Loaded { file, plugin, generation, calendar_changes } => {
                // `changed_dates`: the calendar diff's count (its dates are on the line
                // logged before the swap); absent for other kinds and first loads.
                tracing::info!(%file, %plugin, generation, changed_dates = *calendar_changes, "plugin file loaded")
            }
            FileOutcome::Failed { file, message, serving } => {
                tracing::warn!(%file, "plugin file refused; {serving}: {message}")
            }
            FileOutcome::Unchanged { .. } | FileOutcome::StillRefused { .. } | FileOutcome::Removed { .. } => {}
        }
    }
}
