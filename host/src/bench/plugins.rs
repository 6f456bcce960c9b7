//! `tickstock bench plugins`: what a plugin costs the host. Cold compile of each built-in
//! (no artifact cache), load from a cached artifact, instantiation in a fresh store, and
//! a whole empty call (`describe`: fresh store, instantiate, call, drop), the price every
//! plugin call pays on top of its own work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

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
    /// One empty call (`describe`) including its fresh store and instantiation, median
    /// microseconds.
    pub empty_call_us_p50: f64,
    pub empty_call_us_p99: f64,
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
        let mut samples: Vec<Duration> = Vec::with_capacity(calls);
        for _ in 0..calls.max(1) {
            let started = Instant::now();
            callable.describe()?;
            samples.push(started.elapsed());
        }
        samples.sort_unstable();
        let percentile = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
        reports.push(PluginCosts {
            plugin,
            wasm_bytes: builtin.bytes.len(),
            compile_cold_ms: compile_cold.as_secs_f64() * 1e3,
            load_cached_ms: load_cached.as_secs_f64() * 1e3,
            empty_call_us_p50: percentile(0.5),
            empty_call_us_p99: percentile(0.99),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!(
            "{:<28} {:>5} {:>16} {:>15} {:>18} {:>18}",
            "PLUGIN", "KIB", "COMPILE_COLD_MS", "LOAD_CACHED_MS", "EMPTY_CALL_P50_US", "EMPTY_CALL_P99_US"
        );
        for report in &reports {
            println!(
                "{:<28} {:>5} {:>16.1} {:>15.2} {:>18.1} {:>18.1}",
                report.plugin,
                report.wasm_bytes / 1024,
                report.compile_cold_ms,
                report.load_cached_ms,
                report.empty_call_us_p50,
                report.empty_call_us_p99
            );
        }
    }
    Ok(())
}
