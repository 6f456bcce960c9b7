//! Typed errors of the plugin runtime. A misbehaving plugin is always one of these values,
//! never a panic or a crash of the host: `CallError` for a failed call into a live (or
//! candidate) plugin, `PluginLoadError` for a plugin that never went live.

use std::path::PathBuf;

use super::kind::PluginKind;
use std::time::Duration;

/// Why a call into a plugin failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The call ran past its wall-clock deadline and was interrupted.
    DeadlineExceeded { deadline: Duration },
    /// The plugin tried to grow its memory past the cap.
    MemoryLimit { cap_bytes: u64 },
    /// The plugin trapped (a panic, an unreachable, a bad memory access...).
    Trap { message: String },
    /// The plugin answered, but the answer breaks the contract (a month 13, an unknown
    /// timezone, a plan that does not cover every gap...).
    InvalidAnswer { reason: String },
    /// The plugin could not even be instantiated for the call.
    Instantiation { message: String },
}

impl CallFailure {
    /// A short stable label, used in metrics and logs: `deadline`, `memory`, `trap`,
    /// `invalid-answer`, `instantiation`.
    pub fn label(&self) -> &'static str {
        match self {
            CallFailure::DeadlineExceeded { .. } => "deadline",
            CallFailure::MemoryLimit { .. } => "memory",
            CallFailure::Trap { .. } => "trap",
            CallFailure::InvalidAnswer { .. } => "invalid-answer",
            CallFailure::Instantiation { .. } => "instantiation",
        }
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::DeadlineExceeded { deadline } => {
                write!(f, "ran past its deadline of {} ms and was stopped", deadline.as_millis())
            }
            CallFailure::MemoryLimit { cap_bytes } => {
                write!(f, "hit its memory cap of {} MiB", cap_bytes / (1024 * 1024))
            }
            CallFailure::Trap { message } => write!(f, "trapped: {message}"),
            CallFailure::InvalidAnswer { reason } => write!(f, "returned an invalid answer: {reason}"),
            CallFailure::Instantiation { message } => write!(f, "could not be instantiated: {message}"),
        }
    }
}

/// Who a plugin is, as errors, logs and metrics name it: typed, so nothing parses a
/// `kind/name` string back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PluginId {
    /// A plugin that described itself: its kind and name (shown `calendar/XNYS`).
    Named { kind: PluginKind, name: String },
    /// A plugin not described yet (its `describe` failed or has not run): where its bytes
    /// came from.
    Unnamed { origin: String },
}

impl PluginId {
    pub fn named(kind: PluginKind, name: impl Into<String>) -> PluginId {
        PluginId::Named { kind, name: name.into() }
    }

    /// The registry slot a named plugin belongs to.
    pub fn slot(&self) -> Option<(PluginKind, &str)> {
        match self {
            PluginId::Named { kind, name } => Some((*kind, name.as_str())),
            PluginId::Unnamed { .. } => None,
        }
    }
}

impl std::fmt::Display for PluginId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginId::Named { kind, name } => write!(f, "{kind}/{name}"),
            PluginId::Unnamed { origin } => f.write_str(origin),
        }
    }
}

/// A failed call, naming the plugin, its generation and the function called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin} (generation {generation}) {failure} in `{function}`")]
pub struct CallError {
    /// `calendar/XNYS`, or the origin of a plugin not yet described.
    pub plugin: PluginId,
    /// The generation the call ran on (0 for a candidate that never went live).
    pub generation: u64,
    /// The exported function, e.g. `special-days`.
    pub function: &'static str,
    pub failure: CallFailure,
}

/// Why a plugin could not be loaded. The previous generation, if any, keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a file")]
    NotAFile { path: PathBuf },
    #[error("{origin}: empty file")]
    Empty { origin: String },
    #[error("{origin}: not WebAssembly (no `\\0asm` header)")]
    NotWasm { origin: String },
    #[error(
        "{origin}: a core WebAssembly module, not a component; build the plugin for wasm32-wasip2 with wit-bindgen"
    )]
    CoreModule { origin: String },
    #[error("{origin}: truncated component (the file ends early; was it still being copied?): {detail}")]
    Truncated { origin: String, detail: String },
    #[error("{origin}: invalid component: {detail}")]
    InvalidComponent { origin: String, detail: String },
    #[error(
        "{origin}: implements none of tickstock's worlds (calendar-plugin, batch-policy-plugin, refresh-profile-plugin at tickstock:plugins@0.1.x); it exports: {exports}"
    )]
    UnknownWorld { origin: String, exports: String },
    #[error("{origin}: does not fit the {world} world: {detail}")]
    WorldMismatch { origin: String, world: &'static str, detail: String },
    #[error("{origin}: describe says kind `{declared}` but the component implements the {world} world")]
    KindMismatch { origin: String, declared: String, world: &'static str },
    #[error("{origin}: bad identity: {reason}")]
    BadIdentity { origin: String, reason: String },
    #[error("{origin}: refused before going live ({plugin}): {reason}")]
    Refused { origin: String, plugin: PluginId, reason: String },
    /// The call error is printed here, not chained as a source: a chain printed with
    /// `{:#}` would then say the cause twice on one line.
    #[error("{origin}: refused by the load gate: {error}")]
    Gate { origin: String, error: CallError },
}
