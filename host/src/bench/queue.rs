//! `tickstock bench queue`: job submission speed, the README's "job submission" row.
//! Single submits (one `enqueue` awaited at a time: latency percentiles), bulk submits
//! (`enqueue_many`: jobs/s) and a single consumer's drain of jobs queued in bulk
//! (`try_dequeue` + `ack` one job at a time: jobs/s, and on Redis how many reads and ack
//! commands the server saw; then the same drain asking every tier before each job), on the
//! in-process queue and, with `--queue`, on Redis. `host/benches/peers/run.sh queue` runs
//! the drain beside BullMQ's. When `redis-benchmark` is on PATH it runs XADD against the
//! same Redis in the same run, with a field as large as one of our job payloads, so the
//! figures have their anchor beside them.

use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::Serialize;

use super::percentile;
use crate::plan::{Gap, Tier, Timeframe};
use crate::queue::{JobPayload, JobQueue, Queue, QueueOptions, new_job_id};

#[derive(Debug, clap::Args)]
pub struct QueueBenchArgs {
    /// Also measure Redis Streams at this URL; the flag alone means $TICKSTOCK_QUEUE, else
    /// redis://127.0.0.1:6379. Keys go under a unique `tickstock-bench:` prefix, deleted
    /// afterwards.
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub queue: Option<String>,
    /// Single submits timed one by one (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 10_000)]
    pub singles: usize,
    /// Jobs per bulk submit; each bulk figure is the median of three rounds.
    #[arg(long, default_value_t = 100_000)]
    pub bulk: usize,
    /// Jobs queued in bulk, then drained by one consumer (dequeue, ack, next).
    #[arg(long, default_value_t = 10_000)]
    pub drain: usize,
    /// Gaps (symbols) per job: the payload size.
    #[arg(long, default_value_t = 1)]
    pub gaps_per_job: usize,
    /// XADDs of redis-benchmark's pipelined run; its one-client and 50-client unpipelined
    /// runs send a tenth and a half as many. Only used with `--queue`.
    #[arg(long, default_value_t = 200_000)]
    pub redis_benchmark_requests: usize,
    /// Print JSON (set from the command line's `--format`).
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct QueueBenchReport {
    pub singles: usize,
    pub bulk: usize,
    pub drain: usize,
    pub gaps_per_job: usize,
    /// Encoded size of one job payload.
    pub job_bytes: usize,
    pub backends: Vec<BackendFigures>,
    /// `redis-benchmark` XADD on the same server, when it is on PATH and Redis was measured.
    pub redis_benchmark: Vec<RedisBenchmarkFigure>,
}

#[derive(Debug, Serialize)]
pub struct BackendFigures {
    pub backend: String,
    /// host:port of the Redis measured, None for the in-process queue.
    pub server: Option<String>,
    pub single_submit_us: Percentiles,
    /// Median of three `enqueue_many` rounds of `bulk` jobs, one connection.
    pub bulk_submit_jobs_per_second: f64,
    pub bulk_rounds_jobs_per_second: Vec<f64>,
    /// One consumer, `try_dequeue` then `ack` one job at a time, over `drain` jobs queued
    /// in bulk beforehand.
    pub drain_jobs_per_second: f64,
    /// On Redis: the server's XREADGROUP and XACK calls during the drain (`INFO
    /// commandstats` before and after; other clients of the server add theirs).
    pub drain_redis_calls: Option<DrainCalls>,
    /// The same drain asking the tiers in priority order again before every job, as a
    /// dispatcher does that re-checks the higher tiers after each job: on Redis every
    /// empty higher tier costs a read per job.
    pub drain_asking_every_tier_jobs_per_second: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DrainCalls {
    pub xreadgroup: u64,
    pub xack: u64,
}

#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct RedisBenchmarkFigure {
    /// What was run, e.g. `redis-benchmark -c 50 -P 16 XADD key * f <job_bytes bytes>`.
    pub command: String,
    pub clients: usize,
    pub pipeline: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub fn run(args: QueueBenchArgs) -> anyhow::Result<()> {
    let redis_url = args.queue.as_ref().map(|url| {
        if url.is_empty() {
            std::env::var("TICKSTOCK_QUEUE")
                .ok()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| "redis://127.0.0.1:6379".to_string())
        } else {
            url.clone()
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let report = runtime.block_on(measure(&args, redis_url.as_deref()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

async fn measure(args: &QueueBenchArgs, redis_url: Option<&str>) -> anyhow::Result<QueueBenchReport> {
    let sizes = Sizes { singles: args.singles.max(1), bulk: args.bulk.max(1), drain: args.drain.max(1) };
    let sample = bench_job(0, args.gaps_per_job);
    let job_bytes = sample.encode()?.len();
    let mut backends = vec![measure_backend(None, sizes, args.gaps_per_job).await?];
    let mut redis_benchmark = Vec::new();
    if let Some(url) = redis_url {
        backends.push(measure_backend(Some(url), sizes, args.gaps_per_job).await?);
        redis_benchmark = run_redis_benchmark(url, job_bytes, args.redis_benchmark_requests.max(10))?;
    }
    Ok(QueueBenchReport {
        singles: sizes.singles,
        bulk: sizes.bulk,
        drain: sizes.drain,
        gaps_per_job: args.gaps_per_job,
        job_bytes,
        backends,
        redis_benchmark,
    })
}

/// How many jobs each measurement uses.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    singles: usize,
    bulk: usize,
    drain: usize,
}

fn bench_job(index: usize, gaps_per_job: usize) -> JobPayload {
    let start = NaiveDate::from_ymd_opt(2020, 1, 2).expect("valid date");
    let end = NaiveDate::from_ymd_opt(2024, 12, 31).expect("valid date");
    let gaps = (0..gaps_per_job.max(1))
        .map(|gap| Gap {
            symbol: format!("SYM{index:06}{gap:03}"),
            exchange: "XNYS".to_string(),
            start,
            end,
            sessions: 1258,
        })
        .collect();
    JobPayload::new("bench", Tier::ALL[index % 4], Timeframe::Daily, gaps)
}

async fn measure_backend(url: Option<&str>, sizes: Sizes, gaps_per_job: usize) -> anyhow::Result<BackendFigures> {
    let room = sizes.bulk.max(sizes.drain).saturating_add(sizes.singles.saturating_mul(2));
    let options = QueueOptions {
        key_prefix: format!("tickstock-bench:{}:", new_job_id()),
        // Room for everything: this measures submission, not backpressure.
        max_backlog: u64::try_from(room).unwrap_or(u64::MAX),
        ..QueueOptions::default()
    };
    let queue = Queue::open(url, options)
        .await
        .with_context(|| format!("opening the queue {}", url.unwrap_or("in-process")))?;
    let server = match &queue {
        Queue::Redis(_) => url
            .and_then(|url| redis::Client::open(url).ok())
            .map(|client| client.get_connection_info().addr().to_string()),
        Queue::Memory(_) => None,
    };
    let outcome = measure_queue(&queue, url, sizes, gaps_per_job).await;
    // Delete the benchmark's keys even when a measurement failed.
    queue.purge().await?;
    let Measured {
        single_submit_us,
        bulk_rounds,
        drain_jobs_per_second,
        drain_redis_calls,
        drain_asking_every_tier_jobs_per_second,
    } = outcome?;
    let mut sorted_rounds = bulk_rounds.clone();
    sorted_rounds.sort_by(f64::total_cmp);
    Ok(BackendFigures {
        backend: queue.backend_name().to_string(),
        server,
        single_submit_us,
        bulk_submit_jobs_per_second: sorted_rounds[sorted_rounds.len() / 2],
        bulk_rounds_jobs_per_second: bulk_rounds,
        drain_jobs_per_second,
        drain_redis_calls,
        drain_asking_every_tier_jobs_per_second,
    })
}

struct Measured {
    single_submit_us: Percentiles,
    bulk_rounds: Vec<f64>,
    drain_jobs_per_second: f64,
    drain_redis_calls: Option<DrainCalls>,
    drain_asking_every_tier_jobs_per_second: f64,
}

async fn measure_queue(
    queue: &Queue,
    url: Option<&str>,
    sizes: Sizes,
    gaps_per_job: usize,
) -> anyhow::Result<Measured> {
    let Sizes { singles, bulk, drain } = sizes;
    // Single submits: warm-up (connection, script cache, allocator), then timed one by one.
    let warm_up: Vec<JobPayload> = (0..singles / 10 + 1).map(|index| bench_job(index, gaps_per_job)).collect();
    for job in &warm_up {
        queue.enqueue(job).await?;
    }
    let jobs: Vec<JobPayload> = (0..singles).map(|index| bench_job(index, gaps_per_job)).collect();
    let mut latencies = Vec::with_capacity(singles);
    for job in &jobs {
        let started = Instant::now();
        queue.enqueue(job).await?;
        latencies.push(started.elapsed());
    }
    let single_submit_us = Percentiles {
        p50: percentile(&latencies, 0.50).as_secs_f64() * 1e6,
        p99: percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        p999: percentile(&latencies, 0.999).as_secs_f64() * 1e6,
        max: percentile(&latencies, 1.0).as_secs_f64() * 1e6,
    };

    // Drain: `drain` jobs queued in bulk (not timed), then one consumer takes and acks them
    // one at a time, as a worker with one slot does, a tier at a time in priority order.
    // (Asking every higher tier again before each job times a poll of an empty stream per
    // job as well: measured apart below.)
    queue.purge().await?;
    let drain_jobs: Vec<JobPayload> = (0..drain).map(|index| bench_job(index, gaps_per_job)).collect();
    queue.enqueue_many(&drain_jobs).await?;
    let calls_before = match url {
        Some(url) => Some(redis_calls(url).await?),
        None => None,
    };
    let started = Instant::now();
    let mut drained = 0usize;
    for tier in Tier::ALL {
        while let Some(delivery) = queue.try_dequeue(tier).await? {
            queue.ack(&delivery).await?;
            drained += 1;
        }
    }
    let drain_jobs_per_second = drained as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(drained == drain, "the drain took {drained} jobs of the {drain} queued");
    let drain_redis_calls = match (url, calls_before) {
        (Some(url), Some(before)) => {
            let after = redis_calls(url).await?;
            Some(DrainCalls {
                xreadgroup: after.xreadgroup.saturating_sub(before.xreadgroup),
                xack: after.xack.saturating_sub(before.xack),
            })
        }
        _ => None,
    };

    // The same drain, asking the tiers in priority order before every job.
    queue.purge().await?;
    queue.enqueue_many(&drain_jobs).await?;
    let started = Instant::now();
    let mut drained = 0usize;
    'drain: loop {
        for tier in Tier::ALL {
            if let Some(delivery) = queue.try_dequeue(tier).await? {
                queue.ack(&delivery).await?;
                drained += 1;
                continue 'drain;
            }
        }
        break;
    }
    let drain_asking_every_tier_jobs_per_second = drained as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(drained == drain, "the drain asking every tier took {drained} jobs of the {drain} queued");

    // Bulk: three rounds on an empty queue, jobs built beforehand (encoding is timed: it
    // is part of submitting).
    let bulk_jobs: Vec<JobPayload> = (0..bulk).map(|index| bench_job(index, gaps_per_job)).collect();
    let mut rounds = Vec::new();
    for _ in 0..3 {
        queue.purge().await?;
        let started = Instant::now();
        queue.enqueue_many(&bulk_jobs).await?;
        rounds.push(bulk as f64 / started.elapsed().as_secs_f64());
    }
    Ok(Measured {
        single_submit_us,
        bulk_rounds: rounds,
        drain_jobs_per_second,
        drain_redis_calls,
        drain_asking_every_tier_jobs_per_second,
    })
}

/// The server's XREADGROUP and XACK calls so far, from `INFO commandstats` (XACK inside
/// MULTI/EXEC counts too).
async fn redis_calls(url: &str) -> anyhow::Result<DrainCalls> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut connection).await?;
    Ok(DrainCalls { xreadgroup: command_calls(&info, "xreadgroup"), xack: command_calls(&info, "xack") })
}

/// `calls=` of `cmdstat_<command>` in an `INFO commandstats` reply; 0 when absent.
pub fn command_calls(info: &str, command: &str) -> u64 {
    let prefix = format!("cmdstat_{command}:");
    info.lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .and_then(|stats| stats.split(',').find_map(|field| field.strip_prefix("calls=")))
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

/// redis-benchmark's XADD on the same server: one client unpipelined (the latency anchor
/// of a single submit), 50 clients unpipelined and 50 clients pipelining 16 (the
/// throughput anchors of bulk submits). Empty when redis-benchmark is not on PATH.
fn run_redis_benchmark(url: &str, job_bytes: usize, requests: usize) -> anyhow::Result<Vec<RedisBenchmarkFigure>> {
    let client = redis::Client::open(url)?;
    let (host, port) = match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
        other => anyhow::bail!("redis-benchmark comparison needs a TCP address, not {other}"),
    };
    let key = format!("tickstock-bench:redis-benchmark:{}", new_job_id());
    let value = "x".repeat(job_bytes);
    let mut figures = Vec::new();
    for (clients, pipeline, requests) in [(1usize, 1usize, requests / 10), (50, 1, requests / 2), (50, 16, requests)] {
        let output = Command::new("redis-benchmark")
            .args(["-h", &host, "-p", &port.to_string(), "-c", &clients.to_string(), "-P", &pipeline.to_string()])
            .args(["-n", &requests.to_string(), "--csv", "XADD", &key, "*", "f", &value])
            .output();
        let output = match output {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error).context("running redis-benchmark"),
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = stdout
            .lines()
            .last()
            .unwrap_or_default()
            .trim_matches('"')
            .split("\",\"")
            .skip(1)
            .map(|field| field.parse().unwrap_or(f64::NAN))
            .collect();
        // rps, avg, min, p50, p95, p99, max
        anyhow::ensure!(
            fields.len() == 7,
            "unexpected redis-benchmark output (is it Redis 7's? --csv must end with rps,avg,min,p50,p95,p99,max): {:.200}",
            stdout.trim()
        );
        figures.push(RedisBenchmarkFigure {
            command: format!(
                "redis-benchmark -c {clients} -P {pipeline} -n {requests} XADD <key> * f <{job_bytes} bytes>"
            ),
            clients,
            pipeline,
            requests_per_second: fields[0],
            p50_ms: fields[3],
            p99_ms: fields[5],
        });
    }
    let mut connection = client.get_connection()?;
    redis::cmd("DEL").arg(&key).query::<()>(&mut connection)?;
    Ok(figures)
}

fn print_report(report: &QueueBenchReport) {
    println!(
        "job payload: {} bytes ({} gap(s)); {} single submits, bulk of {}, drain of {}",
        report.job_bytes, report.gaps_per_job, report.singles, report.bulk, report.drain
    );
    println!(
        "{:<12} {:<20} {:>10} {:>10} {:>10} {:>10} {:>14} {:>12}",
        "BACKEND", "SERVER", "p50 us", "p99 us", "p99.9 us", "max us", "BULK jobs/s", "DRAIN jobs/s"
    );
    for figures in &report.backends {
        println!(
            "{:<12} {:<20} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>14.0} {:>12.0}",
            figures.backend,
            figures.server.as_deref().unwrap_or("-"),
            figures.single_submit_us.p50,
            figures.single_submit_us.p99,
            figures.single_submit_us.p999,
            figures.single_submit_us.max,
            figures.bulk_submit_jobs_per_second,
            figures.drain_jobs_per_second,
        );
    }
    for figures in &report.backends {
        println!(
            "{} drain of {} asking every tier before each job: {:.0} jobs/s",
            figures.backend, report.drain, figures.drain_asking_every_tier_jobs_per_second
        );
        if let Some(calls) = figures.drain_redis_calls {
            println!(
                "{} drain of {}: {} XREADGROUP and {} XACK calls on the server",
                figures.backend, report.drain, calls.xreadgroup, calls.xack
            );
        }
    }
    for figure in &report.redis_benchmark {
        println!(
            "{}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms",
            figure.command, figure.requests_per_second, figure.p50_ms, figure.p99_ms
        );
    }
}
