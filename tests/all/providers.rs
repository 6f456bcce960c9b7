//! The providers against real boundaries: synthetic bars into a real SQLite store, CSV
//! files in a temp dir, and the HTTP client against an axum server on 127.0.0.1:0 that
//! answers each symbol with one behaviour (good data, pages, 429, 5xx, 401, 404, garbage,
//! a hang). Every failure must be classified and must leave the store untouched.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tickstock::calendar::Session;
use tickstock::provider::{
    CsvProvider, FetchRequest, HttpConfig, HttpProvider, PermanentError, Provider, ProviderError, SyntheticProvider,
    TransientError,
};
use tickstock::store::{Bar, BarSelection, GapRequest, Store, Timeframe};

// ---- plumbing -------------------------------------------------------------------------

fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, month, day).unwrap()
}

fn utc(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
}

/// New York, Jan 2-12 2024 (no holidays in it), 14:30-21:00 UTC.
fn new_york_sessions() -> Vec<Session> {
    [2, 3, 4, 5, 8, 9, 10, 11, 12]
        .map(|day| Session {
            date: date(1, day),
            open: utc(date(1, day), 14, 30),
            close: utc(date(1, day), 21, 0),
            lunch_break: None,
        })
        .to_vec()
}

/// Long after every session above: bars fetched then are final.
fn much_later() -> DateTime<Utc> {
    utc(date(6, 1), 0, 0)
}

fn request<'a>(symbol: &'a str, timeframe: Timeframe, sessions: &'a [Session]) -> FetchRequest<'a> {
    FetchRequest { symbol, exchange: "XNYS", timeframe, sessions, observed_at: much_later() }
}

/// What a worker does with one job: fetch, and write only if the fetch succeeded.
async fn load_one(provider: &dyn Provider, store: &Store, request: FetchRequest<'_>) -> Result<u64, ProviderError> {
    let bars = provider.fetch(request).await?;
    Ok(store.write_bars(&bars).await.unwrap().rows_written)
}

async fn temp_store(directory: &tempfile::TempDir) -> Store {
    Store::open(directory.path().join("bars.db").to_str().unwrap()).await.unwrap()
}

async fn stored_bars(store: &Store) -> u64 {
    store.count_bars(&BarSelection::default()).await.unwrap()
}

// ---- synthetic --------------------------------------------------------------------------

#[tokio::test]
async fn synthetic_bars_fill_every_gap_and_are_the_same_on_every_fetch() {
    let directory = tempfile::tempdir().unwrap();
    let store = temp_store(&directory).await;
    let sessions = new_york_sessions();
    let symbols = vec!["AAPL".to_string(), "MSFT".to_string()];
    for symbol in &symbols {
        load_one(&SyntheticProvider, &store, request(symbol, Timeframe::Daily, &sessions)).await.unwrap();
    }
    let gaps = store
        .gaps(&GapRequest { exchange: "XNYS", timeframe: Timeframe::Daily, symbols: &symbols, sessions: &sessions })
        .await
        .unwrap();
    assert_eq!(gaps, vec![]);
    assert_eq!(stored_bars(&store).await, 2 * sessions.len() as u64);

    let again = SyntheticProvider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap();
    let stored = store.read_bars(&BarSelection { symbol: Some("AAPL".into()), ..Default::default() }).await.unwrap();
    assert_eq!(again, stored);
    let other_symbol = SyntheticProvider.fetch(request("MSFT", Timeframe::Daily, &sessions)).await.unwrap();
    assert_ne!(again[0].close, other_symbol[0].close, "each symbol has its own series");
    store.close().await;
}

// ---- csv ------------------------------------------------------------------------------

fn write_file(directory: &std::path::Path, name: &str, text: &str) {
    std::fs::write(directory.join(name), text).unwrap();
}

#[tokio::test]
async fn csv_daily_file_loads_only_the_requested_sessions() {
    let data = tempfile::tempdir().unwrap();
    write_file(
        data.path(),
        "AAPL.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n\
         2023-12-29,190.0,191.0,189.0,190.5,190.5,1000\n\
         2024-01-01,1.0,1.0,1.0,1.0,1.0,1\n\
         2024-01-02,187.1,188.4,183.9,185.6,185.6,82488700\n\
         2024-01-03,184.2,185.9,183.4,184.3,184.3,58414500\n",
    );
    let provider = CsvProvider::new(data.path());
    let sessions = new_york_sessions();
    let bars = provider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap();
    // Dec 29 lies before the range and Jan 1 is a holiday: neither is returned.
    let starts: Vec<NaiveDate> = bars.iter().map(|bar| bar.start.date_naive()).collect();
    assert_eq!(starts, vec![date(1, 2), date(1, 3)]);
    assert_eq!(
        bars[0],
        Bar {
            symbol: "AAPL".into(),
            exchange: "XNYS".into(),
            timeframe: Timeframe::Daily,
            start: Timeframe::daily_bar_start(date(1, 2)),
            open: 187.1,
            high: 188.4,
            low: 183.9,
            close: 185.6,
            volume: 82_488_700,
            // The file was written now, before `much_later()`: its time is the stamp.
            written_at: bars[0].written_at,
        }
    );
    assert!(bars[0].written_at <= Utc::now());
}

#[tokio::test]
async fn csv_minute_file_uses_the_timestamp_column() {
    let data = tempfile::tempdir().unwrap();
    write_file(
        data.path(),
        "AAPL.csv",
        "timestamp,open,high,low,close,volume\n\
         2024-01-02T14:29:00Z,10,11,9,10,5\n\
         2024-01-02T14:30:00Z,10,11,9,10.5,5\n\
         2024-01-02 14:31:00,10.5,11,10,10.7,6\n\
         1704206100,10.7,11,10,10.8,7\n",
    );
    let sessions = new_york_sessions();
    let provider = CsvProvider::new(data.path());
    let bars = provider.fetch(request("AAPL", Timeframe::Minute, &sessions)).await.unwrap();
    let starts: Vec<DateTime<Utc>> = bars.iter().map(|bar| bar.start).collect();
    // 14:29 is pre-market and dropped; 1704206100 is 14:35.
    assert_eq!(starts, vec![utc(date(1, 2), 14, 30), utc(date(1, 2), 14, 31), utc(date(1, 2), 14, 35)]);

    let error = provider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap_err();
    assert!(matches!(error, ProviderError::Permanent(PermanentError::CsvLayout { .. })), "{error}");
}

#[tokio::test]
async fn malformed_csv_row_fails_the_symbol_with_file_and_line_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let good_rows = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,100\n2024-01-03,10,11,9,10,100\n";
    let cases = [
        ("not a number", "2024-01-04,10,eleven,9,10,100\n", "high \"eleven\""),
        ("high below low", "2024-01-04,10,8,9,10,100\n", "low <= open"),
        ("bad date", "2024-13-04,10,11,9,10,100\n", "YYYY-MM-DD"),
        ("missing field", "2024-01-04,10,11,9,10\n", "record"),
        ("negative volume", "2024-01-04,10,11,9,10,-5\n", "volume"),
        ("repeated date", "2024-01-03,10,11,9,10,100\n", "repeats the bar on line 3"),
    ];
    let sessions = new_york_sessions();
    let directory = tempfile::tempdir().unwrap();
    let store = temp_store(&directory).await;
    for (case, bad_row, expected_detail) in cases {
        // The bad row is line 4, followed by good rows that must not be written either.
        write_file(data.path(), "BAD.csv", &format!("{good_rows}{bad_row}2024-01-05,10,11,9,10,100\n"));
        let error = load_one(&CsvProvider::new(data.path()), &store, request("BAD", Timeframe::Daily, &sessions))
            .await
            .unwrap_err();
        let ProviderError::Permanent(PermanentError::MalformedCsv { file, line, detail }) = &error else {
            panic!("{case}: expected a malformed-CSV error, got {error}");
        };
        assert_eq!(file, &data.path().join("BAD.csv"), "{case}");
        assert_eq!(*line, 4, "{case}: {error}");
        assert!(detail.contains(expected_detail), "{case}: {error}");
        assert!(error.to_string().contains("BAD.csv, line 4"), "{case}: {error}");
        assert_eq!(stored_bars(&store).await, 0, "{case}: nothing from the file may be written");
    }

    let missing = load_one(&CsvProvider::new(data.path()), &store, request("NOFILE", Timeframe::Daily, &sessions))
        .await
        .unwrap_err();
    assert!(matches!(missing, ProviderError::Permanent(PermanentError::MissingCsvFile { .. })), "{missing}");
    store.close().await;
}

// ---- http -----------------------------------------------------------------------------

const API_KEY: &str = "test-key";

/// Arrival instants of requests, per symbol, as the server saw them.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<(String, Instant)>>>);

impl Arrivals {
    fn of(&self, symbol: &str) -> Vec<Instant> {
        self.0.lock().unwrap().iter().filter(|(seen, _)| seen == symbol).map(|(_, at)| *at).collect()
    }
}

fn aggregate(day: u32, open: f64, high: f64, low: f64, close: f64) -> serde_json::Value {
    // Daily aggregates start at midnight New York time: 05:00 UTC in January.
    serde_json::json!({"t": utc(date(1, day), 5, 0).timestamp_millis(), "o": open, "h": high, "l": low, "c": close, "v": 1234.0, "vw": 1.0, "n": 10})
}

async fn vendor(
    State((arrivals, base_url)): State<(Arrivals, Arc<Mutex<String>>)>,
    Path((symbol, _multiplier, _unit, _from, _to)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    query: axum::extract::RawQuery,
) -> Response {
    arrivals.0.lock().unwrap().push((symbol.clone(), Instant::now()));
    let authorised =
        headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) == Some(&format!("Bearer {API_KEY}"));
    if !authorised || symbol == "SECRET" {
        return (StatusCode::UNAUTHORIZED, "{\"status\":\"ERROR\",\"error\":\"Unknown API Key\"}").into_response();
    }
    let ok = |results: Vec<serde_json::Value>, next_url: Option<String>| {
        let mut body =
            serde_json::json!({"ticker": symbol, "status": "OK", "resultsCount": results.len(), "results": results});
        if let Some(next_url) = next_url {
            body["next_url"] = next_url.into();
        }
        axum::Json(body).into_response()
    };
    match symbol.as_str() {
        "AAPL" => ok(
            vec![
                aggregate(1, 1.0, 1.0, 1.0, 1.0),
                aggregate(2, 187.1, 188.4, 183.9, 185.6),
                aggregate(3, 184.2, 185.9, 183.4, 184.3),
            ],
            None,
        ),
        "PAGED" if query.0.as_deref().is_some_and(|query| query.contains("cursor=2")) => {
            ok(vec![aggregate(3, 10.0, 11.0, 9.0, 10.0)], None)
        }
        "PAGED" => {
            let next =
                format!("{}/v2/aggs/ticker/PAGED/range/1/day/2024-01-02/2024-01-12?cursor=2", base_url.lock().unwrap());
            ok(vec![aggregate(2, 10.0, 11.0, 9.0, 10.0)], Some(next))
        }
        // The base URL's string with one more digit on the port: another origin.
        "OFFSITE" => {
            let next = format!("{}0/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-12", base_url.lock().unwrap());
            ok(vec![aggregate(2, 10.0, 11.0, 9.0, 10.0)], Some(next))
        }
        // The same server under another name: another origin, which must not get the key.
        "ELSEWHERE" => {
            let port = base_url.lock().unwrap().rsplit_once(':').unwrap().1.to_string();
            let location = format!("http://localhost:{port}/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-12");
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        "NOISY" => {
            let error = format!("bad key\r\nX-Injected: yes\u{1b}[2J{}", "blah ".repeat(2000));
            axum::Json(serde_json::json!({"status": "ERROR", "error": error})).into_response()
        }
        "LIMITED" => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "slow down").into_response(),
        "BROKEN" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "UNAVAILABLE" => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "2")], "maintenance").into_response(),
        "FORBIDDEN" => (StatusCode::FORBIDDEN, "not in your plan").into_response(),
        "GARBAGE" => (StatusCode::OK, "<html>not json</html>").into_response(),
        "IMPOSSIBLE" => ok(vec![aggregate(2, 10.0, 9.0, 11.0, 10.0)], None),
        "HANG" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ok(vec![], None)
        }
        _ => (StatusCode::NOT_FOUND, "{\"status\":\"NOT_FOUND\"}").into_response(),
    }
}

/// Starts the fake vendor on 127.0.0.1:0 and returns its base URL and request log.
async fn start_vendor() -> (String, Arrivals) {
    let arrivals = Arrivals::default();
    let base_url = Arc::new(Mutex::new(String::new()));
    let router = axum::Router::new()
        .route("/v2/aggs/ticker/{symbol}/range/{multiplier}/{unit}/{from}/{to}", get(vendor))
        .with_state((arrivals.clone(), base_url.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    *base_url.lock().unwrap() = url.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, arrivals)
}

fn http_provider(base_url: &str, api_key: &str, requests_per_second: f64) -> HttpProvider {
    HttpProvider::new(HttpConfig {
        base_url: base_url.to_string(),
        api_key: Some(api_key.to_string()),
        requests_per_second,
        timeout: Duration::from_millis(500),
    })
    .unwrap()
}

#[tokio::test]
async fn http_aggregates_become_session_keyed_bars_across_pages() {
    let (base_url, _) = start_vendor().await;
    let provider = http_provider(&base_url, API_KEY, 100.0);
    let sessions = new_york_sessions();
    let bars = provider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap();
    // Jan 1 (a holiday, not among the sessions) is dropped.
    assert_eq!(bars.iter().map(|bar| bar.start.date_naive()).collect::<Vec<_>>(), vec![date(1, 2), date(1, 3)]);
    assert_eq!(
        (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume),
        (187.1, 188.4, 183.9, 185.6, 1234)
    );
    assert!(bars.iter().all(|bar| bar.written_at == much_later() && bar.exchange == "XNYS"));

    let paged = provider.fetch(request("PAGED", Timeframe::Daily, &sessions)).await.unwrap();
    assert_eq!(paged.iter().map(|bar| bar.start.date_naive()).collect::<Vec<_>>(), vec![date(1, 2), date(1, 3)]);
}

#[tokio::test]
async fn http_errors_are_classified_and_write_nothing() {
    let (base_url, _) = start_vendor().await;
    let provider = http_provider(&base_url, API_KEY, 100.0);
    let wrong_key = http_provider(&base_url, "wrong-key", 100.0);
    let directory = tempfile::tempdir().unwrap();
    let store = temp_store(&directory).await;
    let sessions = new_york_sessions();

    type Check = fn(&ProviderError) -> bool;
    let cases: [(&HttpProvider, &str, Check); 8] = [
        (
            &provider,
            "LIMITED",
            |error| matches!(error, ProviderError::Transient(TransientError::RateLimited { retry_after: Some(wait), .. }) if *wait == Duration::from_secs(1)),
        ),
        (&provider, "BROKEN", |error| {
            matches!(error, ProviderError::Transient(TransientError::ServerError { status: 500, .. }))
        }),
        (&provider, "UNAVAILABLE", |error| error.is_transient() && error.retry_after() == Some(Duration::from_secs(2))),
        (&provider, "HANG", |error| matches!(error, ProviderError::Transient(TransientError::Timeout { .. }))),
        (&wrong_key, "AAPL", |error| {
            matches!(error, ProviderError::Permanent(PermanentError::Unauthorized { status: 401, .. }))
        }),
        (&provider, "FORBIDDEN", |error| {
            matches!(error, ProviderError::Permanent(PermanentError::Unauthorized { status: 403, .. }))
        }),
        (&provider, "NOSUCHSYMBOL", |error| matches!(error, ProviderError::Permanent(PermanentError::NotFound { .. }))),
        (&provider, "GARBAGE", |error| matches!(error, ProviderError::Permanent(PermanentError::BadPayload { .. }))),
    ];
    for (client, symbol, is_expected) in cases {
        let error = load_one(client, &store, request(symbol, Timeframe::Daily, &sessions)).await.unwrap_err();
        assert!(is_expected(&error), "{symbol}: unexpected error {error:?}");
        let message = error.to_string();
        let kind_named =
            if error.is_transient() { message.starts_with("transient") } else { message.starts_with("permanent") };
        assert!(kind_named, "{symbol}: the message must say which kind: {message}");
        assert!(!message.contains(API_KEY), "{symbol}: the key leaked into {message}");
    }
    let impossible = load_one(&provider, &store, request("IMPOSSIBLE", Timeframe::Daily, &sessions)).await.unwrap_err();
    assert!(
        matches!(&impossible, ProviderError::Permanent(PermanentError::BadPayload { detail, .. }) if detail.contains("low <= open")),
        "{impossible}"
    );
    assert_eq!(stored_bars(&store).await, 0);

    let unreachable = http_provider("http://127.0.0.1:1", API_KEY, 100.0);
    let error = unreachable.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap_err();
    assert!(matches!(error, ProviderError::Transient(TransientError::Connection { .. })), "{error:?}");
    store.close().await;
}

#[tokio::test]
async fn http_client_waits_out_retry_after_before_its_next_request() {
    let (base_url, arrivals) = start_vendor().await;
    let provider = http_provider(&base_url, API_KEY, 100.0);
    let sessions = new_york_sessions();
    provider.fetch(request("LIMITED", Timeframe::Daily, &sessions)).await.unwrap_err();
    provider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap();
    let limited_at = arrivals.of("LIMITED")[0];
    let next_at = arrivals.of("AAPL")[0];
    assert!(
        next_at.duration_since(limited_at) >= Duration::from_millis(950),
        "sent {:?} after a Retry-After of 1 s",
        next_at.duration_since(limited_at)
    );
}

#[tokio::test]
async fn http_client_spaces_requests_to_its_rate_limit_across_tasks() {
    let (base_url, arrivals) = start_vendor().await;
    let provider = Arc::new(http_provider(&base_url, API_KEY, 20.0));
    let sessions = Arc::new(new_york_sessions());
    let started = Instant::now();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let provider = provider.clone();
            let sessions = sessions.clone();
            tokio::spawn(async move { provider.fetch(request("AAPL", Timeframe::Daily, &sessions)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut seen = arrivals.of("AAPL");
    seen.sort();
    assert_eq!(seen.len(), 5);
    // 20 per second is one slot every 50 ms from the first, which cannot come before the
    // tasks started: the k-th request to arrive cannot arrive before k slots have passed.
    // (Spacing between neighbours is no invariant: a request sent late to its slot
    // arrives closer to the next one.)
    for (index, arrived) in seen.iter().enumerate() {
        let earliest = Duration::from_millis(50) * index as u32;
        assert!(
            arrived.duration_since(started) >= earliest,
            "request {index} arrived {:?} after the start",
            arrived.duration_since(started)
        );
    }
}

#[tokio::test]
async fn http_key_stays_with_its_origin_and_vendor_text_is_bounded() {
    let (base_url, arrivals) = start_vendor().await;
    let provider = http_provider(&base_url, API_KEY, 100.0);
    let sessions = new_york_sessions();

    // A next_url whose string starts with the base URL but names another port.
    let error = provider.fetch(request("OFFSITE", Timeframe::Daily, &sessions)).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("leaves the base URL's origin"), "{error}");

    // A redirect to another origin is not followed: AAPL is never asked for.
    let error = provider.fetch(request("ELSEWHERE", Timeframe::Daily, &sessions)).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(arrivals.of("AAPL").is_empty(), "the redirect was followed");

    // A vendor's error text arrives as one bounded line.
    let error = provider.fetch(request("NOISY", Timeframe::Daily, &sessions)).await.unwrap_err().to_string();
    assert!(error.len() < 600, "{} characters", error.len());
    assert!(!error.chars().any(char::is_control), "{error:?}");
}
