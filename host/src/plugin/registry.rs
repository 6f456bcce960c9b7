//! The registry of live plugins, keyed by (kind, name). Each key holds its current
//! generation behind an `ArcSwap`: publishing a new generation is one atomic pointer swap,
//! calls already running keep the `Arc` of the generation they started on, and new calls
//! see the new one. Nothing goes live before it passed `load::prepare` and the kind's
//! gate; a failure is recorded (and shown by `list`) while the previous generation keeps
//! serving.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use super::builtin::{BUILTINS, BuiltinPlugin};
use super::call_stats::CallSummary;
use super::error::{PluginId, PluginLoadError};
use super::load::{self, Generation, PluginKind, PluginSource};
use super::runtime::Runtime;
use crate::calendar::Calendar;
use crate::plan::{Gap, PlanLimits, PlanRequest, Tier, Timeframe};

/// One (kind, name): its current generation, its built-in fallback, its counter.
struct Slot {
    current: ArcSwapOption<Generation>,
    /// The built-in of this name, if there is one: it takes over again when the file that
    /// replaced it is removed.
    builtin: Mutex<Option<BuiltinPlugin>>,
    /// Generation numbers only grow, across swaps and reverts alike.
    last_number: Mutex<u64>,
}

/// The (kind, name) a failed load said it was, when it got as far as `describe`.
type ClaimedPlugin = Option<(PluginKind, String)>;

/// A load that failed, kept so that `list` and `/plugins` can show why.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    pub origin: String,
    pub at: DateTime<Utc>,
    pub message: String,
}

/// What `list` shows of a plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginEntry {
    pub kind: PluginKind,
    pub name: String,
    pub version: String,
    pub description: String,
    pub sha256: String,
    pub source: String,
    pub builtin: bool,
    pub generation: u64,
    pub loaded_at: DateTime<Utc>,
    /// The most recent failed load of a file that said it was this plugin, if any.
    pub last_error: Option<LoadFailure>,
    /// This generation's calls (the gate's included), failed calls, and the last failure.
    pub calls: CallSummary,
}

/// A failed load and the plugin (kind, name) it claimed to be, when it got as far as
/// `describe`.
type ClaimedFailure = (ClaimedPlugin, LoadFailure);

pub struct Registry {
    runtime: Arc<Runtime>,
    slots: RwLock<BTreeMap<(PluginKind, String), Arc<Slot>>>,
    /// Failed loads by origin (file path or built-in name), with the plugin they claimed
    /// to be when they got as far as `describe`.
    failures: Mutex<BTreeMap<String, ClaimedFailure>>,
    /// Serialises installs so two loads of the same plugin cannot interleave their gate
    /// and publish steps. Calls never take it.
    install_lock: Mutex<()>,
}

impl Registry {
    /// An empty registry.
    pub fn new(runtime: Arc<Runtime>) -> Registry {
        Registry {
            runtime,
            slots: RwLock::new(BTreeMap::new()),
            failures: Mutex::new(BTreeMap::new()),
            install_lock: Mutex::new(()),
        }
    }

    /// A registry with every built-in plugin live. A built-in that fails to load is a bug
    /// in this build, so it is an error rather than a logged failure.
    pub fn with_builtins(runtime: Arc<Runtime>) -> Result<Registry, PluginLoadError> {
        let registry = Registry::new(runtime);
        for builtin in BUILTINS {
            registry.install_bytes(builtin.bytes, PluginSource::Builtin(builtin.file_name))?;
        }
        Ok(registry)
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Loads a plugin file and, if it passes every check, publishes it as the next
    /// generation of its (kind, name).
    pub fn load_file(&self, path: &Path) -> Result<Arc<Generation>, PluginLoadError> {
        self.load_file_with(path, |_candidate, _current| Ok(()))
    }

    /// `load_file` with a last check of the caller's: `before_publish` sees the candidate
    /// (gated, its calendar built) and the generation it would replace, under the install
    /// lock, and may refuse it with a reason (`PluginLoadError::Refused`, recorded like any other
    /// failure). The folder watcher uses it to check sha256 pins against the very bytes
    /// loaded and to log a calendar's changes before they go live.
    pub fn load_file_with(
        &self,
        path: &Path,
        before_publish: impl FnOnce(&Generation, Option<&Generation>) -> Result<(), String>,
    ) -> Result<Arc<Generation>, PluginLoadError> {
        let origin = path.display().to_string();
        let outcome = load::read_plugin_file(path)
            .and_then(|bytes| self.install_bytes_with(&bytes, PluginSource::File(path.to_path_buf()), before_publish));
        self.record(&origin, &outcome);
        outcome
    }

    /// Takes away the plugin a removed file provided. The built-in of the same kind and
    /// name, if any, goes live again as a new generation; otherwise the plugin is gone.
    /// Returns the plugin affected, if the file provided one.
    pub fn remove_file(&self, path: &Path) -> Option<(PluginKind, String)> {
        let _install = self.install_lock.lock().unwrap_or_else(|poison| poison.into_inner());
        self.failures.lock().unwrap_or_else(|poison| poison.into_inner()).remove(&path.display().to_string());
        let slots = self.slots.read().unwrap_or_else(|poison| poison.into_inner());
        let (key, slot) = slots.iter().find(|(_, slot)| {
            slot.current
                .load()
                .as_ref()
                .is_some_and(|generation| generation.source == PluginSource::File(path.to_path_buf()))
        })?;
        let key = key.clone();
        let slot = slot.clone();
        drop(slots);
        let builtin = *slot.builtin.lock().unwrap_or_else(|poison| poison.into_inner());
        match builtin {
            Some(builtin) => {
                match load::prepare(&self.runtime, builtin.bytes, PluginSource::Builtin(builtin.file_name))
                    .and_then(|candidate| self.gate(candidate, &slot))
                {
                    Ok(candidate) => {
                        self.publish(&slot, candidate);
                    }
                    Err(error) => {
                        tracing::error!(%error, "could not reinstate the built-in plugin; it stays removed");
                        slot.current.store(None);
                    }
                }
            }
            None => slot.current.store(None),
        }
        Some(key)
    }

    /// Whether a built-in plugin of this kind and name ships in the binary (and so can
    /// serve the slot when its file goes).
    pub fn has_builtin(&self, kind: PluginKind, name: &str) -> bool {
        let slots = self.slots.read().unwrap_or_else(|poison| poison.into_inner());
        slots
            .get(&(kind, name.to_string()))
            .is_some_and(|slot| slot.builtin.lock().unwrap_or_else(|poison| poison.into_inner()).is_some())
    }

    /// The current generation of a plugin.
    pub fn get(&self, kind: PluginKind, name: &str) -> Option<Arc<Generation>> {
        let slots = self.slots.read().unwrap_or_else(|poison| poison.into_inner());
        slots.get(&(kind, name.to_string()))?.current.load_full()
    }

    /// The calendar engine of an exchange's current generation.
    pub fn calendar(&self, mic: &str) -> Option<Arc<Calendar>> {
        self.get(PluginKind::Calendar, mic)?.calendar().cloned()
    }

    /// Names of the live plugins of a kind, sorted.
    pub fn names(&self, kind: PluginKind) -> Vec<String> {
        let slots = self.slots.read().unwrap_or_else(|poison| poison.into_inner());
        slots
            .iter()
            .filter(|((slot_kind, _), slot)| *slot_kind == kind && slot.current.load().is_some())
            .map(|((_, name), _)| name.clone())
            .collect()
    }

    /// Every live plugin, by kind then name.
    pub fn list(&self) -> Vec<PluginEntry> {
        let failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        let slots = self.slots.read().unwrap_or_else(|poison| poison.into_inner());
        slots
            .iter()
            .filter_map(|(key, slot)| {
                let generation = slot.current.load_full()?;
                let last_error = failures
                    .values()
                    .filter(|(claimed, _)| claimed.as_ref() == Some(key))
                    .map(|(_, failure)| failure.clone())
                    .max_by_key(|failure| failure.at);
                Some(PluginEntry {
                    kind: generation.kind(),
                    name: generation.name().to_string(),
                    version: generation.identity.version.clone(),
                    description: generation.identity.description.clone(),
                    sha256: generation.sha256.clone(),
                    source: generation.source.to_string(),
                    builtin: matches!(generation.source, PluginSource::Builtin(_)),
                    generation: generation.number(),
                    loaded_at: generation.loaded_at,
                    last_error,
                    calls: generation.callable.stats.summary(),
                })
            })
            .collect()
    }

    /// Failed loads that are not (yet) replaced by a good load of the same origin.
    pub fn failures(&self) -> Vec<LoadFailure> {
        let failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        failures.values().map(|(_, failure)| failure.clone()).collect()
    }

    fn record(&self, origin: &str, outcome: &Result<Arc<Generation>, PluginLoadError>) {
        let mut failures = self.failures.lock().unwrap_or_else(|poison| poison.into_inner());
        match outcome {
            Ok(_) => {
                failures.remove(origin);
            }
            Err(error) => {
                // Debug, not info: whoever asked for the load reports the refusal once, with
                // what serves instead (the folder's log line, a CLI warning, `/plugins`).
                tracing::debug!(%error, "plugin not loaded");
                let claimed = claimed_identity(error);
                failures.insert(
                    origin.to_string(),
                    (claimed, LoadFailure { origin: origin.to_string(), at: Utc::now(), message: error.to_string() }),
                );
            }
        }
    }

    /// Prepares, gates and publishes. Used for built-ins and files alike.
    pub fn install_bytes(&self, bytes: &[u8], source: PluginSource) -> Result<Arc<Generation>, PluginLoadError> {
        self.install_bytes_with(bytes, source, |_candidate, _current| Ok(()))
    }

    /// `install_bytes` with the caller's `before_publish` check (see `load_file_with`).
    pub fn install_bytes_with(
        &self,
        bytes: &[u8],
        source: PluginSource,
        before_publish: impl FnOnce(&Generation, Option<&Generation>) -> Result<(), String>,
    ) -> Result<Arc<Generation>, PluginLoadError> {
        let candidate = load::prepare(&self.runtime, bytes, source.clone())?;
        let _install = self.install_lock.lock().unwrap_or_else(|poison| poison.into_inner());
        let slot = self.slot(candidate.kind(), candidate.name());
        if let PluginSource::Builtin(_) = source {
            let builtin = BUILTINS.iter().find(|b| PluginSource::Builtin(b.file_name) == source).copied();
            *slot.builtin.lock().unwrap_or_else(|poison| poison.into_inner()) = builtin;
        }
        let candidate = self.gate(candidate, &slot)?;
        let current = slot.current.load_full();
        before_publish(&candidate, current.as_deref()).map_err(|reason| PluginLoadError::Refused {
            origin: candidate.source.to_string(),
            plugin: PluginId::named(candidate.kind(), candidate.name()),
            reason,
        })?;
        Ok(self.publish(&slot, candidate))
    }

    fn slot(&self, kind: PluginKind, name: &str) -> Arc<Slot> {
        let mut slots = self.slots.write().unwrap_or_else(|poison| poison.into_inner());
        slots
            .entry((kind, name.to_string()))
            .or_insert_with(|| {
                Arc::new(Slot {
                    current: ArcSwapOption::empty(),
                    builtin: Mutex::new(None),
                    last_number: Mutex::new(0),
                })
            })
            .clone()
    }

    /// The kind's own checks, run on the candidate before it can go live.
    fn gate(&self, mut candidate: Generation, slot: &Slot) -> Result<Generation, PluginLoadError> {
        let origin = candidate.source.to_string();
        let gate_error = |error| PluginLoadError::Gate { origin: origin.clone(), error };
        match candidate.kind() {
            PluginKind::Calendar => {
                let (calendar, last_call_error) =
                    super::calendar::build_calendar_recording(&candidate.callable).map_err(gate_error)?;
                if calendar.mic() != candidate.name() {
                    return Err(PluginLoadError::BadIdentity {
                        origin,
                        reason: format!("describe names {} but info names {}", candidate.name(), calendar.mic()),
                    });
                }
                // Build, now, every year the current generation has built (so the swap
                // replaces the cached years at once) and this year and the next (so a
                // plugin that fails on them never goes live).
                let this_year = Utc::now().year();
                let mut years: Vec<i32> = vec![this_year, this_year + 1];
                if let Some(previous) = slot.current.load_full().and_then(|g| g.calendar().cloned()) {
                    years.extend(previous.cached_years());
                }
                let spec = calendar.spec();
                years.retain(|year| (spec.first_year..=spec.last_year).contains(year));
                years.sort_unstable();
                years.dedup();
                calendar.warm(years).map_err(|error| {
                    // A failed call is reported as the call failed (deadline, memory cap,
                    // trap or invalid answer), once; anything else the engine refused in
                    // the answer is the answer's fault.
                    let recorded = last_call_error.lock().unwrap_or_else(|poison| poison.into_inner()).take();
                    gate_error(recorded.unwrap_or_else(|| super::error::CallError {
                        plugin: candidate.callable.id().clone(),
                        generation: 0,
                        function: "special-days",
                        failure: super::error::CallFailure::InvalidAnswer { reason: engine_reason(&error) },
                    }))
                })?;
                candidate.calendar = Some(Arc::new(calendar));
            }
            PluginKind::BatchPolicy => {
                super::policy::plan(&candidate.callable, &sample_plan_request()).map_err(gate_error)?;
            }
            PluginKind::RefreshProfile => {
                let offered = super::profile::profiles(&candidate.callable).map_err(gate_error)?;
                self.check_profile_collisions(&candidate, &offered)?;
            }
        }
        Ok(candidate)
    }

    /// A profile's dataset is keyed by its name folded (`limits::dataset_key`), so two
    /// live plugins offering names that fold alike would write into one dataset. The
    /// candidate is refused when one of its profiles folds like a profile of another live
    /// refresh-profile plugin (the one it replaces excepted). The others' profiles are
    /// asked for now; one that fails to answer has no profiles to collide with.
    fn check_profile_collisions(
        &self,
        candidate: &Generation,
        offered: &[super::profile::Profile],
    ) -> Result<(), PluginLoadError> {
        let mut taken: HashMap<String, (String, String)> = HashMap::new();
        for name in self.names(PluginKind::RefreshProfile) {
            if name == candidate.name() {
                continue;
            }
            let Some(other) = self.get(PluginKind::RefreshProfile, &name) else { continue };
            let Ok(profiles) = super::profile::profiles(other.callable()) else { continue };
            for profile in profiles {
                taken.insert(super::limits::dataset_key(&profile.name), (name.clone(), profile.name));
            }
        }
        for profile in offered {
            if let Some((plugin, existing)) = taken.get(&super::limits::dataset_key(&profile.name)) {
                return Err(PluginLoadError::Refused {
                    origin: candidate.source.to_string(),
                    plugin: PluginId::named(candidate.kind(), candidate.name()),
                    reason: format!(
                        "profile {} shares its dataset with profile {existing} of refresh-profile/{plugin} \
                         (names are compared ignoring case and `-`/`_`); rename it",
                        profile.name
                    ),
                });
            }
        }
        Ok(())
    }

    fn publish(&self, slot: &Slot, candidate: Generation) -> Arc<Generation> {
        let mut last_number = slot.last_number.lock().unwrap_or_else(|poison| poison.into_inner());
        *last_number += 1;
        candidate.callable.set_generation(*last_number);
        let generation = Arc::new(candidate);
        // The swap and what it replaced, in one line: an operator reading the log after
        // the fact should not have to pair two lines to know what went out.
        let previous = slot.current.swap(Some(generation.clone()));
        tracing::info!(
            plugin = %format!("{}/{}", generation.kind(), generation.name()),
            generation = generation.number(),
            version = %generation.identity.version,
            sha256 = %generation.sha256,
            source = %generation.source,
            previous_generation = previous.as_ref().map(|previous| previous.number()),
            previous_sha256 = previous.as_ref().map(|previous| tracing::field::display(previous.sha256.clone())),
            "plugin generation live"
        );
        generation
    }
}

/// The engine's refusal of a year, without the MIC prefix the gate's label repeats.
fn engine_reason(error: &crate::calendar::CalendarError) -> String {
    match error {
        crate::calendar::CalendarError::Plugin { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The plugin a failed load said it was, when the failure came after `describe`.
fn claimed_identity(error: &PluginLoadError) -> Option<(PluginKind, String)> {
    let plugin = match error {
        PluginLoadError::Gate { error, .. } => &error.plugin,
        PluginLoadError::Refused { plugin, .. } => plugin,
        _ => return None,
    };
    plugin.slot().map(|(kind, name)| (kind, name.to_string()))
}

/// A small request every policy must plan correctly before it goes live: three symbols,
/// one of them with two gaps.
pub fn sample_plan_request() -> PlanRequest {
    let date = |month, day| NaiveDate::from_ymd_opt(2024, month, day).expect("valid sample date");
    let gap = |symbol: &str, start, end, sessions| Gap {
        symbol: symbol.to_string(),
        exchange: "XNYS".to_string(),
        start,
        end,
        sessions,
    };
    PlanRequest {
        gaps: vec![
            gap("AAA", date(1, 2), date(1, 31), 21),
            gap("BBB", date(1, 2), date(1, 31), 21),
            gap("BBB", date(3, 1), date(3, 28), 20),
            gap("CCC", date(2, 1), date(2, 29), 20),
        ],
        tier: Tier::Normal,
        timeframe: Timeframe::Daily,
        limits: PlanLimits::default(),
        stats: None,
    }
}
