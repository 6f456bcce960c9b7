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

use crate::support::tickstock;

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
        command.args(["serve", "--listen", "127.0.0.1:0", "--db", &db]).args(args);
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
                if let Some(rest) = line.split_once("listening on http://").map(|(_, rest)| rest) {
                    let address = rest.split_whitespace().next().unwrap_or_default().to_string();
                    let _ = banner_sender.send(Some(address));
                }
                kept.lock().unwrap().push(line);
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
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
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
