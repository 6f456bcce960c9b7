//! The load ledger: one truth about loads whichever process does the work.
//!
//! - the ledger's reads and writes on SQLite and PostgreSQL;
//! - a job of several symbols commits the good ones and splits off the bad (permanent:
//!   a single-symbol dead letter each; transient: the rest queued again);
//! - in-process dead letters outlive the load and a later process lists and retries them;
//! - the production shape: `serve` plus two `tickstock worker` processes on a Redis of the
//!   test's own and a fresh PostgreSQL database, where `/loads/{id}`, `/metrics`,
//!   `tickstock loads show` and the store agree while the load runs and when it is done.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde_json::Value;
use tickstock::plan::{Gap, Tier, Timeframe};
use tickstock::provider::synthetic::synthetic_bars;
use tickstock::provider::{FetchFuture, FetchRequest, PermanentError, Provider, ProviderError, TransientError};
use tickstock::queue::{JobPayload, JobQueue, Queue, QueueOptions};
use tickstock::schedule::Backoff;
use tickstock::store::{BarSelection, JobRef, JobState, LedgerJob, LoadState, NewLoad, Settled, Settlement, Store};
use tickstock::worker::{WorkerContext, WorkerOptions};
use tokio::sync::watch;

use crate::support::{OwnRedis, Serve, TestDatabase, http_with_body, postgres_url, redis_url, tickstock};

fn day(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
}

/// One gap of `symbol` over the XNYS sessions of 2024-01-02..04 (3 sessions).
fn gap(symbol: &str) -> Gap {
    Gap { symbol: symbol.into(), exchange: "XNYS".into(), start: day(2), end: day(4), sessions: 3 }
}

fn ledger_job(job: &JobPayload, expected_rows: u64) -> LedgerJob {
    LedgerJob {
        job_id: job.id.clone(),
        tier: job.tier,
        state: JobState::Queued,
        parent: None,
        symbols: job.gaps.len() as u64,
        expected_rows,
        reason: None,
        payload: None,
    }
}

fn new_load(id: &str, jobs: &[&JobPayload]) -> NewLoad {
    NewLoad {
        id: id.to_string(),
        created_at: Utc::now(),
        plan: serde_json::json!({"symbols": jobs.len()}),
        jobs: jobs.iter().map(|job| ledger_job(job, 3)).collect(),
    }
}

/// Runs the ledger's operations on `store` and checks what every reader sees.
async fn exercise_the_ledger(store: &Store) {
    let first = JobPayload::new("load-a", Tier::High, Timeframe::Daily, vec![gap("AAA")]);
    let second = JobPayload::new("load-a", Tier::Low, Timeframe::Daily, vec![gap("BBB")]);
    store.record_load(&new_load("load-a", &[&first, &second])).await.unwrap();
    // Recording it again (a retried submission) changes nothing.
    store.record_load(&new_load("load-a", &[&first, &second])).await.unwrap();

    let load = store.load_record("load-a").await.unwrap().expect("recorded");
    assert_eq!(load.state, LoadState::Queued);
    assert_eq!((load.total.jobs, load.total.queued, load.total.expected_rows), (2, 2, 6));
    assert!(load.finished_at.is_none());

    // A retry, then the first job's bars with its outcome in one transaction.
    let worker = "worker-1";
    let first_ref = JobRef { load_id: "load-a", job_id: &first.id, worker };
    store
        .settle_job(&Settlement { job: first_ref, outcome: Settled::Retried { error: "timeout" }, split: &[] })
        .await
        .unwrap();
    let request = FetchRequest {
        symbol: "AAA",
        exchange: "XNYS",
        timeframe: Timeframe::Daily,
        sessions: &tickstock::plugin::Registry::with_builtins(
            tickstock::plugin::Runtime::new(crate::support::patient_runtime_options()).unwrap(),
        )
        .unwrap()
        .calendar("XNYS")
        .unwrap()
        .sessions(day(2), day(4))
        .unwrap(),
        observed_at: Utc::now(),
    };
    let bars = synthetic_bars(&request);
    let written = store.write_job(&bars, first_ref, &[], &[]).await.unwrap();
    assert_eq!(written.rows_written, 3);
    let load = store.load_record("load-a").await.unwrap().unwrap();
    assert_eq!(load.state, LoadState::Running);
    assert_eq!(load.tiers[&Tier::High].done, 1);
    assert_eq!(load.tiers[&Tier::High].retries, 1);
    assert_eq!(load.total.rows_written, 3);

    // A re-delivery of a done job writes no row and adds none.
    store.write_job(&bars, first_ref, &[], &[]).await.unwrap();
    assert_eq!(store.load_record("load-a").await.unwrap().unwrap().total.rows_written, 3);
    // Nor when it runs again later (its ack lost): the same bars, observed anew, rewrite
    // three rows in the store, but the load did not write three more.
    let later = FetchRequest { observed_at: request.observed_at + chrono::Duration::minutes(5), ..request };
    let rewritten = store.write_job(&synthetic_bars(&later), first_ref, &[], &[]).await.unwrap();
    assert_eq!(rewritten.rows_written, 3, "the newer observation replaces the stored rows");
    assert_eq!(store.load_record("load-a").await.unwrap().unwrap().total.rows_written, 3);

    // The second dies: the load is failed, finished, and its dead job kept with the payload.
    let payload = second.encode().unwrap();
    let second_ref = JobRef { load_id: "load-a", job_id: &second.id, worker };
    let dead = Settled::Dead { reason: "no such symbol", payload: &payload };
    store.settle_job(&Settlement { job: second_ref, outcome: dead, split: &[] }).await.unwrap();
    let load = store.load_record("load-a").await.unwrap().unwrap();
    assert_eq!(load.state, LoadState::Failed);
    assert!(load.finished_at.is_some());
    assert_eq!(load.dead_letters.len(), 1);
    assert_eq!(load.dead_letters[0].reason, "no such symbol");
    let kept = store.dead_jobs(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(JobPayload::decode(kept[0].payload.as_deref().unwrap()).unwrap(), second);

    // Retried later and done: the load is done, nothing is dead any more.
    store.write_job(&[], second_ref, &[], &[]).await.unwrap();
    let load = store.load_record("load-a").await.unwrap().unwrap();
    assert_eq!(load.state, LoadState::Done);
    assert!(store.dead_jobs(10).await.unwrap().is_empty());

    // A job of a load the ledger never recorded still commits, and creates no row.
    let stray = JobRef { load_id: "load-unknown", job_id: "job-x", worker };
    let split = [LedgerJob { job_id: "child".into(), ..ledger_job(&first, 1) }];
    store.write_job(&[], stray, &split, &[]).await.unwrap();
    assert!(store.load_record("load-unknown").await.unwrap().is_none());

    // A load whose jobs could not be enqueued is failed with the reason.
    let third = JobPayload::new("load-b", Tier::Normal, Timeframe::Daily, vec![gap("CCC")]);
    store.record_load(&new_load("load-b", &[&third])).await.unwrap();
    store.fail_load("load-b", "the queue was unreachable").await.unwrap();
    let load = store.load_record("load-b").await.unwrap().unwrap();
    assert_eq!(load.state, LoadState::Failed);
    assert_eq!(load.error.as_deref(), Some("the queue was unreachable"));

    // Newest first, paged by id.
    let listed: Vec<String> = store.list_loads(10, None).await.unwrap().into_iter().map(|load| load.id).collect();
    assert_eq!(listed, ["load-b", "load-a"]);
    let page: Vec<String> =
        store.list_loads(10, Some("load-b")).await.unwrap().into_iter().map(|load| load.id).collect();
    assert_eq!(page, ["load-a"]);

    let totals = store.ledger_totals().await.unwrap();
    assert_eq!((totals.loads, totals.jobs_done, totals.jobs_dead, totals.jobs_queued), (2, 2, 0, 1));
    assert_eq!(totals.rows_written, 3);
}

#[test]
fn the_ledger_records_and_reads_loads_the_same_on_sqlite_and_postgres() {
    let scratch = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(&scratch.path().join("ledger.db").display().to_string()).await.unwrap();
        exercise_the_ledger(&store).await;
        store.close().await;
    });
    let Some(postgres) = postgres_url() else { return };
    let database = TestDatabase::create(&postgres);
    runtime.block_on(async {
        let store = Store::open(&database.url).await.unwrap();
        exercise_the_ledger(&store).await;
        store.close().await;
    });
}

/// Fails `BAD` for good; fails `FLAKY` transiently the first `flaky_failures` times;
/// serves synthetic bars otherwise.
#[derive(Debug)]
struct MixedProvider {
    flaky_failures: usize,
    flaky_seen: AtomicUsize,
    fetched: Mutex<Vec<String>>,
}

impl Provider for MixedProvider {
    fn name(&self) -> String {
        "mixed".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            self.fetched.lock().unwrap().push(request.symbol.to_string());
            match request.symbol {
                "BAD" => Err(ProviderError::Permanent(PermanentError::BadPayload {
                    url: "http://vendor.invalid/BAD".into(),
                    detail: "delisted".into(),
                })),
                "FLAKY" if self.flaky_seen.fetch_add(1, Ordering::SeqCst) < self.flaky_failures => {
                    Err(ProviderError::Transient(TransientError::Connection {
                        url: "http://127.0.0.1:9/".into(),
                        detail: "connection reset".into(),
                    }))
                }
                _ => Ok(synthetic_bars(&request)),
            }
        })
    }
}

#[test]
fn a_job_commits_its_good_symbols_and_splits_off_the_failing_ones() {
    let scratch = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let registry = tickstock::plugin::Registry::with_builtins(
            tickstock::plugin::Runtime::new(crate::support::patient_runtime_options()).unwrap(),
        )
        .unwrap();
        let store = Store::open(&scratch.path().join("bars.db").display().to_string()).await.unwrap();
        let queue = Queue::open(None, QueueOptions::default()).await.unwrap();
        let symbols = ["GOOD", "BAD", "FLAKY", "LATER"];
        let job = JobPayload::new("mixed-load", Tier::Normal, Timeframe::Daily, symbols.map(gap).to_vec());
        store.record_load(&new_load("mixed-load", &[&job])).await.unwrap();
        queue.enqueue(&job).await.unwrap();
        let provider = Arc::new(MixedProvider {
            flaky_failures: 1,
            flaky_seen: AtomicUsize::new(0),
            fetched: Mutex::new(Vec::new()),
        });
        let context = WorkerContext {
            registry: Arc::new(registry),
            store: store.clone(),
            provider: provider.clone(),
            queue: queue.clone(),
            counters: Default::default(),
            observer: None,
        };
        let options = WorkerOptions {
            workers: 1,
            backoff: Backoff { first: Duration::from_millis(1), max: Duration::from_millis(1) },
            ..WorkerOptions::default()
        };
        let (_shutdown, shutdown) = watch::channel(false);
        let (_more, no_more) = watch::channel(false);
        let summary = tickstock::worker::run_workers(context, options, shutdown, no_more).await.unwrap();

        // GOOD committed at once; BAD dead-lettered alone; FLAKY and LATER (not yet asked
        // when FLAKY failed) queued again as one job, which then loaded both.
        assert_eq!(*provider.fetched.lock().unwrap(), ["GOOD", "BAD", "FLAKY", "FLAKY", "LATER"]);
        assert_eq!((summary.jobs_done, summary.jobs_retried, summary.jobs_dead), (2, 1, 1));
        for (symbol, bars) in [("GOOD", 3), ("BAD", 0), ("FLAKY", 3), ("LATER", 3)] {
            let selection = BarSelection { symbol: Some(symbol.into()), ..BarSelection::default() };
            assert_eq!(store.count_bars(&selection).await.unwrap(), bars, "{symbol}");
        }
        let dead = queue.list_dead(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        let dead_job = dead[0].job().unwrap();
        assert_eq!(dead_job.gaps, vec![gap("BAD")]);
        assert!(dead[0].reason.contains("BAD") && dead[0].reason.contains("delisted"), "{}", dead[0].reason);

        // The ledger tells the same: the planned job done with GOOD's rows, the rest done
        // with the others', BAD dead with its reason; the load failed because of it.
        let load = store.load_record("mixed-load").await.unwrap().unwrap();
        assert_eq!(load.state, LoadState::Failed);
        assert_eq!((load.total.jobs, load.total.done, load.total.dead, load.total.queued), (3, 2, 1, 0));
        assert_eq!(load.total.rows_written, 9);
        assert_eq!(load.dead_letters.len(), 1);
        assert_eq!(load.dead_letters[0].job_id, dead_job.id);
        assert!(load.dead_letters[0].reason.contains("delisted"));
        store.close().await;
    });
}

// ---- the command line --------------------------------------------------------------

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        tickstock(&self.path().join("cache")).current_dir(self.path()).args(args).output().expect("run tickstock")
    }

    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{args:?}: not JSON: {error}"))
    }

    fn write_csv(&self, symbol: &str) {
        let rows = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n\
                    2024-01-03,10,11,9,10.5,100\n2024-01-04,10,11,9,10.5,100\n";
        std::fs::create_dir_all(self.path().join("csv")).unwrap();
        std::fs::write(self.path().join("csv").join(format!("{symbol}.csv")), rows).unwrap();
    }
}

#[test]
fn in_process_dead_letters_outlive_the_load_and_a_later_process_retries_them() {
    let scratch = Scratch::new();
    for symbol in ["AAA", "BBB", "DDD", "EEE"] {
        scratch.write_csv(symbol);
    }
    let load = scratch.run(&[
        "load",
        "--symbols",
        "AAA,BBB,CCC,DDD,EEE",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-04",
        "--provider",
        "csv:csv",
        "--progress",
        "none",
        "--report",
        "json",
    ]);
    assert_eq!(load.status.code(), Some(3), "a load with a dead letter exits 3");
    let report: Value = serde_json::from_slice(&load.stdout).unwrap();
    // The four good symbols are written though they shared a job with the missing one.
    assert_eq!(report["rows_written"], 12, "{report}");
    assert_eq!(report["jobs_dead"], 1, "{report}");
    // The hint names commands that work on the in-process queue, with the same provider.
    let hint = report["dead_letter_hint"].as_str().unwrap();
    assert!(hint.contains("`tickstock jobs retry-dead --provider csv:csv`"), "{hint}");
    assert!(!hint.contains("--queue"), "{hint}");

    // A later process, in the same folder, sees the dead letter (only CCC's).
    let dead = scratch.json(&["jobs", "dead", "--format", "json"]);
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let payload = JobPayload::decode(dead[0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload.gaps.iter().map(|gap| gap.symbol.as_str()).collect::<Vec<_>>(), ["CCC"]);
    assert!(dead[0]["reason"].as_str().unwrap().contains("CCC"));

    let loads = scratch.json(&["loads", "list", "--format", "json"]);
    let id = loads[0]["id"].as_str().unwrap().to_string();
    let shown = scratch.json(&["loads", "show", &id, "--format", "json"]);
    assert_eq!(shown["state"], "failed");
    assert_eq!(shown["total"]["dead"], 1);
    assert_eq!(shown["total"]["rows_written"], 12);

    // The cause fixed, the retry runs it here and now; the load is done.
    scratch.write_csv("CCC");
    let retry = scratch.run(&["jobs", "retry-dead", "--provider", "csv:csv"]);
    assert!(retry.status.success(), "{}", String::from_utf8_lossy(&retry.stderr));
    assert!(String::from_utf8_lossy(&retry.stdout).contains("1 dead jobs run again"));
    let shown = scratch.json(&["loads", "show", &id, "--format", "json"]);
    assert_eq!(shown["state"], "done", "{shown}");
    assert_eq!(shown["total"]["rows_written"], 15);
    assert!(scratch.json(&["jobs", "dead", "--format", "json"]).as_array().unwrap().is_empty());
    // And a rerun of the load finds nothing to do.
    let rerun = scratch.json(&[
        "plan",
        "--symbols",
        "AAA,BBB,CCC,DDD,EEE",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-04",
        "--format",
        "json",
    ]);
    assert_eq!(rerun["jobs"], 0, "{rerun}");
}

// ---- the production shape -------------------------------------------------------------

/// A `tickstock worker` child and its consumer name (which it prints when it starts).
struct Worker {
    child: Child,
    consumer: String,
}

impl Worker {
    fn start(scratch: &Path, queue: &str, db: &str) -> Worker {
        let mut child = tickstock(scratch)
            .args(["worker", "--queue", queue, "--db", db, "--workers", "2", "--simulate-latency-ms", "50"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tickstock worker");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // Log lines first (the plugins going live), then "worker <consumer> on ...".
        let mut consumer = String::new();
        for _ in 0..200 {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(rest) = line.strip_prefix("worker ") {
                consumer = rest.split_whitespace().next().unwrap_or_default().to_string();
                break;
            }
        }
        assert!(!consumer.is_empty(), "the worker never said its consumer name");
        std::thread::spawn(move || for _ in stderr.lines() {});
        Worker { child, consumer }
    }

    fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "worker did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows written and jobs done `/metrics` reports from the ledger.
fn metrics_rows_and_done(serve: &Serve) -> (u64, u64) {
    let (_, text) = serve.get("/metrics");
    let value = |prefix: &str| -> u64 {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{prefix} in /metrics"))
    };
    (value("tickstock_ledger_rows_written "), value("tickstock_ledger_jobs{state=\"done\"} "))
}

#[test]
fn serve_and_two_workers_tell_one_story_about_a_load() {
    let Some(_) = redis_url() else { return };
    let Some(postgres) = postgres_url() else { return };
    let database = TestDatabase::create(&postgres);
    let redis = OwnRedis::start();
    let scratch = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let queue = redis.url();
    // The server works jobs too, but one at a time and slowly: most go to the workers.
    let serve = Serve::start(
        folder.path(),
        &["--db", &database.url, "--queue", &queue, "--workers", "1", "--simulate-latency-ms", "300"],
        &[],
    );
    let workers =
        [Worker::start(scratch.path(), &queue, &database.url), Worker::start(scratch.path(), &queue, &database.url)];

    let body =
        r#"{"symbols": 40, "exchange": "XNYS", "from": "2024-01-02", "to": "2024-06-28", "max_symbols_per_job": 1}"#;
    let (status, answer) = http_with_body("POST", &format!("{}/loads", serve.base), body);
    assert_eq!(status, 202, "{answer}");
    let submitted: Value = serde_json::from_str(&answer).unwrap();
    let id = submitted["id"].as_str().unwrap().to_string();
    let expected_rows = submitted["total"]["expected_rows"].as_u64().unwrap();
    assert_eq!(submitted["total"]["jobs"], 40);
    assert!(expected_rows > 0);

    let cli = |args: &[&str]| -> Value {
        let output = tickstock(scratch.path()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let stored_rows = || database.count("SELECT COUNT(*) FROM bars") as u64;

    // Sampled in this order while the load runs, each reader sees at least what the one
    // before it saw (rows only grow) and never more than the store holds after it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut samples = 0;
    loop {
        let (_, answer) = serve.get(&format!("/loads/{id}"));
        let api: Value = serde_json::from_str(&answer).unwrap();
        let (api_rows, api_done) =
            (api["total"]["rows_written"].as_u64().unwrap(), api["total"]["done"].as_u64().unwrap());
        let (metric_rows, metric_done) = metrics_rows_and_done(&serve);
        let shown = cli(&["loads", "show", &id, "--db", &database.url, "--format", "json"]);
        let (cli_rows, cli_done) =
            (shown["total"]["rows_written"].as_u64().unwrap(), shown["total"]["done"].as_u64().unwrap());
        let store_rows = stored_rows();
        assert!(
            api_rows <= metric_rows && metric_rows <= cli_rows && cli_rows <= store_rows,
            "rows: api {api_rows}, metrics {metric_rows}, cli {cli_rows}, store {store_rows}"
        );
        assert!(
            api_done <= metric_done && metric_done <= cli_done && cli_done <= 40,
            "jobs done: api {api_done}, metrics {metric_done}, cli {cli_done}"
        );
        samples += 1;
        if api["state"] == "done" {
            break;
        }
        assert_ne!(api["state"], "failed", "{api}");
        assert!(Instant::now() < deadline, "the load did not finish: {api}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(samples > 1, "the load should have been seen running");

    // Done: every reader says the same, and it is exactly what was expected.
    let (_, answer) = serve.get(&format!("/loads/{id}"));
    let api: Value = serde_json::from_str(&answer).unwrap();
    let local = cli(&["loads", "show", &id, "--db", &database.url, "--format", "json"]);
    let remote = cli(&["loads", "show", &id, "--server", &serve.base, "--format", "json"]);
    assert_eq!(api, local);
    assert_eq!(api, remote);
    // Ended when its last job did, whichever of the processes settled it.
    assert!(api["finished_at"].is_string(), "{api}");
    assert_eq!(api["total"]["rows_written"].as_u64().unwrap(), expected_rows);
    assert_eq!(metrics_rows_and_done(&serve), (expected_rows, 40));
    assert_eq!(stored_rows(), expected_rows);
    assert_eq!(api["total"]["done"], 40);
    let listed = cli(&["loads", "--server", &serve.base, "--format", "json"]);
    assert_eq!(listed[0]["id"], id.as_str());

    // Most jobs were done by the two worker processes, not by the server's own worker.
    let by_workers = database.count(&format!(
        "SELECT COUNT(*) FROM load_jobs WHERE worker IN ('{}', '{}')",
        workers[0].consumer, workers[1].consumer
    ));
    assert!(by_workers > 20, "only {by_workers} of 40 jobs were done by the external workers");

    for worker in workers {
        worker.stop();
    }
    serve.stop();
}

/// Polls `GET /loads/{id}` until its state is `state`; the load as then read.
fn wait_for_state(serve: &Serve, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, answer) = serve.get(&format!("/loads/{id}"));
        let load: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        if load["state"] == state {
            return load;
        }
        assert!(Instant::now() < deadline, "the load never became {state}: {load}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn jobs_commands_ask_a_running_server_for_its_queue() {
    let scratch = Scratch::new();
    for symbol in ["AAA", "BBB"] {
        scratch.write_csv(symbol);
    }
    let folder = tempfile::tempdir().unwrap();
    let provider = format!("csv:{}", scratch.path().join("csv").display());
    let serve = Serve::start(folder.path(), &["--provider", &provider], &[]);
    let body = r#"{"symbols": ["AAA", "BBB", "CCC"], "exchange": "XNYS", "from": "2024-01-02", "to": "2024-01-04"}"#;
    let (status, answer) = http_with_body("POST", &format!("{}/loads", serve.base), body);
    assert_eq!(status, 202, "{answer}");
    let id = serde_json::from_str::<Value>(&answer).unwrap()["id"].as_str().unwrap().to_string();
    let failed = wait_for_state(&serve, &id, "failed");
    assert_eq!(failed["total"]["rows_written"], 6, "{failed}");

    // The server's in-process queue, seen from another process.
    let server = ["--server", serve.base.as_str()];
    let dead = scratch.json(&[&server[..], &["jobs", "dead", "--format", "json"]].concat());
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0]["reason"].as_str().unwrap().contains("CCC"));
    let status = scratch.json(&[&server[..], &["jobs", "status", "--format", "json"]].concat());
    let dead_in_tiers: u64 =
        status["tiers"].as_array().unwrap().iter().map(|tier| tier["dead"].as_u64().unwrap()).sum();
    assert_eq!(dead_in_tiers, 1, "{status}");

    // Fixed and retried through the server: its workers load CCC and the load is done.
    scratch.write_csv("CCC");
    let retried = scratch.run(&[&server[..], &["jobs", "retry-dead"]].concat());
    assert!(retried.status.success(), "{}", String::from_utf8_lossy(&retried.stderr));
    assert!(String::from_utf8_lossy(&retried.stdout).starts_with("1 dead letters queued again"));
    let done = wait_for_state(&serve, &id, "done");
    assert_eq!(done["total"]["rows_written"], 9, "{done}");
    assert!(
        scratch.json(&[&server[..], &["jobs", "dead", "--format", "json"]].concat()).as_array().unwrap().is_empty()
    );
    serve.stop();
}
