//! The plugin folder over time and over restarts, and the logs an operator reads, against
//! the real `tickstock serve` binary: a refused file is checked, logged and counted once
//! per content; after a pin refusal the log says what this process serves, and a restart
//! serves what its own log says; JSON logs parse line by line; `RUST_LOG=off` is silent.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{guest, tickstock};

/// The watcher's debounce in these tests: short, so "many debounce intervals" is quick.
const DEBOUNCE_MS: u64 = 50;

/// A `tickstock serve` child whose stderr lines are collected as they come.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    base: String,
    _scratch: tempfile::TempDir,
}

impl Serve {
    fn start(folder: &Path, extra_args: &[&str], environment: &[(&str, &str)]) -> Serve {
        let scratch = tempfile::tempdir().unwrap();
        // A free port chosen here, so the test knows it even when nothing is logged.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let db = scratch.path().join("serve.db");
        let mut command = tickstock(scratch.path());
        command
            .args(["serve", "--listen", &listen, "--watch-debounce-ms", &DEBOUNCE_MS.to_string()])
            .arg("--plugins")
            .arg(folder)
            .arg("--db")
            .arg(&db)
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

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.lines().into_iter().filter(|line| line.contains(needle)).collect()
    }

    fn get(&self, path: &str) -> (u16, String) {
        http("GET", &format!("{}{path}", self.base))
    }

    fn post(&self, path: &str) -> (u16, String) {
        http("POST", &format!("{}{path}", self.base))
    }

    /// Plugin load failures counted by `/metrics`, over every plugin label.
    fn load_failures(&self) -> u64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .filter(|line| line.starts_with("tickstock_plugin_load_failures_total"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Polls `condition` until it holds, or fails the test after 30 s with the log.
    fn wait_until(&self, what: &str, condition: impl Fn(&Serve) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !condition(self) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}; log:\n{}", self.lines().join("\n"));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lets the watcher run for `intervals` debounce periods: for properties that say
    /// something does *not* happen again.
    fn idle_for(intervals: u64) {
        std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * intervals));
    }

    fn stop(mut self) -> Vec<String> {
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
fn http(method: &str, url: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map(|(host, path)| (host, format!("/{path}"))).unwrap();
    let Ok(mut stream) = std::net::TcpStream::connect(host) else { return (0, String::new()) };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

/// Writes `bytes` as `folder/name` the atomic way (a temp name, then a rename).
fn publish(folder: &Path, name: &str, bytes: &[u8]) {
    let temp = folder.join(format!(".{name}.part"));
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, folder.join(name)).unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn plugin_folder() -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().canonicalize().unwrap();
    (folder, path)
}

#[test]
fn a_refused_file_is_logged_and_counted_once_per_content() {
    let (_folder, folder) = plugin_folder();
    let serve = Serve::start(&folder, &[], &[]);
    publish(&folder, "junk.wasm", b"not a component, version 1");
    serve.wait_until("the junk file is refused", |serve| serve.load_failures() == 1);
    // Reads of the file (a backup, a checksum), a writer that opens and closes it without
    // a change, and many quiet debounce periods later, it has still been checked once.
    for _ in 0..5 {
        let _ = std::fs::read(folder.join("junk.wasm")).unwrap();
        drop(std::fs::OpenOptions::new().append(true).open(folder.join("junk.wasm")).unwrap());
        Serve::idle_for(4);
    }
    assert_eq!(serve.load_failures(), 1, "a refused file was checked again without a change");
    assert_eq!(serve.lines_containing("plugin file refused").len(), 1, "{:#?}", serve.lines());

    // New content is checked (and refused) once more; a reload checks everything anew.
    publish(&folder, "junk.wasm", b"not a component, version 2");
    serve.wait_until("the new content is refused", |serve| serve.load_failures() == 2);
    let (status, body) = serve.post("/plugins/reload");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not WebAssembly"), "a reload checks a refused file anew: {body}");
    assert_eq!(serve.load_failures(), 3);
    let lines = serve.stop();
    assert_eq!(lines.iter().filter(|line| line.contains("plugin file refused")).count(), 2, "{lines:#?}");
}

#[test]
fn after_a_pin_refusal_a_restart_serves_what_its_log_says() {
    let (_folder, folder) = plugin_folder();
    let v1 = std::fs::read(guest("fixture_swap_v1.wasm")).unwrap();
    let v2 = std::fs::read(guest("fixture_swap_v2.wasm")).unwrap();
    std::fs::write(folder.join("pins.txt"), format!("{}  zzswap.wasm\n", sha256_hex(&v1))).unwrap();
    publish(&folder, "zzswap.wasm", &v1);

    let serve = Serve::start(&folder, &[], &[]);
    assert_eq!(serve.get("/calendars/ZZSWAP/status").0, 200, "v1 is pinned and serves");
    publish(&folder, "zzswap.wasm", &v2);
    serve.wait_until("v2 is refused by the pins", |serve| !serve.lines_containing("plugin file refused").is_empty());
    let refusal = serve.lines_containing("plugin file refused").remove(0);
    assert!(refusal.contains("calendar/ZZSWAP generation") && refusal.contains("keeps serving"), "{refusal}");
    assert!(refusal.contains(&sha256_hex(&v1)[..12]), "the log names the bytes that serve: {refusal}");
    assert_eq!(serve.get("/calendars/ZZSWAP/status").0, 200, "this process still has v1");
    serve.stop();

    // Restarted on the same folder, the process never had v1: its log says nothing
    // serves ZZSWAP, and indeed nothing does.
    let serve = Serve::start(&folder, &[], &[]);
    let refusal = serve.lines_containing("plugin file refused");
    assert_eq!(refusal.len(), 1, "{:#?}", serve.lines());
    assert!(refusal[0].contains("nothing serves calendar/ZZSWAP"), "{}", refusal[0]);
    assert!(!serve.lines().iter().any(|line| line.contains("keeps serving")), "{:#?}", serve.lines());
    assert_eq!(serve.get("/calendars/ZZSWAP/status").0, 404);
    serve.stop();

    // Pinning both hashes (roll-forward and rollback) lets v2 load.
    std::fs::write(
        folder.join("pins.txt"),
        format!("{}  zzswap.wasm\n{}  zzswap.wasm\n", sha256_hex(&v1), sha256_hex(&v2)),
    )
    .unwrap();
    let serve = Serve::start(&folder, &[], &[]);
    assert_eq!(serve.get("/calendars/ZZSWAP/status").0, 200);
    assert!(serve.lines_containing("plugin file refused").is_empty(), "{:#?}", serve.lines());
    assert!(
        serve.lines().iter().any(|line| line.contains("plugin=calendar/ZZSWAP") && line.contains(&sha256_hex(&v2))),
        "the start-up log names what serves each slot: {:#?}",
        serve.lines()
    );
    serve.stop();
}

#[test]
fn json_logs_parse_line_by_line() {
    let (_folder, folder) = plugin_folder();
    publish(&folder, "junk.wasm", b"junk");
    let serve = Serve::start(&folder, &["--log-format", "json"], &[("NO_COLOR", "")]);
    let lines = serve.stop();
    assert!(lines.len() > 3, "{lines:#?}");
    let mut levels = Vec::new();
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "an ANSI escape in a log line: {line:?}");
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.get(key).is_some(), "{key} missing: {line}");
        }
        levels.push(object["level"].as_str().unwrap().to_string());
    }
    assert!(levels.iter().any(|level| level == "WARN"), "the refusal is a WARN line: {lines:#?}");
    assert!(lines.iter().any(|line| line.contains("\"file\"")), "fields are JSON fields: {lines:#?}");
}

#[test]
fn rust_log_off_prints_nothing_and_text_logs_carry_no_colour_into_a_pipe() {
    let (_folder, folder) = plugin_folder();
    publish(&folder, "junk.wasm", b"junk");
    let serve = Serve::start(&folder, &[], &[("RUST_LOG", "off")]);
    publish(&folder, "more-junk.wasm", b"more junk");
    Serve::idle_for(10);
    let lines = serve.stop();
    assert!(lines.is_empty(), "RUST_LOG=off printed: {lines:#?}");

    let serve = Serve::start(&folder, &[], &[]);
    let lines = serve.stop();
    assert!(lines.iter().any(|line| line.contains("WARN")), "{lines:#?}");
    assert!(lines.iter().all(|line| !line.contains('\u{1b}')), "ANSI escapes on a pipe: {lines:#?}");

    let scratch = tempfile::tempdir().unwrap();
    let output = tickstock(scratch.path()).args(["plugins", "list", "--log-level", "bogus=level=x"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("log level"), "{output:?}");
}
