//! `tickstock serve` against a real server on 127.0.0.1:0, in-process, with a temp plugin
//! folder that real `.wasm` files are renamed, copied and slowly written into, and a real
//! HTTP client.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tickstock::plugin::{Limits, RuntimeOptions};
use tickstock::server;
use tickstock::server::{Assembled, assemble};

use crate::support::guest;

/// Debounce of the test servers' watchers: short, to keep the suite quick.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The status instants whose answer v1 and v2 of ZZSW disagree on: v1 closes January
/// 2nd, v2 January 3rd (both weekdays in 2025).
const JANUARY_2ND: &str = "2025-01-02T12:00:00Z";
const JANUARY_3RD: &str = "2025-01-03T12:00:00Z";

/// One artifact cache for the whole test process, so each server compiles the built-ins
/// once between them rather than once each.
fn shared_cache_dir() -> PathBuf {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().expect("cache dir")).path().to_path_buf()
}

struct TestServer {
    base: String,
    client: reqwest::Client,
    folder: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped with the server: stops the watcher.
    _assembled_watcher: Option<tickstock::watch::FolderWatcher>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Default)]
struct ServerSetup<'a> {
    /// (name in the folder, built guest) pairs present before the server starts.
    files: &'a [(&'a str, &'a str)],
    limits: Limits,
    token: Option<&'a str>,
    /// The watcher's debounce; `DEBOUNCE` when not given.
    debounce: Option<Duration>,
}

async fn start(setup: ServerSetup<'_>) -> TestServer {
    let folder = tempfile::tempdir().expect("plugin folder");
    for (name, built) in setup.files {
        std::fs::copy(guest(built), folder.path().join(name)).expect("copy a plugin into the folder");
    }
    let runtime_options = RuntimeOptions { limits: setup.limits, cache_dir: Some(shared_cache_dir()) };
    let dir = folder.path().to_path_buf();
    let token = setup.token.map(str::to_string);
    let debounce = setup.debounce.unwrap_or(DEBOUNCE);
    let Assembled { state, watcher } =
        tokio::task::spawn_blocking(move || assemble(runtime_options, Some(&dir), token, debounce))
            .await
            .expect("assemble task")
            .expect("assemble the server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, shutdown_signal) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::run(
        listener,
        server::router(state),
        server::ServeLimits::for_token(setup.token),
        async move {
            let _ = shutdown_signal.await;
        },
    ));
    TestServer { base, client: reqwest::Client::new(), folder, shutdown: Some(shutdown), _assembled_watcher: watcher }
}

impl TestServer {
    fn dir(&self) -> &Path {
        self.folder.path()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn metrics(&self) -> String {
        self.client.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }

    async fn zzswap_version(&self) -> String {
        let body = self.get_ok(&format!("/calendars/ZZSW/status?at={JANUARY_2ND}")).await;
        body["version"].as_str().unwrap().to_string()
    }
}

/// Polls `check` until it holds. The bound only keeps a broken build from hanging the
/// suite; no test asserts on how long this takes.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// v1 closes January 2nd, v2 January 3rd; every other answer is "open".
fn expected_state(version: &str, at: &str) -> &'static str {
    match (version, at) {
        ("1.0.0", JANUARY_2ND) | ("2.0.0", JANUARY_3RD) => "closed",
        _ => "open",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_in_version_serves_within_a_second_and_every_answer_flips_once() {
    let server =
        Arc::new(start(ServerSetup { files: &[("zzswap.wasm", "fixture_swap_v1.wasm")], ..Default::default() }).await);
    assert_eq!(server.zzswap_version().await, "1.0.0");

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop, requests) = (server.clone(), stop.clone(), requests.clone());
            tokio::spawn(async move {
                let mut answers: Vec<(&'static str, String, String)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for at in [JANUARY_2ND, JANUARY_3RD] {
                        // Every response must be a 200, during the swap as before and after.
                        let body = server.get_ok(&format!("/calendars/ZZSW/status?at={at}")).await;
                        let version = body["version"].as_str().unwrap().to_string();
                        let state = body["state"].as_str().unwrap().to_string();
                        assert_eq!(state, expected_state(&version, at), "{version} answered {body} for {at}");
                        answers.push((at, version, state));
                        requests.fetch_add(1, Ordering::Relaxed);
                    }
                }
                answers
            })
        })
        .collect();
    wait_until("the hammers are going", || async { requests.load(Ordering::Relaxed) >= 100 }).await;

    // The atomic way to publish: write under a temp name the watcher ignores, then rename.
    let temp = server.dir().join(".zzswap.wasm.tmp");
    std::fs::write(&temp, std::fs::read(guest("fixture_swap_v2.wasm")).unwrap()).unwrap();
    // How soon it serves is a figure of `tickstock bench serve`, not a claim of this test.
    std::fs::rename(&temp, server.dir().join("zzswap.wasm")).unwrap();
    wait_until("v2 serves", || async { server.zzswap_version().await == "2.0.0" }).await;

    let after_swap = requests.load(Ordering::Relaxed);
    wait_until("the hammers see v2 for a while", || async { requests.load(Ordering::Relaxed) >= after_swap + 100 })
        .await;
    stop.store(true, Ordering::Relaxed);
    for hammer in hammers {
        let answers = hammer.await.expect("no hammer failed");
        for at in [JANUARY_2ND, JANUARY_3RD] {
            let states: Vec<&str> =
                answers.iter().filter(|(asked, _, _)| *asked == at).map(|(_, _, state)| state.as_str()).collect();
            let flips = states.windows(2).filter(|pair| pair[0] != pair[1]).count();
            assert_eq!(flips, 1, "answers for {at} flipped {flips} times: {states:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_plugins_dropped_in_leave_the_old_generation_serving_and_show_their_errors() {
    let limits = Limits { deadline: Duration::from_millis(200), ..Limits::default() };
    let server =
        start(ServerSetup { files: &[("zzswap.wasm", "fixture_swap_v1.wasm")], limits, ..Default::default() }).await;
    let before = server.get_ok(&format!("/calendars/ZZSW/status?at={JANUARY_2ND}")).await;

    let v2 = std::fs::read(guest("fixture_swap_v2.wasm")).unwrap();
    std::fs::write(server.dir().join("zzswap-truncated.wasm"), &v2[..v2.len() / 2]).unwrap();
    std::fs::copy(guest("fixture_swap_looping.wasm"), server.dir().join("zzswap-looping.wasm")).unwrap();
    std::fs::copy(guest("fixture-foreign-world.wasm"), server.dir().join("foreign.wasm")).unwrap();
    wait_until("all three are refused", || async {
        server.get_ok("/plugins").await["failures"].as_array().unwrap().len() == 3
    })
    .await;

    let plugins = server.get_ok("/plugins").await;
    let failure_for = |file: &str| -> String {
        plugins["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|failure| failure["origin"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no failure for {file}: {plugins}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(failure_for("zzswap-truncated.wasm").contains("truncated"), "{plugins}");
    assert!(failure_for("zzswap-looping.wasm").contains("deadline"), "{plugins}");
    assert!(failure_for("foreign.wasm").contains("implements none of tickstock's worlds"), "{plugins}");
    // The looping file said it was ZZSW, so ZZSW's entry shows its error.
    let zzswap = plugins["plugins"].as_array().unwrap().iter().find(|entry| entry["name"] == "ZZSW").unwrap();
    assert!(zzswap["last_error"]["message"].as_str().unwrap().contains("deadline"), "{zzswap}");

    let after = server.get_ok(&format!("/calendars/ZZSW/status?at={JANUARY_2ND}")).await;
    assert_eq!((&after["version"], &after["generation"]), (&before["version"], &before["generation"]));
    assert_eq!(after["state"], "closed");
}

/// A rename publishes a whole file, so a renamed file goes live after
/// `watch::RENAME_SETTLE` (20 ms), not after the debounce; a file written in place still
/// waits the debounce out. The debounce here is 30 s, so neither bound below is close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_file_goes_live_without_waiting_for_the_debounce() {
    let debounce = Duration::from_secs(30);
    let server = start(ServerSetup {
        files: &[("zzswap.wasm", "fixture_swap_v1.wasm")],
        debounce: Some(debounce),
        ..Default::default()
    })
    .await;
    let renamed_at = Instant::now();
    let temp = server.dir().join(".zzswap.wasm.part");
    std::fs::copy(guest("fixture_swap_v2.wasm"), &temp).unwrap();
    std::fs::rename(&temp, server.dir().join("zzswap.wasm")).unwrap();
    while server.zzswap_version().await != "2.0.0" {
        assert!(renamed_at.elapsed() < debounce / 2, "the renamed file waited for the debounce");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    std::fs::copy(guest("fixture_swap_v1.wasm"), server.dir().join("zzswap.wasm")).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.zzswap_version().await, "2.0.0", "a file written in place waits for the debounce");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_copy_in_place_is_not_loaded_half_written() {
    let server = start(ServerSetup { files: &[("zzswap.wasm", "fixture_swap_v1.wasm")], ..Default::default() }).await;
    let v2 = std::fs::read(guest("fixture_swap_v2.wasm")).unwrap();
    let (first_half, second_half) = v2.split_at(v2.len() / 2);

    let mut file = std::fs::File::create(server.dir().join("zzswap.wasm")).unwrap();
    std::io::Write::write_all(&mut file, first_half).unwrap();
    std::io::Write::flush(&mut file).unwrap();
    // Far longer than the debounce: a watcher that only waits for quiet would load now.
    tokio::time::sleep(DEBOUNCE * 6).await;
    assert_eq!(server.get_ok("/plugins").await["failures"], Value::Array(vec![]));
    assert_eq!(server.zzswap_version().await, "1.0.0");
    std::io::Write::write_all(&mut file, second_half).unwrap();
    drop(file);

    wait_until("v2 serves", || async { server.zzswap_version().await == "2.0.0" }).await;
    let metrics = server.metrics().await;
    assert!(!metrics.contains("tickstock_plugin_load_failures_total{"), "a load was attempted and failed:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_plugin_does_not_stall_calls_to_other_plugins() {
    let limits = Limits { deadline: Duration::from_secs(1), ..Limits::default() };
    let server = Arc::new(
        start(ServerSetup {
            files: &[("hostile.wasm", "fixture_hostile_calendar.wasm"), ("zzswap.wasm", "fixture_swap_v1.wasm")],
            limits,
            ..Default::default()
        })
        .await,
    );
    // The hostile calendar spins when asked for 1901; more such requests than the
    // runtime has async workers.
    let looping: Vec<_> = (0..3)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.get("/calendars/ZZHX/status?at=1901-06-03T12:00:00Z").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let xnys = server.get_ok("/calendars/XNYS/status?at=2024-03-11T15:00:00Z").await;
    assert_eq!(xnys["state"], "open");
    assert_eq!(server.zzswap_version().await, "1.0.0");
    assert!(
        looping.iter().any(|request| !request.is_finished()),
        "the looping calls ended before the others were answered"
    );

    for request in looping {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 502, "{body}");
        assert!(body["error"].as_str().unwrap().contains("deadline"), "{body}");
    }
    let metrics = server.metrics().await;
    assert!(
        metrics
            .contains(r#"tickstock_plugin_limit_hits_total{plugin="calendar/ZZHX",generation="1",failure="deadline"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_file_removes_its_plugin() {
    let server = start(ServerSetup { files: &[("zzswap.wasm", "fixture_swap_v1.wasm")], ..Default::default() }).await;
    assert_eq!(server.zzswap_version().await, "1.0.0");
    std::fs::remove_file(server.dir().join("zzswap.wasm")).unwrap();
    wait_until("ZZSW is gone", || async { server.get("/calendars/ZZSW/status").await.0 == 404 }).await;
    let (_, body) = server.get("/calendars/ZZSW/status").await;
    assert!(body["error"].as_str().unwrap().contains("known exchanges: XETR"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_does_not_match_its_pin_is_refused() {
    let server = start(ServerSetup { files: &[("zzswap.wasm", "fixture_swap_v1.wasm")], ..Default::default() }).await;
    let v1 = std::fs::read(guest("fixture_swap_v1.wasm")).unwrap();
    let pin = tickstock::plugin::load::sha256_hex(&v1);
    std::fs::write(server.dir().join("pins.txt"), format!("{pin}  zzswap.wasm\n")).unwrap();

    let temp = server.dir().join("zzswap.wasm.part");
    std::fs::copy(guest("fixture_swap_v2.wasm"), &temp).unwrap();
    std::fs::rename(&temp, server.dir().join("zzswap.wasm")).unwrap();
    wait_until("the unpinned bytes are refused", || async {
        !server.get_ok("/plugins").await["failures"].as_array().unwrap().is_empty()
    })
    .await;
    let failures = server.get_ok("/plugins").await["failures"].clone();
    assert!(failures[0]["message"].as_str().unwrap().contains("does not match the pin"), "{failures}");
    assert_eq!(server.zzswap_version().await, "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_needs_the_token_when_one_is_set() {
    let server = start(ServerSetup { token: Some("s3cret"), ..Default::default() }).await;
    let reload = || server.client.post(format!("{}/plugins/reload", server.base));
    let refused = reload().send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    assert_eq!(reload().bearer_auth("wrong").send().await.unwrap().status().as_u16(), 401);
    let accepted = reload().bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
    // Reads stay open.
    assert_eq!(server.get("/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_answers_match_the_cli_records_and_errors_are_json() {
    let server = start(ServerSetup::default()).await;
    let sessions = server.get_ok("/calendars/xtks/sessions?from=2024-03-11&to=2024-03-11").await;
    assert_eq!(sessions["mic"], "XTKS");
    assert_eq!(
        sessions["sessions"][0],
        serde_json::json!({
            "date": "2024-03-11",
            "open": "2024-03-11T00:00:00Z",
            "close": "2024-03-11T06:00:00Z",
            "break_start": "2024-03-11T02:30:00Z",
            "break_end": "2024-03-11T03:30:00Z",
        })
    );
    let calendars = server.get_ok("/calendars").await;
    let mics: Vec<&str> = calendars.as_array().unwrap().iter().map(|entry| entry["mic"].as_str().unwrap()).collect();
    assert_eq!(mics, ["XETR", "XLON", "XNAS", "XNYS", "XTKS", "XTSE"]);

    let (status, body) = server.get("/calendars/XNYS/status?at=yesterday").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("RFC 3339"), "{body}");
    let (status, body) = server.get("/calendars/XNYS/sessions?from=2024-01-01").await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "`to` is required (YYYY-MM-DD)"));
    assert_eq!(server.get("/nowhere").await.0, 404);
}

/// Issue 11: plugins whose answers break a limit, dropped into a running server's folder,
/// are refused in short lines while every other calendar keeps answering; a calendar that
/// never trades goes live but its status is a bounded, typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_dropped_in_are_refused_in_short_lines_while_other_calendars_answer() {
    // A generous deadline: the test is about sizes, not about a busy machine's timing.
    let limits = Limits { deadline: Duration::from_secs(5), ..Limits::default() };
    let server = Arc::new(start(ServerSetup { limits, ..Default::default() }).await);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let hammer = {
        let (server, stop, answered) = (server.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = server.get_ok("/calendars/XNYS/status?at=2024-06-03T15:00:00Z").await;
                assert_eq!(body["state"], "open", "{body}");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let refused = [
        ("overflow.wasm", "fixture_answer_years_overflow.wasm", "`first-year` -1 is outside 1..=9999"),
        ("text.wasm", "fixture_answer_huge_text.wasm", "special day 0 `name` is 1048576 bytes, over the limit of 4096"),
        ("weekend.wasm", "fixture_answer_huge_weekend.wasm", "`weekend` is 100000 entries, over the limit of 7"),
        ("lower.wasm", "fixture_answer_lower_mic.wasm", "`mic` \"xlow\" is not a MIC"),
        ("job.wasm", "fixture_answer_enormous_job.wasm", "over the request's 4 gaps"),
        ("many.wasm", "fixture_answer_many_profiles.wasm", "the profile list is 10000 entries, over the limit of 256"),
        ("collide.wasm", "fixture_answer_colliding_profile.wasm", "profile Patterns shares its dataset"),
        ("memory.wasm", "fixture_answer_hoard_memory.wasm", "hit its memory cap"),
    ];
    for (name, built, _) in refused {
        let temp = server.dir().join(format!(".{name}.tmp"));
        std::fs::copy(guest(built), &temp).unwrap();
        std::fs::rename(&temp, server.dir().join(name)).unwrap();
    }
    std::fs::copy(guest("fixture_answer_never_open.wasm"), server.dir().join(".never.wasm.tmp")).unwrap();
    std::fs::rename(server.dir().join(".never.wasm.tmp"), server.dir().join("never.wasm")).unwrap();
    wait_until("every hostile plugin is refused", || async {
        server.get_ok("/plugins").await["failures"].as_array().unwrap().len() == refused.len()
    })
    .await;
    wait_until("XNVR is live", || async { server.get("/calendars/XNVR/status").await.0 != 404 }).await;

    let plugins = server.get_ok("/plugins").await;
    assert!(plugins.to_string().len() < 64 * 1024, "/plugins grew to {} bytes", plugins.to_string().len());
    let folder = server.dir().display().to_string();
    for (name, _, expected) in refused {
        let message = plugins["failures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|failure| failure["origin"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no failure for {name}: {plugins}"))["message"]
            .as_str()
            .unwrap()
            .replace(&folder, "");
        assert!(message.contains(expected), "{name}: {message}");
        assert!(message.chars().count() < 300, "{name}: {} chars: {message}", message.chars().count());
    }

    let (status, body) = server.get("/calendars/XNVR/status?at=2024-06-03T15:00:00Z").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "XNVR: no trading in the 10 years from 2024 on; the search gives up there");

    let before = answered.load(Ordering::Relaxed);
    wait_until("XNYS keeps answering", || async { answered.load(Ordering::Relaxed) >= before + 20 }).await;
    stop.store(true, Ordering::Relaxed);
    hammer.await.expect("every XNYS status answered 200 open");
}
