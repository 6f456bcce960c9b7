//! The process's Prometheus metrics: one `Metrics` value, shared as an `Arc`, that the
//! plugin runtime (through its call observer), the folder watcher and the load engine
//! increment, and that `GET /metrics` encodes.
//!
//! Built on `prometheus-client` rather than `metrics` + `metrics-exporter-prometheus`:
//! typed label sets and one registry value, no global recorder to install (tests run many
//! servers in one process, each with its own `Metrics`), and fewer dependencies.
//!
//! The load engine's per-tier series exist at zero before it feeds them, so dashboards
//! and alerts can be written against a server that has not loaded anything yet (the
//! circuit-breaker series appear with the first provider, whose names are not known here).
//!
//! Depends on `plan` and `plugin` (for labels); never on the store, queue or edges.

use std::fmt::Write as _;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::plan::Tier;
use crate::plugin::{CallRecord, PluginId};

/// `Content-Type` of `encode`'s output (OpenMetrics text, which Prometheus scrapes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginGenerationLabels {
    /// `kind/name`, e.g. `calendar/XNYS`.
    plugin: String,
    generation: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginFailureLabels {
    plugin: String,
    generation: String,
    /// `CallFailure::label()`: deadline, memory, trap, invalid-answer, instantiation.
    failure: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    tier: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

/// How a job left a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Committed and acknowledged.
    Done,
    /// Failed with a transient error and was scheduled again.
    Retried,
    /// Moved to the dead-letter stream (a permanent error, or out of attempts).
    Dead,
}

impl JobOutcome {
    fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Done => "done",
            JobOutcome::Retried => "retried",
            JobOutcome::Dead => "dead",
        }
    }
}

/// A provider's circuit breaker, exported as 0 (closed), 1 (half-open), 2 (open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

pub struct Metrics {
    registry: Registry,
    plugin_calls: Family<PluginGenerationLabels, Counter>,
    plugin_call_errors: Family<PluginFailureLabels, Counter>,
    plugin_limit_hits: Family<PluginFailureLabels, Counter>,
    plugin_swaps: Family<PluginLabels, Counter>,
    plugin_generation: Family<PluginLabels, Gauge>,
    plugin_load_failures: Family<PluginLabels, Counter>,
    queue_depth: Family<TierLabels, Gauge>,
    jobs: Family<JobLabels, Counter>,
    rows_written: Counter,
    circuit_breaker: Family<ProviderLabels, Gauge>,
    ledger_jobs: Family<StateLabels, Gauge>,
    ledger_rows_written: Gauge,
    ledger_loads: Family<StateLabels, Gauge>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// The store's load ledger, over every load and whichever process did the work: what
/// `tickstock_ledger_*` report (read at each scrape).
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerSample {
    pub jobs_queued: u64,
    pub jobs_done: u64,
    pub jobs_dead: u64,
    pub rows_written: u64,
    pub loads: u64,
    pub loads_unfinished: u64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tickstock");
        let metrics = Metrics {
            registry: Registry::default(),
            plugin_calls: Family::default(),
            plugin_call_errors: Family::default(),
            plugin_limit_hits: Family::default(),
            plugin_swaps: Family::default(),
            plugin_generation: Family::default(),
            plugin_load_failures: Family::default(),
            queue_depth: Family::default(),
            jobs: Family::default(),
            rows_written: Counter::default(),
            circuit_breaker: Family::default(),
            ledger_jobs: Family::default(),
            ledger_rows_written: Gauge::default(),
            ledger_loads: Family::default(),
        };
        // Families are handles onto shared state: the registry keeps clones for encoding
        // and this struct keeps the ones it increments.
        registry.register("plugin_calls", "Sandboxed plugin calls", metrics.plugin_calls.clone());
        registry.register(
            "plugin_call_errors",
            "Plugin calls that failed, by failure kind",
            metrics.plugin_call_errors.clone(),
        );
        registry.register(
            "plugin_limit_hits",
            "Plugin calls stopped by a limit (deadline or memory cap)",
            metrics.plugin_limit_hits.clone(),
        );
        registry.register(
            "plugin_swaps",
            "New generations published by the folder watcher",
            metrics.plugin_swaps.clone(),
        );
        registry.register("plugin_generation", "The live generation of each plugin", metrics.plugin_generation.clone());
        registry.register(
            "plugin_load_failures",
            "Plugin files refused (plugin is `unknown` when the file never said what it was)",
            metrics.plugin_load_failures.clone(),
        );
        registry.register("queue_depth", "Jobs waiting, per tier", metrics.queue_depth.clone());
        registry.register("jobs", "Jobs finished by workers, per tier and outcome", metrics.jobs.clone());
        registry.register("rows_written", "Bars upserted into the store", metrics.rows_written.clone());
        registry.register(
            "circuit_breaker_state",
            "Provider circuit breaker: 0 closed, 1 half-open, 2 open",
            metrics.circuit_breaker.clone(),
        );
        registry.register(
            "ledger_jobs",
            "Jobs of every load in the store's ledger, by state, whichever process ran them",
            metrics.ledger_jobs.clone(),
        );
        registry.register(
            "ledger_rows_written",
            "Rows written by the jobs in the store's ledger, whichever process ran them",
            metrics.ledger_rows_written.clone(),
        );
        registry.register(
            "ledger_loads",
            "Loads in the store's ledger: all, and unfinished",
            metrics.ledger_loads.clone(),
        );
        metrics.set_ledger(&LedgerSample::default());
        for tier in Tier::ALL {
            metrics.set_queue_depth(tier, 0);
            for outcome in [JobOutcome::Done, JobOutcome::Retried, JobOutcome::Dead] {
                let _ = metrics
                    .jobs
                    .get_or_create(&JobLabels { tier: tier.as_str().into(), outcome: outcome.as_str().into() });
            }
        }
        Metrics { registry, ..metrics }
    }

    /// The plugin runtime's call observer feeds this (see `plugin::Runtime::observe_calls`).
    /// Calls made while a plugin is loading count under generation 0 (the gate's calls
    /// under the plugin's name; a `describe` before the plugin has said who it is, under
    /// `unidentified` rather than its file path, which would mint a series per file).
    pub fn record_plugin_call(&self, call: &CallRecord<'_>) {
        let generation = call.generation.to_string();
        // A plugin not described yet would mint a series per file path.
        let plugin = match call.plugin {
            PluginId::Named { .. } => call.plugin.to_string(),
            PluginId::Unnamed { .. } => "unidentified".to_string(),
        };
        self.plugin_calls
            .get_or_create(&PluginGenerationLabels { plugin: plugin.clone(), generation: generation.clone() })
            .inc();
        if let Some(failure) = call.failure {
            let labels =
                PluginFailureLabels { plugin: plugin.clone(), generation, failure: failure.label().to_string() };
            self.plugin_call_errors.get_or_create(&labels).inc();
            if matches!(failure.label(), "deadline" | "memory") {
                self.plugin_limit_hits.get_or_create(&labels).inc();
            }
        }
    }

    /// A new generation of `plugin` (`kind/name`) went live.
    pub fn record_swap(&self, plugin: &str, generation: u64) {
        let labels = PluginLabels { plugin: plugin.to_string() };
        self.plugin_swaps.get_or_create(&labels).inc();
        self.set_generation(plugin, generation);
    }

    /// The live generation of `plugin`, e.g. at start-up for the built-ins; 0 when removed.
    pub fn set_generation(&self, plugin: &str, generation: u64) {
        let labels = PluginLabels { plugin: plugin.to_string() };
        self.plugin_generation.get_or_create(&labels).set(i64::try_from(generation).unwrap_or(i64::MAX));
    }

    /// A plugin file was refused; `plugin` is the `kind/name` it claimed, if it got that far.
    pub fn record_load_failure(&self, plugin: Option<&str>) {
        let labels = PluginLabels { plugin: plugin.unwrap_or("unknown").to_string() };
        self.plugin_load_failures.get_or_create(&labels).inc();
    }

    // ---- fed by the load engine -------------------------------------------------------

    pub fn set_queue_depth(&self, tier: Tier, depth: u64) {
        let labels = TierLabels { tier: tier.as_str().to_string() };
        self.queue_depth.get_or_create(&labels).set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub fn record_job(&self, tier: Tier, outcome: JobOutcome) {
        let labels = JobLabels { tier: tier.as_str().to_string(), outcome: outcome.as_str().to_string() };
        self.jobs.get_or_create(&labels).inc();
    }

    pub fn record_rows_written(&self, rows: u64) {
        self.rows_written.inc_by(rows);
    }

    pub fn set_circuit_breaker(&self, provider: &str, state: BreakerState) {
        let value = match state {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        self.circuit_breaker.get_or_create(&ProviderLabels { provider: provider.to_string() }).set(value);
    }

    /// The store's ledger as last read (at every scrape, by the server).
    pub fn set_ledger(&self, sample: &LedgerSample) {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        for (state, jobs) in [("queued", sample.jobs_queued), ("done", sample.jobs_done), ("dead", sample.jobs_dead)] {
            self.ledger_jobs.get_or_create(&StateLabels { state: state.into() }).set(gauge(jobs));
        }
        self.ledger_rows_written.set(gauge(sample.rows_written));
        self.ledger_loads.get_or_create(&StateLabels { state: "all".into() }).set(gauge(sample.loads));
        self.ledger_loads
            .get_or_create(&StateLabels { state: "unfinished".into() })
            .set(gauge(sample.loads_unfinished));
    }

    /// Every series in the OpenMetrics text format (`CONTENT_TYPE`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            // Writing into a String cannot fail; keep the scrape well-formed regardless.
            text.clear();
            let _ = writeln!(text, "# encoding failed: {error}\n# EOF");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{CallFailure, PluginKind};
    use std::time::Duration;

    #[test]
    fn plugin_calls_errors_and_limit_hits_are_counted_per_plugin_and_generation() {
        let metrics = Metrics::new();
        let deadline = CallFailure::DeadlineExceeded { deadline: Duration::from_millis(100) };
        let trap = CallFailure::Trap { message: "boom".into() };
        let xnys = PluginId::named(PluginKind::Calendar, "XNYS");
        let call = |failure| CallRecord {
            plugin: &xnys,
            generation: 3,
            function: "special-days",
            failure,
            elapsed: Duration::ZERO,
        };
        metrics.record_plugin_call(&call(None));
        metrics.record_plugin_call(&call(Some(&deadline)));
        metrics.record_plugin_call(&call(Some(&trap)));
        let text = metrics.encode();
        assert!(text.contains(r#"tickstock_plugin_calls_total{plugin="calendar/XNYS",generation="3"} 3"#), "{text}");
        assert!(
            text.contains(
                r#"tickstock_plugin_call_errors_total{plugin="calendar/XNYS",generation="3",failure="trap"} 1"#
            )
        );
        assert!(text.contains(
            r#"tickstock_plugin_limit_hits_total{plugin="calendar/XNYS",generation="3",failure="deadline"} 1"#
        ));
        assert!(
            !text
                .contains(r#"tickstock_plugin_limit_hits_total{plugin="calendar/XNYS",generation="3",failure="trap"}"#)
        );
    }

    #[test]
    fn calls_before_a_plugin_names_itself_are_not_labelled_by_file_path() {
        let metrics = Metrics::new();
        let call = CallRecord {
            plugin: &PluginId::Unnamed { origin: "/srv/plugins/xnys.wasm".into() },
            generation: 0,
            function: "describe",
            failure: None,
            elapsed: Duration::ZERO,
        };
        metrics.record_plugin_call(&call);
        let text = metrics.encode();
        assert!(text.contains(r#"tickstock_plugin_calls_total{plugin="unidentified",generation="0"} 1"#), "{text}");
    }

    #[test]
    fn load_engine_series_are_exported_before_any_sample() {
        let text = Metrics::new().encode();
        for line in [
            r#"tickstock_queue_depth{tier="critical"} 0"#,
            r#"tickstock_jobs_total{tier="low",outcome="dead"} 0"#,
            "tickstock_rows_written_total 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
