//! The exit codes of `tickstock load` and `tickstock worker` (docs/operating.md, "Exit
//! codes"), each from the real binary in the situation it names: 0 all done, 3 some jobs
//! dead-lettered (unreadable payloads counted), 130 interrupted by SIGTERM, which also
//! stops a `--submit-only` held by backpressure after it said why it waits. A second
//! SIGTERM exits 130 at once, from `load` and from `serve`.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{CapturedStderr, OwnRedis, capture_stderr, redis_url, tickstock};

/// A scratch folder: the SQLite store, the artifact cache, CSV files.
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

    fn command(&self, args: &[&str]) -> Command {
        let mut command = tickstock(&self.path().join("cache"));
        command.current_dir(self.path()).args(args).env_remove("TICKSTOCK_QUEUE");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tickstock")
    }

    /// Starts `args` with stdout piped and stderr captured as it comes.
    fn spawn(&self, args: &[&str]) -> (Child, CapturedStderr) {
        let mut child =
            self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn tickstock");
        let stderr = capture_stderr(&mut child);
        (child, stderr)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

/// Polls until `condition` holds; the 60 s deadline only guards against a hang.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child to exit and returns its status and stdout; kills it and fails the
/// test if it has not exited within 60 s (it hangs).
fn wait_for_exit(mut child: Child, what: &str) -> (ExitStatus, String) {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
            return (status, stdout);
        }
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("{what} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (queued, in flight, dead) over every tier of the queue under `prefix`.
fn queue_depth(scratch: &Scratch, redis: &str, prefix: &str) -> (u64, u64, u64) {
    let output = scratch.run(&["jobs", "status", "--json", "--queue", redis, "--queue-prefix", prefix]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    let tiers = status["tiers"].as_array().unwrap();
    let sum = |field: &str| tiers.iter().map(|tier| tier[field].as_u64().unwrap()).sum::<u64>();
    (sum("queued"), sum("in_flight"), sum("dead"))
}

const PREFIX: &str = "tickstock-exit:";

#[test]
fn load_and_worker_help_list_the_exit_codes() {
    let scratch = Scratch::new();
    for command in ["load", "worker"] {
        let help = text(&scratch.run(&[command, "--help"]).stdout);
        for line in ["  3    some jobs were dead-lettered", "  130  interrupted by Ctrl-C or SIGTERM"] {
            assert!(help.contains(line), "{command} --help: {help}");
        }
    }
}

#[test]
fn a_load_that_does_everything_exits_0() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let output = scratch.run(&["load", "--db", &db, "--symbols", "3", "--from", "2024-01-02", "--to", "2024-01-31"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("jobs done 1, retried 0, dead 0"), "{}", text(&output.stdout));
}

#[test]
fn a_load_whose_provider_dead_letters_a_job_exits_3_with_its_report() {
    let scratch = Scratch::new();
    let csv = scratch.path().join("csv");
    std::fs::create_dir_all(&csv).unwrap();
    std::fs::write(csv.join("GOOD.csv"), "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,1000\n").unwrap();
    let provider = format!("csv:{}", csv.display());
    let db = scratch.db();
    // MISSING has no file: a permanent failure, dead-lettered at once.
    let output = scratch.run(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "GOOD,MISSING",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-02",
        "--max-symbols-per-job",
        "1",
        "--provider",
        &provider,
        "--report",
        "json",
        "--progress",
        "none",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("the report is printed before the exit");
    assert_eq!((report["jobs_done"].as_u64(), report["jobs_dead"].as_u64()), (Some(1), Some(1)), "{report}");
    assert!(report["dead_letters"][0].as_str().unwrap().contains("MISSING"), "{report}");
    assert!(stderr.contains("1 dead letters: `tickstock jobs dead"), "{stderr}");
}

#[test]
fn worker_exit_when_idle_counts_an_unreadable_payload_and_exits_3() {
    let Some(_) = redis_url() else { return };
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let submitted = scratch.run(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "2",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--submit-only",
    ]);
    assert_eq!(submitted.status.code(), Some(0), "{}", text(&submitted.stderr));
    // Junk straight into the stream, as a broken or foreign producer would leave it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let _: String = redis::cmd("XADD")
            .arg(format!("{PREFIX}jobs:low"))
            .arg("*")
            .arg("job")
            .arg("{not a job")
            .query_async(&mut connection)
            .await
            .unwrap();
    });

    let output = scratch.run(&[
        "worker",
        "--db",
        &db,
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--exit-when-idle",
        "--log-level",
        "warn",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        text(&output.stdout).contains("worker stopped: 1 jobs done, 0 retried, 1 dead, 42 rows written"),
        "{}",
        text(&output.stdout)
    );
    assert!(stderr.contains("job payload could not be read"), "{stderr}");
    assert_eq!(queue_depth(&scratch, &redis.url(), PREFIX), (0, 0, 1), "the junk is the one dead letter");
}

#[test]
fn a_load_sent_sigterm_finishes_what_is_in_flight_and_exits_130() {
    let scratch = Scratch::new();
    let db = scratch.db();
    // 200 one-symbol jobs at 300 ms a provider call on 2 workers: half a minute of work,
    // stopped as soon as some of it is committed.
    let (child, stderr) = scratch.spawn(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "200",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--max-symbols-per-job",
        "1",
        "--workers",
        "2",
        "--simulate-latency-ms",
        "300",
        "--progress",
        "lines",
        "--report",
        "json",
    ]);
    wait_until("the load has committed jobs", || {
        stderr.text().lines().any(|line| line.starts_with("progress: ") && !line.starts_with("progress: 0/"))
    });
    sigterm(&child);
    let (status, stdout) = wait_for_exit(child, "the load after SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    // Almost always jobs are in flight at the signal, but both workers may be between two.
    assert!(stderr.contains("stopping: finishing the ") || stderr.contains("stopping: nothing in flight"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("a report after a clean stop");
    assert_eq!(report["interrupted"], true);
    let done = report["jobs_done"].as_u64().unwrap();
    assert!(done > 0 && done < 200, "stopped mid-run: {report}");
    // What was reported done is what the store holds: the jobs in flight were finished.
    assert_eq!(report["rows_written"].as_u64().unwrap(), done * 21, "{report}");
}

#[test]
fn a_load_on_redis_stopped_by_sigterm_loses_no_job() {
    let Some(_) = redis_url() else { return };
    // Reads take a batch into the worker's stash and acks are buffered: a stop must leave
    // every job either done, queued, or in flight for another consumer to take over.
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let (child, stderr) = scratch.spawn(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "200",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--max-symbols-per-job",
        "1",
        "--workers",
        "2",
        "--simulate-latency-ms",
        "300",
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--progress",
        "lines",
        "--report",
        "json",
    ]);
    wait_until("the load has committed jobs", || {
        stderr.text().lines().any(|line| line.starts_with("progress: ") && !line.starts_with("progress: 0/"))
    });
    sigterm(&child);
    let (status, stdout) = wait_for_exit(child, "the load after SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("a report after a clean stop");
    let done = report["jobs_done"].as_u64().unwrap();
    let (queued, in_flight, dead) = queue_depth(&scratch, &redis.url(), PREFIX);
    assert_eq!(dead, 0);
    // In flight: jobs read into the stopped worker's stash and never started (taken over
    // after the claim timeout). The finished jobs' acks were sent before the exit, so no
    // finished job is counted twice here.
    assert_eq!(queued + in_flight + done, 200, "every job done, queued or in flight: {report}");
}

#[test]
fn a_second_sigterm_exits_130_at_once_without_waiting_for_the_jobs_in_flight() {
    let Some(_) = redis_url() else { return };
    // On Redis, so the test can see the job in flight before it signals.
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    // One job whose provider call takes a minute: only an abort ends it sooner.
    let (child, stderr) = scratch.spawn(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "1",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--simulate-latency-ms",
        "60000",
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--progress",
        "none",
        "--report",
        "json",
    ]);
    wait_until("the job is in flight", || queue_depth(&scratch, &redis.url(), PREFIX).1 == 1);
    sigterm(&child);
    wait_until("the load says it is stopping", || stderr.contains("stopping: finishing the 1 job in flight"));
    sigterm(&child);
    let (status, stdout) = wait_for_exit(child, "the load after a second SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopping now (second interrupt)"), "{stderr}");
    assert_eq!(stdout, "", "aborted before the job finished, so no report");
}

#[test]
fn a_worker_stopped_by_sigterm_says_so_and_exits_130() {
    let Some(_) = redis_url() else { return };
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let (child, stderr) = scratch.spawn(&["worker", "--db", &db, "--queue", &redis.url(), "--queue-prefix", PREFIX]);
    wait_until("the worker has joined the queue", || stderr.contains(", provider synthetic"));
    sigterm(&child);
    let (status, stdout) = wait_for_exit(child, "the worker after SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopping: nothing in flight"), "{stderr}");
    assert!(stdout.contains("worker stopped: 0 jobs done"), "{stdout}");
}

#[test]
fn submit_only_held_by_backpressure_says_why_it_waits_and_stops_on_sigterm() {
    let Some(_) = redis_url() else { return };
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let (child, stderr) = scratch.spawn(&[
        "load",
        "--db",
        &db,
        "--symbols",
        "6",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--max-symbols-per-job",
        "1",
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--submit-only",
        "--max-pending",
        "1",
    ]);
    wait_until("the submit says why it waits", || stderr.contains("waiting: "));
    sigterm(&child);
    let (status, stdout) = wait_for_exit(child, "the submit after SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "waiting: the queue holds 1 of at most 1 jobs; waiting for workers to take some (1 of 6 submitted)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("start `tickstock worker --queue ...`"), "{stderr}");
    assert!(stderr.contains("stopping: submitted 1 of 6 jobs; the rest are not queued"), "{stderr}");
    assert!(!stderr.contains("in flight"), "nothing was in flight: {stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert_eq!(queue_depth(&scratch, &redis.url(), PREFIX), (1, 0, 0), "the one job it queued");
}

#[test]
fn submit_only_without_a_shared_queue_is_refused() {
    let scratch = Scratch::new();
    let db = scratch.db();
    let output = scratch.run(&["load", "--db", &db, "--symbols", "2", "--submit-only"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("--submit-only needs a shared queue"), "{}", text(&output.stderr));
    assert!(!Path::new(&db).exists(), "refused before the store was opened");
}

/// `POST /loads` with a JSON body; the status code of the reply.
fn post_load(address: &str, body: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to serve");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!(
        "POST /loads HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

#[test]
fn serve_stops_on_sigterm_and_a_second_one_exits_130_at_once() {
    let Some(_) = redis_url() else { return };
    let redis = OwnRedis::start();
    let scratch = Scratch::new();
    let db = scratch.db();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    // Its workers' one job waits a minute on the provider: only an abort ends it sooner.
    let (child, stderr) = scratch.spawn(&[
        "serve",
        "--listen",
        &address,
        "--db",
        &db,
        "--queue",
        &redis.url(),
        "--queue-prefix",
        PREFIX,
        "--simulate-latency-ms",
        "60000",
    ]);
    let health = format!("http://{address}/health");
    wait_until("serve answers /health", || crate::support::http("GET", &health).0 == 200);
    assert_eq!(post_load(&address, r#"{"symbols":["AAPL"],"from":"2024-01-02","to":"2024-01-31"}"#), 202);
    wait_until("the job is in flight", || queue_depth(&scratch, &redis.url(), PREFIX).1 == 1);
    sigterm(&child);
    wait_until("serve says it is stopping", || stderr.contains("stopping: finishing the 1 job in flight"));
    sigterm(&child);
    let (status, _) = wait_for_exit(child, "serve after a second SIGTERM");
    let stderr = stderr.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopping now (second interrupt)"), "{stderr}");
}
