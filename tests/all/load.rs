//! The load engine end to end with the real binary: resumable loads into SQLite, worker
//! processes on Redis Streams and PostgreSQL killed with SIGKILL, a Redis of the test's
//! own restarted mid-run, dead letters and their retry, weighted-fair dispatch, and a
//! policy whose plan must be refused.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{OwnRedis, TestDatabase, capture_stderr, guest, postgres_url, redis_url, tickstock};

/// A scratch folder with a SQLite store and an artifact cache.
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

    fn db(&self) -> String {
        self.path().join("bars.db").display().to_string()
    }

    fn command(&self) -> Command {
        let mut command = tickstock(&self.path().join("cache"));
        command.current_dir(self.path());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tickstock")
    }

    /// Runs a `load ... --report json` and returns the report; fails on a non-zero exit.
    fn load(&self, args: &[&str]) -> Value {
        let mut all = vec!["load", "--report", "json", "--progress", "none"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(output.status.success(), "load failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("a JSON report")
    }
}

fn count_sqlite_rows(db: &str) -> i64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = tickstock::store::Store::open(db).await.unwrap();
        let count = store.count_bars(&tickstock::store::BarSelection::default()).await.unwrap();
        store.close().await;
        count as i64
    })
}

#[test]
fn a_load_is_resumable_and_a_second_run_does_only_what_is_missing() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let first = scratch.load(&["--db", &db, "--symbols", "20", "--from", "2023-01-01", "--to", "2023-12-31"]);
    // NYSE 2023 had 250 sessions.
    assert_eq!(first["plan"]["sessions_expected"], 20 * 250);
    assert_eq!(first["rows_written"], 20 * 250);
    assert_eq!(first["complete"], true);
    assert!(first["provider"].as_str().unwrap().contains("synthetic"));
    assert_eq!(count_sqlite_rows(&db), 20 * 250);

    let again = scratch.load(&["--db", &db, "--symbols", "20", "--from", "2023-01-01", "--to", "2023-12-31"]);
    assert_eq!(again["plan"]["jobs"], 0, "nothing to do");
    assert_eq!(again["rows_written"], 0);

    // Widening the range loads only 2024 (252 sessions).
    let wider = scratch.load(&["--db", &db, "--symbols", "20", "--from", "2023-01-01", "--to", "2024-12-31"]);
    assert_eq!(wider["plan"]["sessions_missing"], 20 * 252);
    assert_eq!(wider["rows_written"], 20 * 252);
    assert_eq!(count_sqlite_rows(&db), 20 * (250 + 252));
}

/// Rows of `complete_sessions` in a SQLite store.
fn count_complete_sessions(db: &str) -> i64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite:{db}")).await.unwrap();
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM complete_sessions").fetch_one(&mut connection).await.unwrap();
        connection.close().await.unwrap();
        count
    })
}

#[test]
fn minute_bars_load_with_the_default_policy_and_a_rerun_reads_sessions_not_bars() {
    let scratch = Scratch::new();
    let db = scratch.db();
    // 30 symbols x the 21 sessions of January 2024: 30 x 21 x 390 minutes, planned by the
    // default policy within the memory budget.
    let args = ["--db", &db, "--symbols", "30", "--timeframe", "1m", "--from", "2024-01-01", "--to", "2024-01-31"];
    let first = scratch.load(&args);
    assert_eq!(first["complete"], true, "{first}");
    assert_eq!(first["rows_written"], 30 * 21 * 390);
    assert_eq!(count_sqlite_rows(&db), 30 * 21 * 390);
    // Every session the load wrote whole is recorded complete, so the rerun reads these
    // 630 rows rather than the 245,700 bars.
    assert_eq!(count_complete_sessions(&db), 30 * 21);
    let again = scratch.load(&args);
    assert_eq!(again["plan"]["jobs"], 0, "nothing to do: {again}");
    assert_eq!(again["rows_written"], 0);
}

#[test]
fn plan_is_a_dry_run_that_writes_nothing() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let output =
        scratch.run(&["plan", "--db", &db, "--symbols", "250", "--from", "2024-01-01", "--to", "2024-03-31", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Q1 2024 on NYSE: 61 sessions; fixed puts 100 symbols per job.
    assert_eq!(plan["sessions_missing"], 250 * 61);
    assert_eq!(plan["jobs"], 3);
    assert_eq!(plan["expected_rows"], 250 * 61);
    assert_eq!(plan["provider_calls"], 250);
    assert_eq!(count_sqlite_rows(&db), 0);

    let adaptive = scratch.run(&[
        "plan",
        "--db",
        &db,
        "--symbols",
        "250",
        "--from",
        "2024-01-01",
        "--to",
        "2024-03-31",
        "--json",
        "--policy",
        "adaptive",
    ]);
    let adaptive: Value = serde_json::from_slice(&adaptive.stdout).unwrap();
    assert_eq!(adaptive["jobs"], 5, "adaptive starts with 50 symbols per job");
}

#[test]
fn bad_input_is_a_one_line_error_and_leaves_the_store_alone() {
    let scratch = Scratch::new();
    let db = scratch.db();
    scratch.load(&["--db", &db, "--symbols", "3", "--from", "2024-01-02", "--to", "2024-01-31"]);
    let cases: &[(&[&str], &str)] = &[
        (&["--exchange", "XXXX"], "unknown exchange \"XXXX\""),
        (&["--from", "2024-13-01"], "not a date"),
        (&["--from", "2024-02-01", "--to", "2024-01-01"], "is after"),
        (&["--timeframe", "5m"], "unknown timeframe"),
        (&["--policy", "nope"], "unknown batch policy \"nope\""),
        (&["--symbols", "@missing.txt"], "missing.txt"),
        (&["--provider", "carrier-pigeon"], "unknown provider"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["load", "--db", &db];
        if !args.contains(&"--symbols") {
            all.extend_from_slice(&["--symbols", "3"]);
        }
        if !args.contains(&"--from") {
            all.extend_from_slice(&["--from", "2024-01-02", "--to", "2024-01-31"]);
        }
        all.extend_from_slice(args);
        let output = scratch.run(&all);
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(errors[0].contains(expected), "{args:?}: {:?} lacks {expected:?}", errors[0]);
    }
    assert_eq!(count_sqlite_rows(&db), 3 * 21, "nothing stored was lost");
}

#[test]
fn a_plan_that_fails_the_hosts_check_enqueues_nothing() {
    let Some(redis) = redis_url() else { return };
    let scratch = Scratch::new();
    let plugins = scratch.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guest("fixture_bad_policy.wasm"), plugins.join("bad.wasm")).unwrap();
    let prefix = unique_prefix("badplan");
    let db = scratch.db();
    let output = scratch
        .command()
        .args(["--plugins"])
        .arg(&plugins)
        .args(["load", "--db", &db, "--symbols", "10", "--years", "1", "--policy", "zz-bad"])
        .args(["--queue", &redis, "--queue-prefix", &prefix])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing was enqueued") && stderr.contains("more than one job"), "{stderr}");
    let status = jobs_status(&scratch, &redis, &prefix);
    assert_eq!(backlog(&status), 0, "{status}");
    assert_eq!(count_sqlite_rows(&db), 0);
    purge(&redis, &prefix);
}

fn unique_prefix(name: &str) -> String {
    format!(
        "tickstock-test:{name}:{}:{}:",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

fn jobs_status(scratch: &Scratch, redis: &str, prefix: &str) -> Value {
    let output = scratch.run(&["jobs", "status", "--json", "--queue", redis, "--queue-prefix", prefix]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn backlog(status: &Value) -> u64 {
    status["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["queued"].as_u64().unwrap() + t["in_flight"].as_u64().unwrap())
        .sum()
}

fn dead(status: &Value) -> u64 {
    status["tiers"].as_array().unwrap().iter().map(|t| t["dead"].as_u64().unwrap()).sum()
}

fn purge(redis: &str, prefix: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = tickstock::queue::QueueOptions { key_prefix: prefix.to_string(), ..Default::default() };
        if let Ok(queue) = tickstock::queue::Queue::open(Some(redis), options).await {
            let _ = queue.purge().await;
        }
    });
}

/// (total rows, distinct bar keys) of a test database's bars.
fn rows(database: &TestDatabase) -> (i64, i64) {
    (
        database.count("SELECT count(*) FROM bars"),
        database.count("SELECT count(*) FROM (SELECT DISTINCT symbol, exchange, timeframe, bar_start FROM bars) keys"),
    )
}

fn spawn_worker(scratch: &Scratch, redis: &str, prefix: &str, db: &str, latency_ms: &str) -> Child {
    scratch
        .command()
        .args(["worker", "--queue", redis, "--queue-prefix", prefix, "--db", db, "--exit-when-idle"])
        .args(["--workers", "2", "--claim-idle-secs", "1", "--simulate-latency-ms", latency_ms])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker")
}

/// Polls `condition` until it holds; fails the test after 60 s rather than hanging. The
/// deadline only guards against a hang: nothing here is a timing claim.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn in_flight(status: &Value) -> u64 {
    status["tiers"].as_array().unwrap().iter().map(|t| t["in_flight"].as_u64().unwrap()).sum()
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("process did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let (Some(redis), Some(postgres)) = (redis_url(), postgres_url()) else { return };
    let database = TestDatabase::create(&postgres);
    let scratch = Scratch::new();
    let prefix = unique_prefix("kill");
    // 60 symbols x 2022-2023 (251 + 250 sessions) in jobs of 2 symbols: 30 jobs.
    let submitted = scratch.load(&[
        "--db",
        &database.url,
        "--symbols",
        "60",
        "--from",
        "2022-01-01",
        "--to",
        "2023-12-31",
        "--max-symbols-per-job",
        "2",
        "--queue",
        &redis,
        "--queue-prefix",
        &prefix,
        "--submit-only",
    ]);
    assert_eq!(submitted["plan"]["jobs"], 30);

    // The first worker runs alone until it has committed jobs and holds more in flight;
    // then it is killed, before the second starts, so the jobs it held can only be finished
    // by the survivor reclaiming them.
    let mut doomed = spawn_worker(&scratch, &redis, &prefix, &database.url, "400");
    let _doomed_log = capture_stderr(&mut doomed);
    wait_until("the first worker has committed a job and holds others", || {
        rows(&database).0 > 0 && in_flight(&jobs_status(&scratch, &redis, &prefix)) > 0
    });
    unsafe {
        libc::kill(doomed.id() as i32, libc::SIGKILL);
    }
    let _ = doomed.wait();
    let orphaned = jobs_status(&scratch, &redis, &prefix);
    assert!(in_flight(&orphaned) > 0, "the killed worker must leave jobs in flight: {orphaned}");
    assert!(rows(&database).0 < 60 * (251 + 250), "the kill must come mid-run");

    let mut survivor = spawn_worker(&scratch, &redis, &prefix, &database.url, "400");
    let _survivor_log = capture_stderr(&mut survivor);
    let status = wait_with_deadline(&mut survivor, Duration::from_secs(120));
    assert!(status.success(), "the surviving worker failed");
    let (total, distinct) = rows(&database);
    assert_eq!(total, 60 * (251 + 250), "every bar exactly once");
    assert_eq!(total, distinct, "no duplicated row");
    let after = jobs_status(&scratch, &redis, &prefix);
    assert_eq!(backlog(&after), 0);
    assert_eq!(dead(&after), 0);
    purge(&redis, &prefix);
}

#[test]
fn a_redis_restart_mid_run_still_completes_the_load_exactly() {
    // Needs redis-server on PATH; runs wherever the shared Redis test does.
    let Some(_) = redis_url() else { return };
    let Some(postgres) = postgres_url() else { return };
    let database = TestDatabase::create(&postgres);
    let mut redis = OwnRedis::start();
    let scratch = Scratch::new();
    let prefix = unique_prefix("restart");
    let submitted = scratch.load(&[
        "--db",
        &database.url,
        "--symbols",
        "40",
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
        "--max-symbols-per-job",
        "2",
        "--queue",
        &redis.url(),
        "--queue-prefix",
        &prefix,
        "--submit-only",
    ]);
    assert_eq!(submitted["plan"]["jobs"], 20);
    let mut worker = spawn_worker(&scratch, &redis.url(), &prefix, &database.url, "300");
    let worker_log = capture_stderr(&mut worker);
    // Restart Redis once the worker has committed a job, and only after the worker has
    // run into the outage, so the run cannot pass without surviving it.
    wait_until("the worker has committed a job", || rows(&database).0 > 0);
    redis.kill();
    wait_until("the worker has seen Redis go away", || worker_log.contains("queue unavailable"));
    assert!(rows(&database).0 < 40 * 250, "the restart must come mid-run");
    redis.spawn();
    let status = wait_with_deadline(&mut worker, Duration::from_secs(120));
    assert!(status.success(), "the worker did not survive the restart");
    let (total, distinct) = rows(&database);
    assert_eq!(total, 40 * 250);
    assert_eq!(total, distinct);
}

#[test]
fn permanent_failures_are_dead_lettered_with_reasons_and_retry_dead_reruns_them() {
    let Some(redis) = redis_url() else { return };
    let scratch = Scratch::new();
    let prefix = unique_prefix("dead");
    let csv_dir = scratch.path().join("csv");
    std::fs::create_dir_all(&csv_dir).unwrap();
    let good = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,12,10,11,1200\n2024-01-04,11,11.5,10.2,10.8,900\n";
    std::fs::write(csv_dir.join("GOOD.csv"), good).unwrap();
    std::fs::write(
        csv_dir.join("BAD.csv"),
        "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n2024-01-03,ten,12,10,11,1200\n",
    )
    .unwrap();
    let db = scratch.db();
    let provider = format!("csv:{}", csv_dir.display());
    let common = [
        "--db",
        &db,
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-04",
        "--max-symbols-per-job",
        "1",
        "--queue",
        &redis,
        "--queue-prefix",
        &prefix,
        "--provider",
        &provider,
    ];
    let mut args = vec!["load", "--report", "json", "--progress", "none", "--symbols", "GOOD,BAD"];
    args.extend_from_slice(&common);
    let output = scratch.run(&args);
    assert!(!output.status.success(), "a load with a dead job exits non-zero");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["jobs_done"], 1);
    assert_eq!(report["jobs_dead"], 1);
    let reason = report["dead_letters"][0].as_str().unwrap();
    assert!(reason.contains("BAD.csv") && reason.contains("line 3"), "{reason}");

    let listed = scratch.run(&["jobs", "dead", "--queue", &redis, "--queue-prefix", &prefix]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("BAD.csv, line 3") && listed.contains("BAD 2024-01-02..2024-01-04"), "{listed}");
    assert_eq!(count_sqlite_rows(&db), 3, "only GOOD's bars; nothing from the bad file");

    // Fix the file, retry the dead letters, and work them off.
    std::fs::write(csv_dir.join("BAD.csv"), good).unwrap();
    let retried = scratch.run(&["jobs", "retry-dead", "--queue", &redis, "--queue-prefix", &prefix]);
    assert!(String::from_utf8_lossy(&retried.stdout).contains("1 dead letters queued again"));
    let worker = scratch
        .command()
        .args([
            "worker",
            "--queue",
            &redis,
            "--queue-prefix",
            &prefix,
            "--db",
            &db,
            "--provider",
            &provider,
            "--exit-when-idle",
        ])
        .output()
        .unwrap();
    assert!(worker.status.success(), "{}", String::from_utf8_lossy(&worker.stderr));
    assert_eq!(count_sqlite_rows(&db), 6);
    assert_eq!(dead(&jobs_status(&scratch, &redis, &prefix)), 0);
    purge(&redis, &prefix);
}

/// Records the order in which symbols are fetched: jobs of each tier use their own
/// symbol prefix, so the order shows which tier the dispatcher served.
#[derive(Debug)]
struct RecordingProvider {
    order: Arc<Mutex<Vec<String>>>,
}

impl tickstock::provider::Provider for RecordingProvider {
    fn name(&self) -> String {
        "recording".into()
    }

    fn fetch<'a>(&'a self, request: tickstock::provider::FetchRequest<'a>) -> tickstock::provider::FetchFuture<'a> {
        Box::pin(async move {
            self.order.lock().unwrap().push(request.symbol.to_string());
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(tickstock::provider::synthetic::synthetic_bars(&request))
        })
    }
}

#[test]
fn saturated_tiers_complete_in_proportion_to_their_weights() {
    use tickstock::plan::{Gap, Tier, Timeframe};
    use tickstock::queue::{JobPayload, JobQueue, Queue, QueueOptions};

    let scratch = Scratch::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let registry = std::sync::Arc::new(
        tickstock::plugin::Registry::with_builtins(
            tickstock::plugin::Runtime::new(crate::support::patient_runtime_options()).unwrap(),
        )
        .unwrap(),
    );
    runtime.block_on(async {
        let store = tickstock::store::Store::open(&scratch.db()).await.unwrap();
        let queue = Queue::open(None, QueueOptions::default()).await.unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let mut jobs = Vec::new();
        for tier in Tier::ALL {
            for index in 0..400 {
                let symbol = format!("{}{index:04}", tier.as_str().to_ascii_uppercase());
                let gap = Gap { symbol, exchange: "XNYS".into(), start: day, end: day, sessions: 1 };
                jobs.push(JobPayload::new("weights", tier, Timeframe::Daily, vec![gap]));
            }
        }
        queue.enqueue_many(&jobs).await.unwrap();
        let context = tickstock::worker::WorkerContext {
            registry,
            store: store.clone(),
            provider: Arc::new(RecordingProvider { order: order.clone() }),
            queue,
            counters: Default::default(),
            observer: None,
        };
        let options = tickstock::worker::WorkerOptions { workers: 4, ..Default::default() };
        let (_shutdown_sender, shutdown) = tokio::sync::watch::channel(false);
        let (_more, no_more) = tokio::sync::watch::channel(false);
        let summary = tickstock::worker::run_workers(context, options, shutdown, no_more).await.unwrap();
        assert_eq!(summary.jobs_done, 1600);
        store.close().await;
    });
    // While every tier still had work (the first 18 x 20 fetches: critical runs out after
    // 400 of its share), fetches follow 10:5:2:1 within 10 %.
    let order = order.lock().unwrap();
    let window = &order[..18 * 20];
    for (prefix, weight) in [("CRITICAL", 10.0), ("HIGH", 5.0), ("NORMAL", 2.0), ("LOW", 1.0)] {
        let served = window.iter().filter(|symbol| symbol.starts_with(prefix)).count() as f64;
        let expected = window.len() as f64 * weight / 18.0;
        assert!((served - expected).abs() <= expected * 0.10 + 1.0, "{prefix}: {served} served, {expected} expected");
    }
}

/// `--tier-cap` on the command line: a malformed or zero cap is a one-line error before
/// anything is planned (a cap of 0 would leave the tier's jobs queued and the load waiting
/// forever), and a valid cap loads normally. What a cap does to dispatch is tested in
/// tests/all/worker.rs.
#[test]
fn tier_cap_is_checked_on_the_command_line() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let common = ["load", "--db", &db, "--symbols", "3", "--from", "2023-01-01", "--to", "2023-01-31", "--tier", "low"];
    for (cap, expected) in [
        ("low=0", "a cap of 0 would never run the tier's jobs"),
        ("low", "expected TIER=N"),
        ("slow=1", "unknown tier"),
        ("low=many", "is not a number"),
    ] {
        let mut child = scratch
            .command()
            .args(common)
            .args(["--progress", "none", "--tier-cap", cap])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = capture_stderr(&mut child);
        let status = wait_with_deadline(&mut child, Duration::from_secs(60));
        let stderr = stderr.finish();
        assert!(!status.success(), "--tier-cap {cap} was accepted");
        assert!(stderr.contains(expected) && stderr.trim().lines().count() == 1, "--tier-cap {cap}: {stderr}");
    }
    assert_eq!(count_sqlite_rows(&db), 0, "nothing was loaded under a refused cap");

    let mut args = common.to_vec();
    args.extend(["--tier-cap", "low=1,normal=2"]);
    let report = scratch.load(&args[1..]);
    // NYSE had 20 sessions in January 2023.
    assert_eq!(report["rows_written"], 3 * 20);
    assert_eq!(report["complete"], true);
}

#[test]
fn a_load_gives_up_in_one_line_when_its_queue_stays_down_and_keeps_what_it_wrote() {
    // Needs redis-server on PATH; runs wherever the shared Redis test does.
    let Some(_) = redis_url() else { return };
    let mut redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let prefix = unique_prefix("outage");
    let mut load = scratch
        .command()
        .args(["load", "--db", &db, "--symbols", "40", "--from", "2023-01-01", "--to", "2023-12-31"])
        .args(["--max-symbols-per-job", "2", "--queue", &redis.url(), "--queue-prefix", &prefix])
        .args(["--workers", "1", "--simulate-latency-ms", "200", "--max-queue-outage-secs", "2", "--progress", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn load");
    let log = capture_stderr(&mut load);
    wait_until("the load has committed a job", || count_sqlite_rows(&db) > 0);
    redis.kill();
    // Without the bound the load would retry for ever; the deadline only guards a hang.
    let status = wait_with_deadline(&mut load, Duration::from_secs(60));
    assert!(!status.success(), "a load whose queue never came back reported success");
    let stderr = log.finish();
    let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("unreachable for 2 s"), "{}", errors[0]);
    let written = count_sqlite_rows(&db);
    assert!(written > 0 && written < 40 * 250, "the outage came mid-load: {written} rows");
}
