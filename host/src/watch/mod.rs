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
//!   `mv x.wasm.part x.wasm`) and no event touched it for `RENAME_SETTLE` (20 ms; a
//!   rename brings a whole file, so there is no burst of writes to wait out); or
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
//!
//! Depends on `plugin`, `diff` and `metrics`; never on `server` or `cli`.

mod debounce;
mod folder;
mod pins;

use std::path::Path;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::plugin::{Registry, Runtime, RuntimeOptions};

pub use debounce::{DEFAULT_DEBOUNCE, FolderWatcher, RENAME_SETTLE};
pub use folder::{
    FileOutcome, GenerationRef, MAX_CHANGES_KEPT, MAX_SWAPS_KEPT, PluginFolder, RollbackError, SwapRecord, WatchError,
};
pub use pins::{PINS_FILE_NAME, parse_pins};

/// Suffixes of temp files written by editors, downloaders and copy tools.
const TEMP_SUFFIXES: [&str; 8] = ["~", ".swp", ".swx", ".tmp", ".part", ".partial", ".crdownload", ".download"];

/// Whether a file name in the folder names a plugin to load.
pub fn is_plugin_file_name(name: &str) -> bool {
    // The suffix list is redundant with the `.wasm` rule today; it is kept so that
    // `x.wasm.part` stays ignored if the accepted extensions ever grow.
    !name.starts_with('.') && !TEMP_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) && name.ends_with(".wasm")
}

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
            // A command line's warning, not a log line: the user asked for this folder.
            if let FileOutcome::Failed { message, .. } = outcome {
                eprintln!("warning: {message}");
            }
        }
    }
    Ok(registry)
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
}
