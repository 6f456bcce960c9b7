//! `tickstock bench plugins`: what a plugin costs the host. Cold compile of each built-in
//! (no artifact cache), load from a cached artifact, and an empty call (`describe`) two
//! ways: on an instance kept from the previous call (what calls pay in steady state), and
//! on a fresh one (fresh store, instantiate, call, drop: what the first call and every
//! call after a failure pay), each on top of the plugin's own work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::percentile;
use crate::plugin::builtin::BUILTINS;
use crate::plugin::{PluginSource, Registry, Runtime, RuntimeOptions, load};

#[derive(Debug, Serialize)]
pub struct PluginCosts {
    pub plugin: String,
    pub wasm_bytes: usize,
    /// Compile from bytes with an empty cache, milliseconds.
    pub compile_cold_ms: f64,
    /// Load (header checks, deserialize, type-check, describe, gate) from a cached
    /// artifact, milliseconds.
    pub load_cached_ms: f64,
    /// One empty call (`describe`) on an instance kept from the previous call, median
    /// microseconds.
    pub empty_call_us_p50: f64,
    pub empty_call_us_p99: f64,
    /// One empty call on a fresh instance: store, instantiation, call and drop.
    pub fresh_call_us_p50: f64,
    pub fresh_call_us_p99: f64,
}

pub fn run(runtime_options: RuntimeOptions, calls: usize, json: bool) -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let cached_options = RuntimeOptions { limits: runtime_options.limits, cache_dir: Some(cache.path().to_path_buf()) };
    let mut reports = Vec::new();
    for builtin in BUILTINS {
        let source = PluginSource::Builtin(builtin.file_name);
        // Cold: a runtime whose cache is empty; this also fills the cache for the next step.
        let runtime = Runtime::new(cached_options.clone())?;
        let started = Instant::now();
        let generation = load::prepare(&runtime, builtin.bytes, source.clone())?;
        let compile_cold = started.elapsed();
        let plugin = format!("{}/{}", generation.kind(), generation.name());

        let warm_runtime = Runtime::new(cached_options.clone())?;
        let registry = Registry::new(warm_runtime);
        let started = Instant::now();
        let live = registry.install_bytes(builtin.bytes, source)?;
        let load_cached = started.elapsed();

        let callable = Arc::clone(live.callable());
        let mut kept: Vec<Duration> = Vec::with_capacity(calls);
        for _ in 0..calls.max(1) {
            let started = Instant::now();
            callable.describe()?;
            kept.push(started.elapsed());
        }
        let mut fresh: Vec<Duration> = Vec::with_capacity(calls);
        for _ in 0..calls.max(1) {
            callable.drop_idle_instances();
            let started = Instant::now();
            callable.describe()?;
            // The drop belongs to a fresh instance's cost: it unmaps what the call mapped.
            callable.drop_idle_instances();
            fresh.push(started.elapsed());
        }
        let micros = |samples: &[Duration], quantile| percentile(samples, quantile).as_secs_f64() * 1e6;
        let (empty_call_us_p50, empty_call_us_p99) = (micros(&kept, 0.5), micros(&kept, 0.99));
        let (fresh_call_us_p50, fresh_call_us_p99) = (micros(&fresh, 0.5), micros(&fresh, 0.99));
        reports.push(PluginCosts {
            plugin,
            wasm_bytes: builtin.bytes.len(),
            compile_cold_ms: compile_cold.as_secs_f64() * 1e3,
            load_cached_ms: load_cached.as_secs_f64() * 1e3,
            empty_call_us_p50,
            empty_call_us_p99,
            fresh_call_us_p50,
            fresh_call_us_p99,
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!(
            "{:<28} {:>5} {:>16} {:>15} {:>18} {:>18} {:>18} {:>18}",
            "PLUGIN",
            "KIB",
            "COMPILE_COLD_MS",
            "LOAD_CACHED_MS",
            "EMPTY_CALL_P50_US",
            "EMPTY_CALL_P99_US",
            "FRESH_CALL_P50_US",
            "FRESH_CALL_P99_US"
        );
        for report in &reports {
            println!(
                "{:<28} {:>5} {:>16.1} {:>15.2} {:>18.1} {:>18.1} {:>18.1} {:>18.1}",
                report.plugin,
                report.wasm_bytes / 1024,
                report.compile_cold_ms,
                report.load_cached_ms,
                report.empty_call_us_p50,
                report.empty_call_us_p99,
                report.fresh_call_us_p50,
                report.fresh_call_us_p99
            );
        }
    }
    Ok(())
}
