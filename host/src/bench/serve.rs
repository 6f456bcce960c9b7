//! `tickstock bench serve`: what `tickstock serve` costs and how fast it swaps, measured on
//! a real server in this process.
//!
//! - Swap: a new XNYS calendar file is renamed into a watched folder, and the time until
//!   the registry serves it is taken, over several swaps. Each swap lands new bytes (the
//!   built-in XNYS with a custom section naming the swap appended, which changes the
//!   sha256 and nothing else), so every figure includes compiling the component, the
//!   load gate (building and warming the calendar years) and the watcher's wait for a
//!   renamed file (`watch::RENAME_SETTLE`, 20 ms; the debounce is for files written in
//!   place).
//! - Throughput: `GET /calendars/{mic}/status?at=...` over loopback, N requests spread
//!   over K keep-alive connections, on instants whose years are warmed first. Client and
//!   server share this process and its cores, so the figure is a floor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::calendar::{bench_range, random_instants};
use super::percentile;
use crate::plugin::builtin::BUILTINS;
use crate::plugin::{PluginKind, RuntimeOptions, load};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeBenchArgs {
    /// Swaps to time.
    #[arg(long, default_value_t = 20)]
    pub swaps: usize,
    /// Status requests to send in the throughput run.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Keep-alive connections the requests are spread over.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Exchange whose status is asked for.
    #[arg(long, default_value = "XNYS")]
    pub exchange: String,
    /// Watcher debounce, in milliseconds (the serve default).
    #[arg(long, default_value_t = crate::watch::DEFAULT_DEBOUNCE.as_millis() as u64)]
    pub debounce_ms: u64,
    /// Print JSON (set from the command line's `--format`).
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct ServeReport {
    pub swaps: usize,
    pub debounce_ms: u64,
    /// From the rename into the folder to the new generation being the one served.
    pub swap_ms_p50: f64,
    pub swap_ms_p95: f64,
    pub swap_ms_max: f64,
    pub exchange: String,
    pub status_requests: usize,
    pub connections: usize,
    pub status_requests_per_second: f64,
    pub status_latency_us_p50: f64,
    pub status_latency_us_p99: f64,
    /// Requests that did not answer 200 (should be 0).
    pub status_failures: usize,
}

pub fn run(runtime_options: RuntimeOptions, args: ServeBenchArgs) -> anyhow::Result<()> {
    let folder = tempfile_dir()?;
    let cache = tempfile_dir()?;
    let runtime_options = RuntimeOptions { cache_dir: Some(cache.clone()), ..runtime_options };
    let debounce = Duration::from_millis(args.debounce_ms);
    let assembled = crate::server::assemble(runtime_options, Some(&folder), None, debounce)?;
    let registry = assembled.state.registry.clone();

    let swap_times = time_swaps(&registry, &folder, args.swaps.max(1))?;
    let tokio_runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let throughput = tokio_runtime.block_on(status_throughput(assembled.state.clone(), &args))?;
    drop(assembled);
    let _ = std::fs::remove_dir_all(&folder);
    let _ = std::fs::remove_dir_all(&cache);

    let report = ServeReport {
        swaps: swap_times.len(),
        debounce_ms: args.debounce_ms,
        swap_ms_p50: percentile(&swap_times, 0.50).as_secs_f64() * 1e3,
        swap_ms_p95: percentile(&swap_times, 0.95).as_secs_f64() * 1e3,
        swap_ms_max: percentile(&swap_times, 1.0).as_secs_f64() * 1e3,
        exchange: args.exchange.to_ascii_uppercase(),
        status_requests: throughput.latencies.len(),
        connections: args.connections.max(1),
        status_requests_per_second: throughput.latencies.len() as f64 / throughput.elapsed.as_secs_f64(),
        status_latency_us_p50: percentile(&throughput.latencies, 0.50).as_secs_f64() * 1e6,
        status_latency_us_p99: percentile(&throughput.latencies, 0.99).as_secs_f64() * 1e6,
        status_failures: throughput.failures,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "plugin swap (file renamed in -> new generation serving), {} swaps, rename settle {} ms: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            report.swaps,
            crate::watch::RENAME_SETTLE.min(Duration::from_millis(report.debounce_ms)).as_millis(),
            report.swap_ms_p50,
            report.swap_ms_p95,
            report.swap_ms_max
        );
        println!(
            "GET /calendars/{}/status: {} requests over {} connections: {:.0} req/s, latency p50 {:.0} us, p99 {:.0} us, {} failed",
            report.exchange,
            report.status_requests,
            report.connections,
            report.status_requests_per_second,
            report.status_latency_us_p50,
            report.status_latency_us_p99,
            report.status_failures
        );
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("tickstock-bench-serve-{}-{}", std::process::id(), unique_suffix()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or(0)
}

/// The built-in XNYS plus a custom section (id 0) holding `tag`: different bytes, the same
/// plugin.
fn tagged_xnys(tag: &str) -> anyhow::Result<Vec<u8>> {
    let builtin = BUILTINS
        .iter()
        .find(|builtin| builtin.file_name == "calendar_xnys.wasm")
        .context("this build has no built-in XNYS calendar")?;
    let name = b"tickstock-bench";
    let mut payload = Vec::new();
    leb128(&mut payload, name.len() as u64);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut bytes = builtin.bytes.to_vec();
    bytes.push(0);
    leb128(&mut bytes, payload.len() as u64);
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn time_swaps(
    registry: &crate::plugin::Registry,
    folder: &std::path::Path,
    swaps: usize,
) -> anyhow::Result<Vec<Duration>> {
    let target = folder.join("xnys.wasm");
    let temp = folder.join(".xnys.wasm.tmp");
    let mut times = Vec::with_capacity(swaps);
    // Swap 0 is a warm-up (the first load of a file in the folder), not timed.
    for swap in 0..=swaps {
        let bytes = tagged_xnys(&format!("swap {swap} at {}", unique_suffix()))?;
        let sha256 = load::sha256_hex(&bytes);
        std::fs::write(&temp, &bytes)?;
        let landed = Instant::now();
        std::fs::rename(&temp, &target)?;
        let give_up = landed + Duration::from_secs(30);
        loop {
            let live = registry.get(PluginKind::Calendar, "XNYS").is_some_and(|generation| generation.sha256 == sha256);
            if live {
                break;
            }
            anyhow::ensure!(
                Instant::now() < give_up,
                "swap {swap} did not go live within 30 s; see the log (TICKSTOCK_LOG=info)"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        if swap > 0 {
            times.push(landed.elapsed());
        }
    }
    Ok(times)
}

struct Throughput {
    latencies: Vec<Duration>,
    elapsed: Duration,
    failures: usize,
}

async fn status_throughput(state: crate::server::ServerState, args: &ServeBenchArgs) -> anyhow::Result<Throughput> {
    let exchange = args.exchange.to_ascii_uppercase();
    let calendar = state.registry.calendar(&exchange).with_context(|| {
        format!(
            "unknown exchange {exchange:?}; known exchanges: {}",
            state.registry.names(PluginKind::Calendar).join(", ")
        )
    })?;
    let instants: Arc<Vec<String>> = Arc::new(
        random_instants(bench_range(calendar.spec())?, 2024, 1000)
            .into_iter()
            .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = crate::server::ServeLimits::for_token(None);
    let server = tokio::spawn(crate::server::run(listener, crate::server::router(state), limits, async move {
        let _ = stopped.await;
    }));
    // Warm every year the instants touch, so the run measures the API, not plugin calls.
    let warm_client = reqwest::Client::new();
    for at in instants.iter() {
        let response = warm_client.get(format!("{base}/calendars/{exchange}/status?at={at}")).send().await?;
        anyhow::ensure!(response.status().is_success(), "warm-up: {}", response.text().await.unwrap_or_default());
    }
    let connections = args.connections.max(1);
    let per_connection = args.requests.max(1).div_ceil(connections);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let (base, exchange, instants) = (base.clone(), exchange.clone(), instants.clone());
            tokio::spawn(async move {
                // One client per connection with one pooled connection: K clients make K
                // keep-alive connections.
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
                let mut latencies = Vec::with_capacity(per_connection);
                let mut failures = 0;
                for request in 0..per_connection {
                    let at = &instants[(connection * per_connection + request) % instants.len()];
                    let sent = Instant::now();
                    let response = client.get(format!("{base}/calendars/{exchange}/status?at={at}")).send().await;
                    let ok = match response {
                        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    failures += usize::from(!ok);
                }
                anyhow::Ok((latencies, failures))
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(per_connection * connections);
    let mut failures = 0;
    for task in tasks {
        let (task_latencies, task_failures) = task.await??;
        latencies.extend(task_latencies);
        failures += task_failures;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await??;
    Ok(Throughput { latencies, elapsed, failures })
}
