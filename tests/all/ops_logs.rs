//! Issue 14's INFO lines, read as an operator reads them (`--log-format json`, `jq`): a
//! load's start and finish with its id and totals, and the workers' periodic summary.

use std::io::{Read as _, Write as _};
use std::process::Output;

use serde_json::Value;

use crate::support::{Serve, redis_url, tickstock};

/// The stderr lines that are JSON objects (a banner printed with `eprintln!` is not).
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines.iter().filter_map(|line| serde_json::from_str::<Value>(line).ok()).filter(Value::is_object).collect()
}

/// POST with a JSON body on a fresh connection: (status, body).
fn post_json(base: &str, path: &str, body: &str) -> (u16, Value) {
    let host = base.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120))).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn serve_logs_a_loads_start_and_finish_with_its_id_and_totals() {
    let folder = tempfile::tempdir().unwrap();
    let serve = Serve::start(folder.path(), &["--log-format", "json"], &[]);
    let (status, accepted) = post_json(
        &serve.base,
        "/loads",
        r#"{"symbols":3,"from":"2025-06-02","to":"2025-06-13","max_symbols_per_job":1}"#,
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_string();
    let line_of = |serve: &Serve, message: &str| {
        json_lines(&serve.lines()).into_iter().find(|line| line["message"] == message && line["load"] == id.as_str())
    };
    serve.wait_until("the load's finish line is logged", |serve| line_of(serve, "load finished").is_some());

    let started = line_of(&serve, "load started").expect("a start line with the load id");
    let finished = line_of(&serve, "load finished").unwrap();
    assert_eq!(started["level"], "INFO", "{started}");
    assert_eq!(started["jobs"], 3, "{started}");
    let expected_rows = started["expected_rows"].as_u64().unwrap();
    assert!(expected_rows > 0, "{started}");
    assert_eq!(finished["rows_written"].as_u64(), Some(expected_rows), "{finished}");
    assert_eq!(finished["jobs_done"], 3, "{finished}");
    assert_eq!(finished["jobs_dead"], 0, "{finished}");
    assert!(finished["seconds"].is_number(), "{finished}");
    serve.stop();
}

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    tickstock(&dir.join("cache")).current_dir(dir).args(args).output().expect("run tickstock")
}

#[test]
fn a_busy_worker_logs_a_summary_every_interval_only_when_something_changed() {
    let Some(redis) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bars.db").display().to_string();
    let prefix = format!("ops-logs-{}-{}:", std::process::id(), std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos());
    let queue = ["--queue", redis.as_str(), "--queue-prefix", prefix.as_str(), "--db", db.as_str()];
    // 6 jobs of one symbol; each job's provider request takes 400 ms, one at a time, so
    // the worker is busy for well over the 1 s interval.
    let submit = run(
        dir.path(),
        &[&["load", "--submit-only", "--symbols", "6", "--max-symbols-per-job", "1"][..], &queue[..]].concat(),
    );
    assert!(submit.status.success(), "{}", String::from_utf8_lossy(&submit.stderr));
    let worker_args = [
        &["worker", "--exit-when-idle", "--workers", "1", "--simulate-latency-ms", "400"][..],
        &["--summary-every-secs", "1", "--log-format", "json"][..],
        &queue[..],
    ]
    .concat();
    let worker = run(dir.path(), &worker_args);
    let stderr = String::from_utf8_lossy(&worker.stderr).into_owned();
    assert!(worker.status.success(), "{stderr}");
    let lines: Vec<String> = stderr.lines().map(str::to_string).collect();
    let summaries: Vec<Value> =
        json_lines(&lines).into_iter().filter(|line| line["message"] == "workers summary").collect();
    assert!(!summaries.is_empty(), "no summary line: {stderr}");
    let totals = |line: &Value| {
        ["jobs_done", "jobs_retried", "jobs_dead", "rows_written"].map(|field| line[field].as_u64().unwrap())
    };
    for pair in summaries.windows(2) {
        assert_ne!(totals(&pair[0]), totals(&pair[1]), "a summary repeated the line before it: {stderr}");
    }
    assert!(summaries.iter().all(|line| line["level"] == "INFO" && line["jobs_done"].as_u64() > Some(0)), "{stderr}");
}

#[test]
fn a_plugin_swap_logs_old_and_new_generation_their_sha256_and_the_calendar_diff() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(crate::support::guest("fixture_swap_v1.wasm"), folder.path().join("zzswap.wasm")).unwrap();
    let serve = Serve::start(folder.path(), &["--log-format", "json"], &[]);
    let sha256 = |serve: &Serve| {
        let (_, body) = serve.get("/plugins");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let entry = answer["plugins"].as_array().unwrap().iter().find(|entry| entry["name"] == "ZZSW").cloned();
        entry.map(|entry| (entry["generation"].as_u64().unwrap(), entry["sha256"].as_str().unwrap().to_string()))
    };
    let (first, old_sha) = sha256(&serve).expect("v1 is live");

    // Written under a name the watcher ignores, then renamed in.
    let temp = folder.path().join(".zzswap.wasm.tmp");
    std::fs::copy(crate::support::guest("fixture_swap_v2.wasm"), &temp).unwrap();
    std::fs::rename(&temp, folder.path().join("zzswap.wasm")).unwrap();
    serve.wait_until("v2 is live", |serve| sha256(serve).is_some_and(|(generation, _)| generation > first));
    let (second, new_sha) = sha256(&serve).unwrap();

    let lines = json_lines(&serve.lines());
    let live = lines
        .iter()
        .find(|line| line["message"] == "plugin generation live" && line["generation"].as_u64() == Some(second))
        .expect("a swap line");
    assert_eq!(live["plugin"], "calendar/ZZSW", "{live}");
    assert_eq!(live["sha256"], new_sha.as_str(), "{live}");
    assert_eq!(live["previous_generation"].as_u64(), Some(first), "{live}");
    assert_eq!(live["previous_sha256"], old_sha.as_str(), "{live}");
    let diff = lines
        .iter()
        .find(|line| line["message"].as_str().is_some_and(|message| message.starts_with("calendar changes")))
        .expect("the calendar diff line");
    assert_eq!(diff["plugin"], "calendar/ZZSW", "{diff}");
    let loaded = lines
        .iter()
        .find(|line| line["message"] == "plugin file loaded" && line["generation"].as_u64() == Some(second))
        .expect("the file's line");
    assert_eq!(loaded["changed_dates"], diff["changed_dates"], "{loaded}");
    serve.stop();
}

#[test]
fn a_command_line_load_logs_its_start_and_finish_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bars.db").display().to_string();
    let args = ["load", "--symbols", "2", "--from", "2025-06-02", "--to", "2025-06-06", "--db", db.as_str()];
    let output = run(dir.path(), &[&args[..], &["--log-level", "info", "--log-format", "json"][..]].concat());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let lines = json_lines(&stderr.lines().map(str::to_string).collect::<Vec<_>>());
    let started = lines.iter().find(|line| line["message"] == "load started").expect("a start line");
    let finished = lines.iter().find(|line| line["message"] == "load finished").expect("a finish line");
    assert!(started["load"].as_str().is_some_and(|id| !id.is_empty()), "{started}");
    assert_eq!(started["load"], finished["load"], "{started} {finished}");
    assert_eq!(finished["rows_written"], started["expected_rows"], "{finished}");
    assert_eq!(finished["jobs_done"], started["jobs"], "{finished}");
}
