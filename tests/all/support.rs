//! Shared test plumbing: where the built guests are, how to run the binary, and how to
//! reach the external services.
//!
//! Services are found through the environment: `TICKSTOCK_TEST_POSTGRES_URL` and
//! `TICKSTOCK_TEST_REDIS_URL` (`.ci/run` sets both). On a laptop without them a test that
//! needs one prints why and returns early; under `CI=true` a missing service fails the test.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Folder holding every guest built by host/build.rs, test fixtures included.
pub fn guest_dir() -> PathBuf {
    PathBuf::from(env!("TICKSTOCK_GUEST_DIR"))
}

/// Path of one built guest, e.g. `fixture_hostile_calendar.wasm`.
pub fn guest(file_name: &str) -> PathBuf {
    let path = guest_dir().join(file_name);
    assert!(path.exists(), "guest {} was not built", path.display());
    path
}

/// The plugin deadline of the `tickstock` runs of the tests, in milliseconds (see
/// `tickstock`).
pub const PATIENT_DEADLINE_MS: u64 = 5_000;

/// A `tickstock` command with its artifact cache in the given temp dir, so tests write
/// nothing outside temp dirs. Its plugin calls get the patient deadline of
/// `patient_runtime_options` (a test of the deadline passes `--plugin-deadline-ms`, which
/// beats the variable): every run loads and gates the built-ins, and on a 2-core machine
/// running the suite in parallel one calendar's gate once took over the production 100 ms.
pub fn tickstock(cache_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .env("TICKSTOCK_CACHE_DIR", cache_dir)
        .env("TICKSTOCK_PLUGIN_DEADLINE_MS", PATIENT_DEADLINE_MS.to_string())
        .env_remove("TICKSTOCK_DB")
        .env_remove("TICKSTOCK_SERVER")
        .env_remove("TICKSTOCK_TOKEN")
        .env_remove("TICKSTOCK_CONFIG");
    command
}

/// Runtime options for tests that are not about the call deadline: the default 100 ms is
/// a production limit, and on a loaded 2-core machine running the suite in parallel a
/// policy's `plan` or a calendar year can take longer, which would fail a test of what the
/// plugin answers for a reason it does not test. The deadline tests set their own.
pub fn patient_runtime_options() -> tickstock::plugin::RuntimeOptions {
    let limits = tickstock::plugin::Limits {
        deadline: std::time::Duration::from_secs(10),
        ..tickstock::plugin::Limits::default()
    };
    tickstock::plugin::RuntimeOptions { limits, ..tickstock::plugin::RuntimeOptions::default() }
}

fn under_ci() -> bool {
    std::env::var("CI").map(|value| value == "true" || value == "1").unwrap_or(false)
}

/// The URL of a service from `variable`, or None (with a printed reason) when it is not
/// configured on a developer machine. Under CI a missing service is a test failure.
fn service_url(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if under_ci() => panic!("CI=true but {variable} is not set: {what} is required"),
        _ => {
            eprintln!("skipping: {variable} is not set, so this test has no {what} to run against");
            None
        }
    }
}

/// PostgreSQL URL for tests (`TICKSTOCK_TEST_POSTGRES_URL`).
pub fn postgres_url() -> Option<String> {
    service_url("TICKSTOCK_TEST_POSTGRES_URL", "PostgreSQL")
}

/// Redis URL for tests (`TICKSTOCK_TEST_REDIS_URL`).
pub fn redis_url() -> Option<String> {
    service_url("TICKSTOCK_TEST_REDIS_URL", "Redis")
}

/// A fresh PostgreSQL database for one test, dropped (with everything in it) when the
/// guard goes. `admin_url` names any database the test user may connect to.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create(admin_url: &str) -> TestDatabase {
        let name = format!(
            "tickstock_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()
        );
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(admin_url).await.expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await.unwrap();
        });
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(admin_url);
        TestDatabase { admin_url: admin_url.to_string(), url: format!("{base}/{name}"), name }
    }

    /// The first column of the first row of `sql` as an integer (a count).
    pub fn count(&self, sql: &str) -> i64 {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut connection).await.unwrap_or_else(|error| panic!("{sql}: {error}"))
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            if let Ok(mut connection) = sqlx::PgConnection::connect(&self.admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut connection)
                    .await;
            }
        });
    }
}

// ---- a real `tickstock serve` --------------------------------------------------------

/// The watcher's debounce in these tests: short, so "many debounce intervals" is quick.
pub const DEBOUNCE_MS: u64 = 50;

/// A `tickstock serve` child whose stderr lines are collected as they come.
pub struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    pub base: String,
    _scratch: tempfile::TempDir,
}

impl Serve {
    pub fn start(folder: &Path, extra_args: &[&str], environment: &[(&str, &str)]) -> Serve {
        let scratch = tempfile::tempdir().unwrap();
        // A free port chosen here, so the test knows it even when nothing is logged.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let db = scratch.path().join("serve.db");
        let mut command = tickstock(scratch.path());
        command
            .args(["serve", "--listen", &listen, "--watch-debounce-ms", &DEBOUNCE_MS.to_string()])
            .arg("--plugins")
            .arg(folder);
        // A SQLite file of its own unless the test names the store.
        if !extra_args.contains(&"--db") {
            command.arg("--db").arg(&db);
        }
        command
            .args(extra_args)
            .env_remove("RUST_LOG")
            .env_remove("TICKSTOCK_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in environment {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start tickstock serve");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let serve = Serve { child, lines, base: format!("http://{listen}"), _scratch: scratch };
        serve.wait_until("the server answers /health", |serve| serve.get("/health").0 == 200);
        serve
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.lines().into_iter().filter(|line| line.contains(needle)).collect()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http("GET", &format!("{}{path}", self.base))
    }

    pub fn post(&self, path: &str) -> (u16, String) {
        http("POST", &format!("{}{path}", self.base))
    }

    /// Plugin load failures counted by `/metrics`, over every plugin label.
    pub fn load_failures(&self) -> u64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .filter(|line| line.starts_with("tickstock_plugin_load_failures_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Polls `condition` until it holds, or fails the test after 30 s with the log.
    pub fn wait_until(&self, what: &str, condition: impl Fn(&Serve) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !condition(self) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}; log:\n{}", self.lines().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lets the watcher run for `intervals` debounce periods: for properties that say
    /// something does *not* happen again.
    pub fn idle_for(intervals: u64) {
        std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * intervals));
    }

    pub fn stop(mut self) -> Vec<String> {
        // SIGTERM, as a service manager stops it; then the remaining log lines.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        self.lines()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange over a fresh connection: (status, body).
pub fn http(method: &str, url: &str) -> (u16, String) {
    http_with_body(method, url, "")
}

/// `http` with a JSON request body.
pub fn http_with_body(method: &str, url: &str, body: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map(|(host, path)| (host, format!("/{path}"))).unwrap();
    let Ok(mut stream) = std::net::TcpStream::connect(host) else { return (0, String::new()) };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

// ---- child processes and a Redis of the test's own ------------------------------------

/// A child's stderr, read on a thread (so a chatty child never blocks on a full pipe)
/// into a buffer the test can watch while the child runs.
pub struct CapturedStderr {
    text: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl CapturedStderr {
    pub fn contains(&self, fragment: &str) -> bool {
        self.text.lock().unwrap().contains(fragment)
    }

    /// What the child wrote so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything the child wrote, once it has closed its stderr (exited).
    pub fn finish(self) -> String {
        self.reader.join().expect("the stderr reader does not panic");
        Arc::try_unwrap(self.text).expect("the reader is done").into_inner().unwrap()
    }
}

pub fn capture_stderr(child: &mut Child) -> CapturedStderr {
    use std::io::BufRead as _;
    let text = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr piped");
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    CapturedStderr { text, reader }
}

/// A Redis server of the test's own, persisting with AOF, on a free port.
pub struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = OwnRedis { port, dir: tempfile::tempdir().unwrap(), child: None };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--maxmemory-policy", "noeviction"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
