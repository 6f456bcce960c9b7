//! The parsers that take hostile input, under property tests: a load request (as JSON, the
//! way `POST /loads` receives it), a listing file (`--symbols @file`, universes) and a queue
//! payload (what a worker reads from Redis). Whatever the input, they return a value or
//! one short line, never a panic and never a copy of a long input. The corpus below (the
//! inputs that broke the host before) runs first as plain cases; proptest keeps any new
//! failing case in `parsers.proptest-regressions` beside this file.

use chrono::NaiveDate;
use proptest::prelude::*;
use tickstock::api::load::{LoadSpec, RequestLimits, parse_listing_lines};
use tickstock::queue::JobPayload;

/// The longest refusal a parser may print: one line an operator can read.
const MAX_ERROR_CHARS: usize = 400;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
}

fn assert_short_line(error: &str, input: &str) {
    assert!(!error.contains('\n'), "a multi-line error for {:?}: {error}", &input[..input.len().min(80)]);
    assert!(
        error.chars().count() <= MAX_ERROR_CHARS,
        "a {}-character error for an input of {} bytes",
        error.chars().count(),
        input.len()
    );
}

/// A load request body through the whole request path: JSON, then the checks.
fn check_request_body(body: &str) {
    // serde's own message is cut by the server before it is shown; here only "no panic".
    if let Ok(spec) = serde_json::from_str::<LoadSpec>(body)
        && let Err(error) = spec.to_request(today(), &RequestLimits::default())
    {
        assert_short_line(&error.to_string(), body);
    }
}

fn check_payload(text: &str) {
    if let Err(error) = JobPayload::decode(text) {
        assert_short_line(&error.to_string(), text);
    }
}

#[test]
fn inputs_that_broke_the_host_before_are_refused_in_one_short_line() {
    let long = "A".repeat(100_000);
    let bodies = [
        r#"{"symbols":"@/etc/passwd"}"#.to_string(),
        r#"{}"#.to_string(),
        r#"{"symbols": 5, "years": 300000}"#.to_string(),
        r#"{"symbols": 5, "years": 0}"#.to_string(),
        r#"{"symbols": ["-5"]}"#.to_string(),
        r#"{"symbols": 18446744073709551615}"#.to_string(),
        r#"{"symbols": [""]}"#.to_string(),
        r#"{"symbols": ["AAPL\u0007"]}"#.to_string(),
        format!(r#"{{"symbols": ["{long}"]}}"#),
        format!(r#"{{"symbols": 1, "policy": "{long}"}}"#),
        format!(r#"{{"symbols": 1, "from": "{long}"}}"#),
        r#"{"symbols": 1, "from": "0001-01-01", "to": "9999-12-31"}"#.to_string(),
        r#"{"symbols": 1, "max_symbols_per_job": 0}"#.to_string(),
        r#"{"symbols": 1, "exchange": "xnys\n"}"#.to_string(),
    ];
    for body in &bodies {
        check_request_body(body);
    }
    let payloads = [
        r#"{"format": 1}"#.to_string(),
        format!(r#"{{"format": "{long}"}}"#),
        r#"{"format": 4294967295}"#.to_string(),
        format!(r#"{{"format": 1, "id": "{long}"}}"#),
        "[]".to_string(),
        long.clone(),
    ];
    for payload in &payloads {
        check_payload(payload);
    }
    for text in
        [format!("{long}\n"), "AAPL,XNYS,EXTRA\n".to_string(), ",\n,,\n".to_string(), "\u{feff}AAPL\n".to_string()]
    {
        if let Err(error) = parse_listing_lines(&text, "symbols.txt", Some("XNYS")) {
            assert_short_line(&error.to_string(), &text);
        }
    }
}

/// JSON values of the shapes a request's fields take, and shapes they do not.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|number| serde_json::json!(number)),
        ".{0,40}".prop_map(serde_json::Value::from),
        "[A-Za-z0-9.^_,-]{0,12}".prop_map(serde_json::Value::from),
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 16, 6, |inner| prop::collection::vec(inner, 0..6).prop_map(serde_json::Value::from))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_load_request_of_any_shape_is_a_request_or_one_short_line(
        fields in prop::collection::btree_map(
            prop_oneof![
                Just("symbols".to_string()), Just("exchange".to_string()), Just("from".to_string()),
                Just("to".to_string()), Just("years".to_string()), Just("timeframe".to_string()),
                Just("tier".to_string()), Just("policy".to_string()),
                Just("max_symbols_per_job".to_string()), "[a-z_]{1,12}",
            ],
            json_value(),
            0..8,
        )
    ) {
        let body = serde_json::to_string(&fields).unwrap();
        check_request_body(&body);
    }

    #[test]
    fn any_text_as_a_request_body_or_a_payload_never_panics(text in ".{0,200}") {
        check_request_body(&text);
        check_payload(&text);
    }

    #[test]
    fn a_queue_payload_of_any_shape_is_a_job_or_one_short_line(
        id in ".{0,50}",
        load_id in ".{0,50}",
        tier in prop_oneof![Just("normal".to_string()), ".{0,10}"],
        timeframe in prop_oneof![Just("1d".to_string()), Just("1m".to_string()), ".{0,4}"],
        gaps in prop::collection::vec(
            (".{0,40}", ".{0,8}", "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}", "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}", any::<u32>()),
            0..5,
        ),
        attempt in any::<u64>(),
    ) {
        let gaps: Vec<serde_json::Value> = gaps
            .into_iter()
            .map(|(symbol, exchange, start, end, sessions)| serde_json::json!({
                "symbol": symbol, "exchange": exchange, "start": start, "end": end, "sessions": sessions,
            }))
            .collect();
        let payload = serde_json::json!({
            "format": 1, "id": id, "load_id": load_id, "tier": tier, "timeframe": timeframe,
            "gaps": gaps, "attempt": attempt,
        });
        check_payload(&payload.to_string());
    }

    #[test]
    fn a_listing_file_of_any_text_is_listings_or_one_short_line(text in "(.{0,60}\n){0,20}") {
        for default_exchange in [Some("XNYS"), None] {
            if let Err(error) = parse_listing_lines(&text, "symbols.txt", default_exchange) {
                assert_short_line(&error.to_string(), &text);
            }
        }
    }
}
