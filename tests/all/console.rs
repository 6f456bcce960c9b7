//! The console `serve` serves at `/`: its HTTP face (assets with a Content-Security-Policy,
//! `/events`, the roll-back and dataset routes it uses) against a real server, and the
//! whole console in a real browser (`tests/browser/console.mjs`: playwright-core driving
//! Debian's Chromium headless) against a real server on port 0 with a temp folder and a
//! SQLite store. Without Node.js, the npm package or Chromium the browser test says why
//! it skips; under `CI=true` it fails instead (`.ci/run` installs all three).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Serve, guest};

const TOKEN: &str = "console-test-token-0123456789";

/// One HTTP/1.1 exchange: (status, response head, body).
fn request(base: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String, String) {
    let host = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let authorization = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// An open `/events` stream, read line by line.
struct EventStream {
    reader: BufReader<TcpStream>,
    status: u16,
}

impl EventStream {
    fn open(base: &str) -> EventStream {
        let host = base.strip_prefix("http://").unwrap();
        let mut stream = TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(stream, "GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status = status_line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        EventStream { reader, status }
    }

    /// The next event's name and data (chunk-size lines and comments skipped); None at
    /// the end of the stream.
    fn next_event(&mut self) -> Option<(String, Value)> {
        let mut name = None;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if let Some(event) = line.strip_prefix("event: ") {
                name = Some(event.to_string());
            } else if let Some(data) = line.strip_prefix("data: ")
                && let Some(name) = name.take()
            {
                return Some((name, serde_json::from_str(data).expect("event data is JSON")));
            }
        }
    }
}

#[test]
fn the_console_is_served_with_a_policy_that_allows_no_inline_script() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let (status, head, page) = request(&serve.base, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    let policy = head.lines().find(|line| line.starts_with("content-security-policy:")).expect("a CSP header");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    // Every asset the page names is served, as what it is.
    for (asset, kind) in [("/console/app.js", "text/javascript"), ("/console/app.css", "text/css")] {
        assert!(page.contains(asset), "the page names {asset}");
        let (status, head, body) = request(&serve.base, "GET", asset, None);
        assert_eq!(status, 200, "{asset}");
        assert!(head.contains(&format!("content-type: {kind}")), "{asset}: {head}");
        assert!(!body.is_empty());
    }
    // The same Host rule as the API: a rebinding page cannot read the console either.
    let host = serve.base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    write!(stream, "GET / HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    serve.stop();
}

#[test]
fn events_say_hello_then_name_what_changed_and_end_at_shutdown() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let mut events = EventStream::open(&serve.base);
    assert_eq!(events.status, 200);
    let (name, hello) = events.next_event().expect("a first event");
    assert_eq!(name, "hello");
    assert!(hello["samples"].is_array() && hello["server_time"].is_string(), "{hello}");

    // A plugin swap is announced as `plugins`.
    std::fs::copy(guest("fixture_xnys_extra_closure.wasm"), folder.path().join("xnys.wasm")).unwrap();
    let named = std::iter::from_fn(|| events.next_event()).take(20).find(|(name, _)| name == "plugins");
    assert!(named.is_some(), "no `plugins` event after a swap");

    // A load moves the ledger: `loads`, with its totals.
    let (status, answer) = crate::support::http_with_body(
        "POST",
        &format!("{}/loads", serve.base),
        r#"{"symbols": 2, "exchange": "XNYS", "from": "2024-01-02", "to": "2024-01-31"}"#,
    );
    assert_eq!(status, 202, "{answer}");
    let loads = std::iter::from_fn(|| events.next_event())
        .take(50)
        .find(|(name, data)| name == "loads" && data["totals"]["rows_written"].as_u64() == Some(2 * 21));
    assert!(loads.is_some(), "no `loads` event with the load's 42 rows");

    // Shutdown ends the stream rather than waiting on it.
    let lines = serve.stop();
    assert!(events.next_event().is_none(), "the stream ended");
    assert!(
        !lines.iter().any(|line| line.contains("still in flight")),
        "the shutdown waited on the open stream:\n{}",
        lines.join("\n")
    );
}

#[test]
fn event_streams_are_bounded() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let open: Vec<EventStream> =
        (0..tickstock::server::console::MAX_EVENT_STREAMS).map(|_| EventStream::open(&serve.base)).collect();
    assert!(open.iter().all(|stream| stream.status == 200));
    let refused = EventStream::open(&serve.base);
    assert_eq!(refused.status, 503, "one stream over the bound is refused");
    drop(open);
    // A closed stream gives its place back (the server notices at its next write).
    serve.wait_until("a stream is free again", |serve| EventStream::open(&serve.base).status == 200);
    serve.stop();
}

#[test]
fn a_roll_back_needs_the_token_puts_the_built_in_back_and_outlives_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(guest("fixture_xnys_extra_closure.wasm"), folder.path().join("xnys.wasm")).unwrap();
    let token = [("TICKSTOCK_TOKEN", TOKEN)];
    let serve = Serve::start(folder.path(), &[], &token);
    let xnys = |serve: &Serve| -> Value {
        let (_, body) = serve.get("/plugins");
        let plugins: Value = serde_json::from_str(&body).unwrap();
        plugins["plugins"].as_array().unwrap().iter().find(|entry| entry["name"] == "XNYS").unwrap().clone()
    };
    assert_eq!(xnys(&serve)["builtin"], false);

    let path = "/plugins/calendar/xnys/rollback";
    assert_eq!(request(&serve.base, "POST", path, None).0, 401);
    assert_eq!(request(&serve.base, "POST", path, Some("wrong-token-wrong-token")).0, 401);
    assert_eq!(xnys(&serve)["builtin"], false, "nothing happened without the token");
    let (status, _, body) = request(&serve.base, "POST", path, Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(xnys(&serve)["builtin"], true);
    assert!(!folder.path().join("xnys.wasm").exists());
    assert!(folder.path().join("xnys.wasm.rolled-back").exists(), "the bytes are set aside, not deleted");

    // The swap history has both swaps, newest first, with what each changed.
    let (_, body) = serve.get("/plugins/swaps");
    let swaps: Value = serde_json::from_str(&body).unwrap();
    let swaps = swaps["swaps"].as_array().unwrap();
    assert_eq!(swaps.len(), 2, "the file's load at start, then the roll-back: {swaps:?}");
    let (rolled, loaded) = (&swaps[0], &swaps[1]);
    assert_eq!(loaded["action"], "loaded");
    assert_eq!(loaded["changes"][0]["change"], "added");
    assert_eq!(rolled["action"], "rolled-back");
    assert_eq!(rolled["changed_dates"], 1);
    assert_eq!(rolled["changes"][0]["change"], "removed");
    assert_eq!(rolled["changes"][0]["date"], "2027-03-17");
    assert!(rolled["to"]["source"].as_str().unwrap().starts_with("built-in"), "{rolled}");
    assert_eq!(rolled["from"]["sha256"], loaded["to"]["sha256"]);

    // Again: the built-in serves already.
    assert_eq!(request(&serve.base, "POST", path, Some(TOKEN)).0, 409);
    assert_eq!(request(&serve.base, "POST", "/plugins/nonsense/xnys/rollback", Some(TOKEN)).0, 404);
    serve.stop();

    let restarted = Serve::start(folder.path(), &[], &token);
    assert_eq!(xnys(&restarted)["builtin"], true, "a restart keeps the roll-back");
    restarted.stop();
}

/// Writes `SYMBOL.csv` with three January 2024 sessions into `dir`.
fn write_csv(dir: &Path, symbol: &str) -> PathBuf {
    let rows = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n\
                2024-01-03,10,11,9,10.5,100\n2024-01-04,10,11,9,10.5,100\n";
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{symbol}.csv"));
    std::fs::write(&path, rows).unwrap();
    path
}

#[test]
fn coverage_counts_stored_sessions_per_month_and_gaps_name_the_rest() {
    let scratch = tempfile::tempdir().unwrap();
    let csv = scratch.path().join("csv");
    for symbol in ["AAA", "BBB", "CCC"] {
        write_csv(&csv, symbol);
    }
    let folder = tempfile::tempdir().unwrap();
    let provider = format!("csv:{}", csv.display());
    let serve = Serve::start(folder.path(), &["--provider", &provider], &[]);
    let body = r#"{"symbols": ["AAA", "BBB", "CCC"], "exchange": "XNYS", "from": "2024-01-02", "to": "2024-01-03"}"#;
    let (status, answer) = crate::support::http_with_body("POST", &format!("{}/loads", serve.base), body);
    assert_eq!(status, 202, "{answer}");
    serve.wait_until("the load is done", |serve| serve.get("/loads").1.contains("\"state\":\"done\""));

    // 2024-01 is 36 months back from December 2026 and later; ask for a window that
    // reaches it whatever today is, and find the month by name.
    let months = 12 * (chrono::Datelike::year(&chrono::Utc::now().date_naive()) - 2024) + 12;
    let (status, body) = serve.get(&format!("/datasets/coverage?exchange=xnys&months={months}&limit=2"));
    assert_eq!(status, 200, "{body}");
    let coverage: Value = serde_json::from_str(&body).unwrap();
    let january = coverage["months"].as_array().unwrap().iter().position(|month| month == "2024-01").unwrap();
    assert_eq!(coverage["expected"][january], 21, "XNYS has 21 sessions in January 2024");
    let symbols = coverage["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 2, "limit 2");
    assert_eq!(symbols[0]["symbol"], "AAA");
    assert_eq!(symbols[0]["stored"][january], 2, "two sessions loaded: {body}");
    assert_eq!(symbols[0]["stored"][january + 1], 0);
    assert_eq!(coverage["next_after"], "BBB");
    let (_, body) = serve.get(&format!("/datasets/coverage?exchange=XNYS&months={months}&after=BBB"));
    let page_two: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page_two["symbols"].as_array().unwrap().len(), 1);
    assert_eq!(page_two["symbols"][0]["symbol"], "CCC");
    assert!(page_two["next_after"].is_null());

    let (status, body) = serve.get(&format!("/datasets/gaps?exchange=XNYS&symbol=aaa&months={months}"));
    assert_eq!(status, 200, "{body}");
    let gaps: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(gaps["from"], "2024-01-02", "{body}");
    let gaps = gaps["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "everything after 2024-01-03 is one gap: {gaps:?}");
    assert_eq!(gaps[0]["first_session"], "2024-01-04");

    // Bounds: the window and the page are limited, the names checked.
    for bad in [
        "/datasets/coverage?exchange=XNYS&months=61",
        "/datasets/coverage?exchange=XNYS&months=0",
        "/datasets/coverage?exchange=XNYS&limit=201",
        "/datasets/coverage?exchange=XNYS&timeframe=5m",
        "/datasets/coverage?exchange=X%27NYS",
        "/datasets/gaps?exchange=XNYS&symbol=%3Cscript%3E",
    ] {
        let (status, body) = serve.get(bad);
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(serve.get("/datasets/coverage?exchange=ZZZZ").0, 404);
    serve.stop();
}

#[test]
fn explain_answers_why_a_day_is_special() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let (status, body) = serve.get("/calendars/XNYS/explain?date=2025-12-25");
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["day"], "special");
    assert_eq!(answer["kind"], "closed");
    assert!(answer["name"].as_str().unwrap().contains("Christmas"), "{answer}");
    assert!(answer["session"].is_null());
    assert!(answer["generation"].as_u64().is_some());
    assert_eq!(serve.get("/calendars/XNYS/explain?date=2025-13-01").0, 400);
    assert_eq!(serve.get("/calendars/XNYS/explain").0, 400);
    serve.stop();
}

// ---- the browser ----------------------------------------------------------------------

/// Node.js, playwright-core installed in tests/browser, and Chromium; or why not.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    let chromium = PathBuf::from(std::env::var("CONSOLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.exists() {
        return Err(format!("no Chromium at {} (apt-get install -y chromium)", chromium.display()));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Err("no `node` on PATH".into());
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        return Err("tests/browser has no node_modules (npm ci --prefix tests/browser)".into());
    }
    Ok((browser_dir, chromium))
}

#[test]
fn the_console_works_in_a_real_browser() {
    let (browser_dir, chromium) = match browser_tools() {
        Ok(tools) => tools,
        Err(reason) if std::env::var("CI").is_ok_and(|value| value == "true" || value == "1") => {
            panic!("CI=true but the browser test cannot run: {reason}")
        }
        Err(reason) => {
            eprintln!("skipping the browser test: {reason}");
            return;
        }
    };
    let scratch = tempfile::tempdir().unwrap();
    let csv = scratch.path().join("csv");
    write_csv(&csv, "AAA");
    write_csv(&csv, "BBB");
    // CCC's file is held back: its job dead-letters until the browser puts it in place.
    let pending = write_csv(&scratch.path().join("pending"), "CCC");
    let folder = tempfile::tempdir().unwrap();
    let provider = format!("csv:{}", csv.display());
    let serve = Serve::start(folder.path(), &["--provider", &provider], &[("TICKSTOCK_TOKEN", TOKEN)]);

    // Screenshots go to the test's output folder (under target/), kept after the run.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&out).unwrap();
    for page in ["markets", "loads", "loads-dead-letter", "plugins", "datasets"] {
        let _ = std::fs::remove_file(out.join(format!("{page}.png")));
    }
    let output = Command::new("node")
        .arg(browser_dir.join("console.mjs"))
        .current_dir(&browser_dir)
        .env("CONSOLE_URL", &serve.base)
        .env("CONSOLE_TOKEN", TOKEN)
        .env("CONSOLE_PLUGIN_DIR", folder.path())
        .env("CONSOLE_CSV_DIR", &csv)
        .env("CONSOLE_PENDING_CSV", &pending)
        .env("CONSOLE_CALENDAR_FIXTURE", guest("fixture_xnys_extra_closure.wasm"))
        .env("CONSOLE_CHROMIUM", &chromium)
        .env("CONSOLE_OUT", &out)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        serve.lines().join("\n")
    );
    for page in ["markets", "loads", "loads-dead-letter", "plugins", "datasets"] {
        let png = std::fs::read(out.join(format!("{page}.png"))).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot of {page}");
    }
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("figures on the last line");
    assert!(figures["page_bytes"].as_u64().unwrap() > 0, "{figures}");
    println!("console figures: {figures}");
    serve.stop();
}
