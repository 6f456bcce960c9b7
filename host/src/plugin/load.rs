//! From bytes to a candidate generation: header checks, sha256, compile (or cached
//! artifact), world detection and type-check (`InstancePre`), and the `describe` smoke
//! call. Kind-specific gates (a calendar must build its current years) run in the
//! registry before a candidate is published.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::bindings::calendar_world::tickstock::plugins::types as wit_types;
use super::bindings::{calendar_world, policy_world, profile_world};
use super::error::{CallError, PluginId, PluginLoadError};
pub use super::kind::PluginKind;
use super::limits;
use super::pool::InstancePool;
use super::runtime::Runtime;
use super::sandbox::{self, CallTarget, InvalidAnswer};
use super::state::CallState;
use crate::calendar::Calendar;

/// The identity a plugin reports from `describe`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub kind: PluginKind,
    pub name: String,
    pub version: String,
    pub description: String,
}

/// Where a plugin's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the binary; the artifact's file name.
    Builtin(&'static str),
    /// A file in a plugin folder or given on the command line.
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(file_name) => write!(f, "built-in ({file_name})"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The world-specific pre-linked component: type-checked once, instantiated whenever the
/// pool has no idle instance.
pub(crate) enum WorldPre {
    Calendar(calendar_world::CalendarPluginPre<CallState>),
    Policy(policy_world::BatchPolicyPluginPre<CallState>),
    Profile(profile_world::RefreshProfilePluginPre<CallState>),
}

impl WorldPre {
    fn instantiate(&self, store: &mut wasmtime::Store<CallState>) -> wasmtime::Result<WorldInstance> {
        Ok(match self {
            WorldPre::Calendar(pre) => WorldInstance::Calendar(pre.instantiate(store)?),
            WorldPre::Policy(pre) => WorldInstance::Policy(pre.instantiate(store)?),
            WorldPre::Profile(pre) => WorldInstance::Profile(pre.instantiate(store)?),
        })
    }
}

/// The error of a call made on a plugin of another world. The registry keeps plugins
/// by kind, so this is a host bug, reported as the call's failure rather than a panic.
pub(crate) fn wrong_world(function: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("`{function}` called on a plugin of another world"))
}

/// An instance of a plugin, with the typed exports of its world.
pub(crate) enum WorldInstance {
    Calendar(calendar_world::CalendarPlugin),
    Policy(policy_world::BatchPolicyPlugin),
    Profile(profile_world::RefreshProfilePlugin),
}

/// What a call needs: the runtime, the pre-linked component, the instances kept between
/// calls, and a label for errors.
pub struct Callable {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) pre: WorldPre,
    /// Instances of this generation waiting for the next call (`pool.rs`).
    pub(crate) pool: InstancePool<WorldInstance>,
    /// Who the plugin is once described.
    id: std::sync::OnceLock<PluginId>,
    /// Who it is before: its origin.
    unnamed: PluginId,
    /// Set when the generation is published; 0 for a candidate.
    generation: AtomicU64,
    /// Calls, failures and the last failure of this generation (`plugins list`).
    pub(crate) stats: super::call_stats::CallStats,
}

impl Callable {
    /// Who the plugin is, as errors and metrics name it.
    pub fn id(&self) -> &PluginId {
        self.id.get().unwrap_or(&self.unnamed)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    pub(crate) fn set_generation(&self, number: u64) {
        self.generation.store(number, Ordering::Relaxed);
    }

    /// Runs one sandboxed call of `function`.
    pub(crate) fn call<R>(
        &self,
        function: &'static str,
        body: impl FnOnce(&mut wasmtime::Store<CallState>, &WorldInstance) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.call_with_allowance(function, std::time::Duration::ZERO, body)
    }

    /// Runs one sandboxed call of `function` with `allowance` on top of the deadline.
    pub(crate) fn call_with_allowance<R>(
        &self,
        function: &'static str,
        allowance: std::time::Duration,
        body: impl FnOnce(&mut wasmtime::Store<CallState>, &WorldInstance) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let target = CallTarget { plugin: self.id(), generation: self.generation(), function, allowance };
        let outcome = sandbox::call(&self.runtime, &target, &self.pool, |store| self.pre.instantiate(store), body);
        self.stats.record(&outcome);
        outcome
    }

    /// Drops the instances kept for later calls, so the next call instantiates afresh
    /// (`tickstock bench plugins` measures that path with it).
    pub fn drop_idle_instances(&self) {
        self.pool.clear();
    }

    /// How many instances wait for the next call.
    pub fn idle_instances(&self) -> usize {
        self.pool.idle()
    }

    /// The `describe` export, whatever the world. The identity is checked against
    /// `limits` inside the call, so an oversized or malformed one is an invalid answer of
    /// `describe`, counted once like any other failed call.
    pub fn describe(&self) -> Result<Identity, CallError> {
        self.call("describe", |store, instance| {
            let identity = match instance {
                WorldInstance::Calendar(plugin) => plugin.call_describe(store)?,
                WorldInstance::Policy(plugin) => plugin.call_describe(store)?,
                WorldInstance::Profile(plugin) => plugin.call_describe(store)?,
            };
            check_identity(&identity).map_err(InvalidAnswer::error)?;
            let kind = match identity.kind {
                wit_types::PluginKind::Calendar => PluginKind::Calendar,
                wit_types::PluginKind::BatchPolicy => PluginKind::BatchPolicy,
                wit_types::PluginKind::RefreshProfile => PluginKind::RefreshProfile,
            };
            Ok(Identity { kind, name: identity.name, version: identity.version, description: identity.description })
        })
    }
}

/// Name, version and description within `limits`; the name is used in paths, URLs,
/// metric labels and log lines, so it stays plain.
fn check_identity(identity: &wit_types::Identity) -> Result<(), String> {
    limits::check_plain("`name`", &identity.name, limits::NAME_BYTES, false)?;
    limits::check_plain("`version`", &identity.version, limits::VERSION_BYTES, true)?;
    limits::check_text("`description`", &identity.description, limits::TEXT_BYTES)
}

/// One loaded plugin: a candidate until the registry publishes it, then a generation.
/// Immutable once published; calls in flight keep their `Arc<Generation>` alive, so a
/// swap never pulls a plugin out from under a running call.
pub struct Generation {
    pub identity: Identity,
    pub sha256: String,
    pub source: PluginSource,
    pub loaded_at: DateTime<Utc>,
    pub(crate) callable: Arc<Callable>,
    /// For calendar plugins: the engine built (and warmed) from this generation.
    pub(crate) calendar: Option<Arc<Calendar>>,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generation")
            .field("identity", &self.identity)
            .field("number", &self.number())
            .field("sha256", &self.sha256)
            .field("source", &self.source)
            .field("loaded_at", &self.loaded_at)
            .finish_non_exhaustive()
    }
}

impl Generation {
    pub fn kind(&self) -> PluginKind {
        self.identity.kind
    }

    pub fn name(&self) -> &str {
        &self.identity.name
    }

    pub fn number(&self) -> u64 {
        self.callable.generation()
    }

    pub fn callable(&self) -> &Arc<Callable> {
        &self.callable
    }

    /// The calendar engine of a calendar plugin's generation.
    pub fn calendar(&self) -> Option<&Arc<Calendar>> {
        self.calendar.as_ref()
    }
}

/// Reads a plugin file, refusing anything that is not a regular file.
pub fn read_plugin_file(path: &Path) -> Result<Vec<u8>, PluginLoadError> {
    let metadata =
        std::fs::metadata(path).map_err(|source| PluginLoadError::Io { path: path.to_path_buf(), source })?;
    if !metadata.is_file() {
        return Err(PluginLoadError::NotAFile { path: path.to_path_buf() });
    }
    std::fs::read(path).map_err(|source| PluginLoadError::Io { path: path.to_path_buf(), source })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks, compiles, type-checks and describes `bytes`. The result has not gone live.
pub fn prepare(runtime: &Arc<Runtime>, bytes: &[u8], source: PluginSource) -> Result<Generation, PluginLoadError> {
    let origin = source.to_string();
    check_header(bytes, &origin)?;
    let sha256 = sha256_hex(bytes);
    let component = compile(runtime, bytes, &sha256, &origin)?;
    let pre = link(runtime, &component, &origin)?;
    let world_kind = match &pre {
        WorldPre::Calendar(_) => PluginKind::Calendar,
        WorldPre::Policy(_) => PluginKind::BatchPolicy,
        WorldPre::Profile(_) => PluginKind::RefreshProfile,
    };
    let callable = Arc::new(Callable {
        runtime: runtime.clone(),
        pre,
        pool: InstancePool::default(),
        id: std::sync::OnceLock::new(),
        unnamed: PluginId::Unnamed { origin: origin.clone() },
        generation: AtomicU64::new(0),
        stats: super::call_stats::CallStats::default(),
    });
    let identity = callable.describe().map_err(|error| PluginLoadError::Gate { origin: origin.clone(), error })?;
    if identity.kind != world_kind {
        return Err(PluginLoadError::KindMismatch {
            origin,
            declared: identity.kind.to_string(),
            world: world_kind.world(),
        });
    }
    let _ = callable.id.set(PluginId::named(identity.kind, identity.name.clone()));
    Ok(Generation { identity, sha256, source, loaded_at: Utc::now(), callable, calendar: None })
}

/// The first eight bytes tell a component (layer 1) from a core module (layer 0) and
/// from anything that is not WebAssembly at all; the better error is worth the check.
fn check_header(bytes: &[u8], origin: &str) -> Result<(), PluginLoadError> {
    if bytes.is_empty() {
        return Err(PluginLoadError::Empty { origin: origin.to_string() });
    }
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        if bytes.len() < 8 && b"\0asm".starts_with(&bytes[..bytes.len().min(4)]) {
            return Err(PluginLoadError::Truncated {
                origin: origin.to_string(),
                detail: format!("only {} bytes", bytes.len()),
            });
        }
        return Err(PluginLoadError::NotWasm { origin: origin.to_string() });
    }
    match &bytes[4..8] {
        [0x01, 0x00, 0x00, 0x00] => Err(PluginLoadError::CoreModule { origin: origin.to_string() }),
        [_, _, 0x01, 0x00] => Ok(()),
        other => Err(PluginLoadError::InvalidComponent {
            origin: origin.to_string(),
            detail: format!("unknown WebAssembly version/layer {other:02x?}"),
        }),
    }
}

fn compile(runtime: &Runtime, bytes: &[u8], sha256: &str, origin: &str) -> Result<Component, PluginLoadError> {
    if let Some(cache) = &runtime.cache
        && let Some(component) = cache.get(&runtime.engine, sha256)
    {
        return Ok(component);
    }
    // Component::new validates the whole binary before compiling any of it, so a file
    // cut short anywhere is caught here, not half-way through a call.
    let component = Component::new(&runtime.engine, bytes).map_err(|error| {
        let detail = format!("{error:#}");
        if detail.contains("unexpected end") || detail.contains("end of file") || detail.contains("out of bounds") {
            PluginLoadError::Truncated { origin: origin.to_string(), detail }
        } else {
            PluginLoadError::InvalidComponent { origin: origin.to_string(), detail }
        }
    })?;
    if let Some(cache) = &runtime.cache {
        cache.put(sha256, &component);
    }
    Ok(component)
}

/// Finds the world from the component's exports, then type-checks every import and
/// export against it.
fn link(runtime: &Runtime, component: &Component, origin: &str) -> Result<WorldPre, PluginLoadError> {
    let exports: Vec<String> =
        component.component_type().exports(&runtime.engine).map(|(name, _)| name.to_string()).collect();
    let kind = PluginKind::ALL
        .into_iter()
        .find(|kind| exports.iter().any(|export| export.starts_with(kind.interface_export())))
        .ok_or_else(|| PluginLoadError::UnknownWorld {
            origin: origin.to_string(),
            exports: if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") },
        })?;
    let mismatch = |error: wasmtime::Error| PluginLoadError::WorldMismatch {
        origin: origin.to_string(),
        world: kind.world(),
        detail: format!("{error:#}"),
    };
    let instance_pre = runtime.linker.instantiate_pre(component).map_err(mismatch)?;
    Ok(match kind {
        PluginKind::Calendar => {
            WorldPre::Calendar(calendar_world::CalendarPluginPre::new(instance_pre).map_err(mismatch)?)
        }
        PluginKind::BatchPolicy => {
            WorldPre::Policy(policy_world::BatchPolicyPluginPre::new(instance_pre).map_err(mismatch)?)
        }
        PluginKind::RefreshProfile => {
            WorldPre::Profile(profile_world::RefreshProfilePluginPre::new(instance_pre).map_err(mismatch)?)
        }
    })
}
