//! The service face under attack (issue 12): the attacks an outsider would try, replayed
//! against the real binary (`tickstock serve` on 127.0.0.1:0, `load`, `plan`, `worker`,
//! `jobs`) with raw HTTP requests, so the exact `Host` and body reach the server as sent.
//! Each test names the guard it stands for and fails without it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestDatabase, postgres_url, redis_url, tickstock};

/// A scratch folder: artifact cache, SQLite files, token files.
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

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    fn command(&self) -> Command {
        let mut command = tickstock(&self.path().join("cache"));
        command.current_dir(self.path()).env_remove("TICKSTOCK_TOKEN").env_remove("TICKSTOCK_QUEUE");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tickstock")
    }
}

/// A `tickstock serve` child on 127.0.0.1:0; killed when dropped.
struct Served {
    child: Child,
    /// `127.0.0.1:<port>`, from the banner.
    address: String,
    /// Every stderr line so far.
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scratch {
    /// Starts `tickstock serve` with `args` after the defaults (port 0, a SQLite file in
    /// the scratch folder) and waits for its banner.
    fn serve(&self, args: &[&str]) -> Served {
        let db = self.file("served.db").display().to_string();
        let mut command = self.command();
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        if !args.contains(&"--db") {
            command.args(["--db", &db]);
        }
        self.serve_with(command)
    }

    fn serve_with(&self, mut command: Command) -> Served {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start tickstock serve");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (banner_sender, banner) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                // Kept before the banner is announced, so a test that reads the log right
                // after the server is up always finds the banner in it.
                let address = line
                    .split_once("listening on http://")
                    .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default().to_string());
                kept.lock().unwrap().push(line);
                if let Some(address) = address {
                    let _ = banner_sender.send(Some(address));
                }
            }
            let _ = banner_sender.send(None);
        });
        // The bound only keeps a broken build from hanging the suite.
        let address = banner.recv_timeout(Duration::from_secs(300)).ok().flatten();
        let Some(address) = address else {
            let _ = child.kill();
            panic!("serve did not start: {:?}", stderr.lock().unwrap());
        };
        Served { child, address, stderr }
    }
}

/// One HTTP/1.1 exchange on a fresh connection: status and JSON body (Null if none).
fn http(address: &str, method: &str, path: &str, host: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read the response");
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

impl Served {
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        http(&self.address, method, path, &self.address, &[], body.as_bytes())
    }

    fn post_load(&self, body: &str) -> (u16, Value) {
        self.request("POST", "/loads", body)
    }

    fn assert_healthy(&self) {
        let (status, body) = self.request("GET", "/health", "");
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    }
}

/// An error reply in the API's shape: `{"error": "<one line>"}`, nothing else.
fn assert_api_error(reply: &(u16, Value), status: u16) -> String {
    let (got, body) = reply;
    assert_eq!(*got, status, "{body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("not the API's error shape: {body}"));
    assert_eq!(body.as_object().map(|fields| fields.len()), Some(1), "{body}");
    assert!(!message.contains('\n') && message.len() < 400, "{message}");
    message.to_string()
}

#[test]
fn post_loads_takes_only_a_typed_request_and_names_no_file() {
    let scratch = Scratch::new();
    let served = scratch.serve(&[]);
    // A body that names a file is a 400 that reads nothing.
    let message = assert_api_error(&served.post_load(r#"{"symbols":"@/etc/passwd"}"#), 400);
    assert!(!message.contains("root:"), "{message}");
    assert_api_error(&served.post_load("{}"), 400);
    assert_api_error(&served.post_load(r#"{"symbols":[]}"#), 400);
    assert_api_error(&served.post_load(r#"{"symbols":2,"db":"/tmp/other.db"}"#), 400);
    assert_api_error(&served.post_load(r#"{"symbols":2,"years":300000}"#), 400);
    assert_api_error(&served.post_load(r#"{"symbols":2,"years":0}"#), 400);
    assert_api_error(&served.post_load(r#"{"symbols":["-5"]}"#), 400);
    assert_api_error(&served.post_load("not json"), 400);
    let (status, body) = served.post_load(r#"{"symbols":["AAPL","MSFT,XNAS"],"years":1}"#);
    assert_eq!(status, 202, "{body}");
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    let (status, _) = served.request("GET", &format!("/loads/{}", body["id"].as_str().unwrap()), "");
    assert_eq!(status, 200);
    served.assert_healthy();
}

#[test]
fn axum_rejections_come_out_in_the_api_error_shape() {
    let scratch = Scratch::new();
    let served = scratch.serve(&[]);
    assert_api_error(&served.request("DELETE", "/health", ""), 405);
    assert_api_error(&served.request("GET", "/no/such/route", ""), 404);
    assert_api_error(&served.request("GET", "/calendars/%FF/status", ""), 400);
    // Exactly one byte over the limit: the server reads the whole body before refusing it,
    // so the connection is not reset under the reply.
    let oversized = vec![b' '; tickstock::server::DEFAULT_MAX_BODY_BYTES + 1];
    assert_api_error(&http(&served.address, "POST", "/loads", &served.address, &[], &oversized), 413);
    served.assert_healthy();
}

#[test]
fn without_a_token_only_loopback_host_names_are_served() {
    let scratch = Scratch::new();
    let served = scratch.serve(&[]);
    let port = served.address.rsplit_once(':').unwrap().1;
    for host in [format!("evil.example:{port}"), format!("127.0.0.1.evil.example:{port}"), "127.0.0.1:1".to_string()] {
        assert_api_error(&http(&served.address, "GET", "/health", &host, &[], b""), 403);
        assert_api_error(&http(&served.address, "POST", "/loads", &host, &[], br#"{"symbols":1}"#), 403);
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(http(&served.address, "GET", "/health", &host, &[], b"").0, 200);
    }
}

#[test]
fn a_token_server_serves_any_host_name_but_only_with_the_token() {
    let scratch = Scratch::new();
    let token = "a-long-enough-test-token-1234";
    std::fs::write(scratch.file("token"), format!("{token}\n")).unwrap();
    let token_file = scratch.file("token").display().to_string();
    let served = scratch.serve(&["--token-file", &token_file]);
    let port = served.address.rsplit_once(':').unwrap().1;
    let host = format!("tickstock.internal:{port}");
    assert_eq!(http(&served.address, "GET", "/health", &host, &[], b"").0, 200);
    assert_api_error(&http(&served.address, "POST", "/loads", &host, &[], br#"{"symbols":1}"#), 401);
    let bearer = format!("Bearer {token}");
    let accepted = http(&served.address, "POST", "/loads", &host, &[("Authorization", &bearer)], br#"{"symbols":1}"#);
    assert_eq!(accepted.0, 202, "{}", accepted.1);
}

#[test]
fn the_ledger_and_queue_routes_bound_their_queries_and_retry_needs_the_token() {
    let scratch = Scratch::new();
    let token = "a-long-enough-test-token-5678";
    std::fs::write(scratch.file("token"), format!("{token}\n")).unwrap();
    let token_file = scratch.file("token").display().to_string();
    let served = scratch.serve(&["--token-file", &token_file]);
    let host = served.address.clone();
    let get = |path: &str| http(&served.address, "GET", path, &host, &[], b"");
    // Page sizes are bounded, ids are ids, unknown query fields are refused.
    assert_api_error(&get("/loads?limit=0"), 400);
    assert_api_error(&get("/loads?limit=501"), 400);
    assert_api_error(&get("/loads?limit=99999999999999999999999"), 400);
    assert_api_error(&get("/loads?before=..%2F..%2Fetc"), 400);
    assert_api_error(&get("/loads?sql=drop"), 400);
    assert_api_error(&get(&format!("/loads/{}", "x".repeat(65))), 400);
    assert_api_error(&get("/loads/a%27%3B--"), 400);
    assert_api_error(&get("/loads/0000-unknown"), 404);
    assert_api_error(&get("/jobs/dead?limit=0"), 400);
    assert_api_error(&get("/jobs/dead?limit=10001"), 400);
    assert_eq!(get("/loads?limit=500").0, 200);
    assert_eq!(get("/jobs/dead?limit=10000").0, 200);
    assert_eq!(get("/jobs").0, 200);
    // Retrying dead letters changes what runs: the token is required.
    assert_api_error(&http(&served.address, "POST", "/jobs/retry-dead", &host, &[], b""), 401);
    let bearer = format!("Bearer {token}");
    let retried = http(&served.address, "POST", "/jobs/retry-dead", &host, &[("Authorization", &bearer)], b"");
    assert_eq!(retried.0, 200, "{}", retried.1);
    assert_eq!(retried.1["queued_again"], 0);
    served.assert_healthy();
}

#[test]
fn short_or_blank_tokens_are_refused_from_every_source() {
    let scratch = Scratch::new();
    std::fs::write(scratch.file("short-token"), "abc\n").unwrap();
    let short_file = scratch.file("short-token").display().to_string();
    let cases: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["--token", "x"], None),
        (vec!["--token", "   "], None),
        (vec!["--token", "fifteen-chars!!"], None),
        (vec!["--token-file", &short_file], None),
        (vec![], Some("short")),
    ];
    for (args, environment) in cases {
        let mut command = scratch.command();
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(&args);
        if let Some(token) = environment {
            command.env("TICKSTOCK_TOKEN", token);
        }
        // A server that accepted the token would serve for ever: it is given a bounded
        // while to refuse, then stopped and counted as a failure.
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut waited = 0;
        while child.try_wait().unwrap().is_none() && waited < 600 {
            std::thread::sleep(Duration::from_millis(100));
            waited += 1;
        }
        let running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!running && !output.status.success(), "{args:?} was accepted: {stderr}");
        assert!(stderr.contains("at least 16 characters"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let scratch = Scratch::new();
    let served = scratch.serve(&["--header-read-timeout-secs", "1"]);
    let mut stream = TcpStream::connect(&served.address).unwrap();
    // Without the timeout the server waits for ever and this read gives up with an
    // error (the bound only keeps a broken build from hanging the suite).
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(format!("GET /health HTTP/1.1\r\nHost: {}\r\nX-Slow: ", served.address).as_bytes()).unwrap();
    let mut reply = Vec::new();
    let outcome = stream.read_to_end(&mut reply);
    assert!(outcome.is_ok(), "the server kept a slow client's connection open: {outcome:?}");
    served.assert_healthy();
}

#[test]
fn a_request_over_the_symbol_cap_is_refused() {
    let scratch = Scratch::new();
    let served = scratch.serve(&["--max-symbols-per-request", "3"]);
    let message = assert_api_error(&served.post_load(r#"{"symbols":4}"#), 400);
    assert!(message.contains("limit of 3"), "{message}");
    assert_api_error(&served.post_load(r#"{"symbols":["A","B","C","D"]}"#), 400);
    assert_eq!(served.post_load(r#"{"symbols":3}"#).0, 202);
}

/// A CLI attack: a one-line error, a failure exit, no panic, and no store file created.
fn assert_refused_cleanly(scratch: &Scratch, args: &[&str]) -> String {
    let db = scratch.file("refused.db");
    let mut all = args.to_vec();
    let db_text = db.display().to_string();
    all.extend(["--db", &db_text]);
    let output = scratch.run(&all);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{args:?}: {stderr}");
    assert!(!db.exists(), "{args:?} created {}", db.display());
    stderr
}

#[test]
fn absurd_command_line_numbers_are_one_line_errors_that_create_nothing() {
    let scratch = Scratch::new();
    for command in ["load", "plan"] {
        let stderr = assert_refused_cleanly(&scratch, &[command, "--years", "300000"]);
        assert!(stderr.contains("years 300000 is out of range"), "{stderr}");
        assert_refused_cleanly(&scratch, &[command, "--years", "0"]);
        let stderr = assert_refused_cleanly(&scratch, &[command, "--symbols=-5"]);
        assert!(stderr.contains("not a ticker"), "{stderr}");
        assert_refused_cleanly(&scratch, &[command, "--symbols", "0"]);
        assert_refused_cleanly(&scratch, &[command, "--symbols", "2", "--exchange", "XXXX"]);
        assert_refused_cleanly(&scratch, &[command, "--symbols", "2", "--policy", "no-such-policy"]);
        assert_refused_cleanly(&scratch, &[command, "--symbols", "2", "--from", "1900-01-02", "--to", "1900-12-31"]);
    }
}

/// Deletes every Redis key under a test's prefix when dropped.
struct RedisPrefix {
    url: String,
    prefix: String,
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        if let Ok(mut connection) = redis::Client::open(self.url.as_str()).and_then(|client| client.get_connection()) {
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut connection).unwrap_or_default();
            for key in keys {
                let _: Result<(), _> = redis::cmd("DEL").arg(key).query(&mut connection);
            }
        }
    }
}

#[test]
fn a_worker_dead_letters_payloads_it_cannot_trust_and_stores_none_of_them() {
    use tickstock::plan::{Gap, Tier, Timeframe};
    use tickstock::queue::{JobPayload, JobQueue, Queue, QueueOptions};

    let Some(url) = redis_url() else { return };
    let prefix = format!("tickstock-security:{}:", tickstock::queue::new_job_id());
    let _keys = RedisPrefix { url: url.clone(), prefix: prefix.clone() };
    let day = |year, month, day| chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap();
    let gap = Gap {
        symbol: "AAPL".into(),
        exchange: "XNYS".into(),
        start: day(2024, 1, 2),
        end: day(2024, 1, 2),
        sessions: 1,
    };
    let jobs = vec![
        // An empty symbol.
        JobPayload::new("hostile", Tier::Normal, Timeframe::Daily, vec![Gap { symbol: String::new(), ..gap.clone() }]),
        // Ten years of minute bars claiming one session: a 300 MB job that reserved 40 KB.
        JobPayload::new(
            "hostile",
            Tier::Normal,
            Timeframe::Minute,
            vec![Gap { start: day(2014, 1, 2), end: day(2023, 12, 29), ..gap.clone() }],
        ),
        // An attempt count at the top of its range: adding the delivery must not wrap.
        JobPayload { attempt: u32::MAX, ..JobPayload::new("hostile", Tier::Normal, Timeframe::Daily, vec![gap]) },
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = QueueOptions { key_prefix: prefix.clone(), ..QueueOptions::default() };
        let queue = Queue::open(Some(&url), options).await.unwrap();
        queue.enqueue_many(&jobs).await.unwrap();
    });

    let scratch = Scratch::new();
    let db = scratch.file("worker.db").display().to_string();
    let queue_args = ["--queue", url.as_str(), "--queue-prefix", prefix.as_str()];
    let mut worker = vec!["worker", "--exit-when-idle", "--db", db.as_str()];
    worker.extend(queue_args);
    let output = scratch.run(&worker);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Dead letters are not an error, but a script must see them: exit code 3, and the
    // summary counts all three, the unreadable one included.
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(", 3 dead,"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let mut dead = vec!["jobs", "dead", "--json"];
    dead.extend(queue_args);
    let output = scratch.run(&dead);
    let dead: Value = serde_json::from_slice(&output.stdout).expect("dead letters as JSON");
    let reasons: Vec<&str> = dead.as_array().unwrap().iter().filter_map(|entry| entry["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|reason| reason.contains("not a ticker")), "{reasons:?}");
    assert!(reasons.iter().any(|reason| reason.contains("claims 1 sessions")), "{reasons:?}");
    assert!(reasons.iter().any(|reason| reason.contains("deliver")), "{reasons:?}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stored = runtime.block_on(async {
        let store = tickstock::store::Store::open(&db).await.unwrap();
        let count = store.count_bars(&tickstock::store::BarSelection::default()).await.unwrap();
        store.close().await;
        count
    });
    assert_eq!(stored, 0);
}

/// A password and an API key that must never be printed.
const PASSWORD: &str = "Pw-never-printed-8d2f";
const API_KEY: &str = "Key-never-printed-41c7";

fn assert_no_secret(what: &str, output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(PASSWORD) && !text.contains(API_KEY), "{what} printed a secret: {text}");
    }
}

#[test]
fn passwords_and_api_keys_never_appear_in_any_output() {
    let (Some(postgres), Some(redis)) = (postgres_url(), redis_url()) else { return };
    let database = TestDatabase::create(&postgres);
    // PostgreSQL here trusts local users, so the password is carried and ignored.
    let db = format!("{}?password={PASSWORD}", database.url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1));
    let unreachable_db = format!("postgres://tickstock:{PASSWORD}@127.0.0.1:1/db?sslpassword={PASSWORD}");
    // Redis here has no password, so a URL with one fails to authenticate: its error too
    // must not show it.
    let locked_queue = redis.replacen("redis://", &format!("redis://:{PASSWORD}@"), 1);
    let unreachable_queue = format!("redis://:{PASSWORD}@127.0.0.1:1/0?token={API_KEY}");
    let scratch = Scratch::new();
    let http_env = [
        ("TICKSTOCK_HTTP_API_KEY", API_KEY.to_string()),
        ("TICKSTOCK_HTTP_BASE_URL", format!("http://127.0.0.1:1/?apikey={API_KEY}")),
    ];
    let run = |what: &str, args: &[&str], environment: &[(&str, String)]| {
        let mut command = scratch.command();
        command.args(args);
        for (name, value) in environment.iter().chain(&http_env) {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert_no_secret(what, &output);
        output
    };

    let load = run("load", &["load", "--symbols", "3", "--report", "json", "--progress", "none", "--db", &db], &[]);
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    let report: Value = serde_json::from_slice(&load.stdout).unwrap();
    assert!(report.to_string().contains("postgres:***@"), "{report}");
    run("load (env)", &["load", "--symbols", "3", "--progress", "none"], &[("TICKSTOCK_DB", db.clone())]);
    run("plan", &["plan", "--symbols", "3", "--db", &db], &[]);
    run("plan --json", &["plan", "--symbols", "3", "--json"], &[("TICKSTOCK_DB", db.clone())]);
    for bad_db in [&unreachable_db, &format!("mysql://root:{PASSWORD}@host/db")] {
        let output = run("load (bad store)", &["load", "--symbols", "3", "--db", bad_db], &[]);
        assert!(!output.status.success());
        run("plan (bad store)", &["plan", "--symbols", "3", "--db", bad_db], &[]);
    }
    let http_load = run(
        "load --provider http",
        &[
            "load",
            "--symbols",
            "1",
            "--from",
            "2020-01-02",
            "--to",
            "2020-01-10",
            "--provider",
            "http",
            "--max-deliveries",
            "1",
            "--progress",
            "none",
            "--db",
            &db,
        ],
        &[],
    );
    assert!(!http_load.status.success(), "an unreachable vendor cannot load");
    for queue in [&locked_queue, &unreachable_queue] {
        run("worker", &["worker", "--exit-when-idle", "--db", &db, "--queue", queue], &[]);
        run("worker (env)", &["worker", "--exit-when-idle", "--db", &db], &[("TICKSTOCK_QUEUE", queue.clone())]);
        run("jobs status", &["jobs", "status", "--queue", queue], &[]);
        run("load --submit-only", &["load", "--symbols", "2", "--submit-only", "--db", &db, "--queue", queue], &[]);
    }

    // serve: its banner, and an error of its own.
    let served = scratch.serve(&["--db", &db]);
    let (_, reply) = served.post_load(r#"{"symbols":["AAPL"],"exchange":"NOPE"}"#);
    assert!(!reply.to_string().contains(PASSWORD));
    drop(served);
    let banner = scratch.serve(&["--db", &db]).stderr.lock().unwrap().join("\n");
    assert!(banner.contains("postgres:***@"), "{banner}");
    assert!(!banner.contains(PASSWORD), "{banner}");
    let refused = run("serve (bad store)", &["serve", "--listen", "127.0.0.1:0", "--db", &unreachable_db], &[]);
    assert!(!refused.status.success());
}

#[test]
fn a_refused_connection_is_reported_once_with_the_redacted_url() {
    let scratch = Scratch::new();
    let url = format!("postgres://tickstock:{PASSWORD}@127.0.0.1:1/db");
    let output = scratch.run(&["load", "--symbols", "2", "--db", &url]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("postgres://tickstock:***@127.0.0.1:1/db"), "{stderr}");
    assert_eq!(stderr.matches("refused").count(), 1, "each cause once: {stderr}");
    let output = scratch.run(&["load", "--symbols", "2", "--queue", "redis://127.0.0.1:1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("redis://127.0.0.1:1"), "{stderr}");
}

#[test]
fn a_dry_run_and_a_refused_store_leave_every_file_as_it_was() {
    let scratch = Scratch::new();
    // plan against a store that does not exist: all missing, nothing created.
    let missing = scratch.file("missing.db");
    let output = scratch.run(&["plan", "--symbols", "2", "--json", "--db", &missing.display().to_string()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["sessions_missing"], summary["sessions_expected"]);
    assert!(!missing.exists(), "plan created the store");
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .filter(|name| name != "cache")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Someone else's SQLite file: refused, byte for byte untouched.
    let foreign = scratch.file("foreign.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&foreign).create_if_missing(true);
        let mut connection = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            .execute(&mut connection)
            .await
            .unwrap();
        sqlx::query("INSERT INTO invoices (total) VALUES (12.5)").execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    });
    let before = std::fs::read(&foreign).unwrap();
    for command in ["load", "plan"] {
        let output = scratch.run(&[command, "--symbols", "2", "--db", &foreign.display().to_string()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command} used someone else's file");
        assert!(stderr.contains("not a tickstock store") && stderr.contains("invoices"), "{stderr}");
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), before, "the foreign file changed");
    assert!(!scratch.file("foreign.db-wal").exists());

    // A PostgreSQL URL without a database name is refused before connecting.
    for url in ["postgres://postgres@127.0.0.1:5432", "postgres://postgres@127.0.0.1:5432/"] {
        let output = scratch.run(&["load", "--symbols", "2", "--db", url]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url} was accepted");
        assert!(stderr.contains("names no database"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_finding_no_planning_slot_gets_a_503_in_the_api_shape() {
    use tickstock::server::{self, ServeLimits};
    let cache = tempfile::tempdir().unwrap();
    let runtime_options =
        tickstock::plugin::RuntimeOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };
    let assembled = tokio::task::spawn_blocking(move || {
        tickstock::server::assemble(runtime_options, None, None, Duration::from_millis(100))
    })
    .await
    .unwrap()
    .unwrap();
    let state = assembled.state;
    let store = tickstock::store::Store::open(&cache.path().join("s.db").display().to_string()).await.unwrap();
    let queue = tickstock::queue::Queue::open(None, Default::default()).await.unwrap();
    let loads = server::loads::LoadsState {
        registry: state.registry.clone(),
        store,
        queue,
        limits: Default::default(),
        // Every slot taken, as by loads still planning.
        planning: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
    };
    let app = server::router(state.clone()).merge(server::loads::routes(loads, state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::run(listener, app, ServeLimits::for_token(None), async move {
        let _ = stopped.await;
    }));
    let reply = tokio::task::spawn_blocking(move || {
        let reply = http(&address, "POST", "/loads", &address, &[], br#"{"symbols":1}"#);
        let health = http(&address, "GET", "/health", &address, &[], b"");
        (reply, health)
    })
    .await
    .unwrap();
    let message = assert_api_error(&reply.0, 503);
    assert!(message.contains("retry"), "{message}");
    assert_eq!(reply.1.0, 200);
    let _ = stop.send(());
}
