//! The `http` provider: a client for a Polygon-style aggregates REST API,
//! `GET {base}/v2/aggs/ticker/{symbol}/range/1/{day|minute}/{from}/{to}`, answering
//! `{"status": "OK", "results": [{"t": ms, "o", "h", "l", "c", "v"}], "next_url": ...}`.
//!
//! - The API key goes in an `Authorization: Bearer` header, never in the URL, so it does
//!   not end up in logs or error messages. `next_url` pages are followed with it too.
//! - A client-side rate limit spaces requests evenly (one slot every 1/rate seconds,
//!   shared by every task using this provider), which is gentler on the vendor than a
//!   token bucket's bursts. A `Retry-After` answer pushes the next slot back for all of
//!   them, and is also returned in the error for the worker's backoff.
//! - Classification: timeouts, connection failures, 429 and 5xx are transient; 401/403,
//!   404, other 4xx and any payload that does not decode or holds an impossible bar are
//!   permanent. This provider never retries by itself: the worker owns retries.
//! - Daily aggregates are stamped at the start of the exchange's local day; a bar goes to
//!   the session whose open falls within the 24 hours from that instant, which holds for
//!   every exchange whatever its UTC offset. Bars matching no requested session (a
//!   holiday the vendor has data for, a pre-market minute) are dropped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::redact::{redact_url, untrusted_text};

use super::{FetchFuture, FetchRequest, PermanentError, Provider, ProviderError, TransientError, session_index_of};
use crate::store::{Bar, Timeframe};

/// Environment variables read by [`HttpConfig::from_environment`].
pub const BASE_URL_VARIABLE: &str = "TICKSTOCK_HTTP_BASE_URL";
pub const API_KEY_VARIABLE: &str = "TICKSTOCK_HTTP_API_KEY";
pub const RATE_VARIABLE: &str = "TICKSTOCK_HTTP_REQUESTS_PER_SECOND";

/// Most characters of a vendor's own text (an error message) kept in an error.
const VENDOR_TEXT_CHARS: usize = 200;

/// Most `next_url` pages followed for one fetch: a vendor that always answers with one
/// more page must not hold a worker for ever.
const MAX_PAGES: u32 = 10_000;

/// Most redirects followed within the base URL's origin.
const MAX_REDIRECTS: usize = 5;

/// Same scheme, host and port (the default port of the scheme when none is given).
fn same_origin(base: &reqwest::Url, other: &reqwest::Url) -> bool {
    base.scheme() == other.scheme()
        && base.host_str().map(str::to_ascii_lowercase) == other.host_str().map(str::to_ascii_lowercase)
        && base.port_or_known_default() == other.port_or_known_default()
}

/// How to reach the vendor.
#[derive(Clone)]
pub struct HttpConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api.polygon.io`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// Client-side limit on requests per second (all tasks together).
    pub requests_per_second: f64,
    /// Whole-request timeout, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("requests_per_second", &self.requests_per_second)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpConfig {
    pub const DEFAULT_BASE_URL: &str = "https://api.polygon.io";
    /// Polygon's free tier allows 5 requests per minute; paid tiers far more. The default
    /// suits a paid tier; set the variable for anything else.
    pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 5.0;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// `TICKSTOCK_HTTP_BASE_URL` (default Polygon), `TICKSTOCK_HTTP_API_KEY`,
    /// `TICKSTOCK_HTTP_REQUESTS_PER_SECOND` (default 5).
    pub fn from_environment() -> Result<HttpConfig, String> {
        let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let requests_per_second = match variable(RATE_VARIABLE) {
            Some(text) => text.parse::<f64>().map_err(|_| format!("{RATE_VARIABLE}={text:?} is not a number"))?,
            None => Self::DEFAULT_REQUESTS_PER_SECOND,
        };
        Ok(HttpConfig {
            base_url: variable(BASE_URL_VARIABLE).unwrap_or_else(|| Self::DEFAULT_BASE_URL.to_string()),
            api_key: variable(API_KEY_VARIABLE),
            requests_per_second,
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }
}

/// Fetches aggregates over HTTP; see the module documentation.
#[derive(Debug)]
pub struct HttpProvider {
    config: HttpConfig,
    /// `config.base_url`, parsed: the origin the key may go to.
    base: reqwest::Url,
    client: reqwest::Client,
    /// Interval between request slots.
    slot_interval: Duration,
    /// The earliest instant the next request may start.
    next_slot: Mutex<Instant>,
}

impl HttpProvider {
    pub fn new(config: HttpConfig) -> Result<HttpProvider, String> {
        if !(config.requests_per_second.is_finite() && config.requests_per_second > 0.0) {
            return Err(format!("requests per second must be positive, got {}", config.requests_per_second));
        }
        let shown = crate::text::quoted_prefix(&redact_url(&config.base_url), 120);
        let base = reqwest::Url::parse(&config.base_url)
            .ok()
            .filter(|base| matches!(base.scheme(), "http" | "https") && base.host_str().is_some())
            .ok_or_else(|| format!("base URL {shown} must be an http:// or https:// URL with a host"))?;
        // The key goes with every request, so a redirect is followed only within the base
        // URL's origin; one elsewhere stops, and its 3xx is an error like any other.
        let redirect_origin = base.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS || !same_origin(&redirect_origin, attempt.url()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(redirects)
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(HttpProvider {
            slot_interval: Duration::from_secs_f64(1.0 / config.requests_per_second),
            config,
            base,
            client,
            next_slot: Mutex::new(Instant::now()),
        })
    }

    /// Whether `next_url` may be fetched with the key: same scheme, host and port as the
    /// base URL, compared parsed (a string prefix lets `http://host:5098` through to
    /// `http://host:50981`, and `https://api.vendor.example` to `...example.evil.example`).
    fn may_follow(&self, next_url: &str) -> bool {
        reqwest::Url::parse(next_url).is_ok_and(|next| same_origin(&self.base, &next))
    }

    /// Waits for this request's slot in the rate limit.
    async fn wait_for_slot(&self) {
        let slot = {
            let mut next_slot = self.next_slot.lock().await;
            let slot = (*next_slot).max(Instant::now());
            *next_slot = slot + self.slot_interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Pushes every later request back until `until` (a `Retry-After`).
    async fn back_off_until(&self, until: Instant) {
        let mut next_slot = self.next_slot.lock().await;
        *next_slot = (*next_slot).max(until);
    }

    fn first_url(&self, request: &FetchRequest<'_>) -> Option<String> {
        let first = request.sessions.first()?;
        let last = request.sessions.last()?;
        let (unit, from, to) = match request.timeframe {
            Timeframe::Daily => ("day", first.date.to_string(), last.date.to_string()),
            // Millisecond bounds: the vendor reads bare dates in the exchange's zone,
            // which is not ours to guess here.
            Timeframe::Minute => {
                ("minute", first.open.timestamp_millis().to_string(), (last.close.timestamp_millis() - 1).to_string())
            }
        };
        Some(format!(
            "{}/v2/aggs/ticker/{}/range/1/{unit}/{from}/{to}?adjusted=true&sort=asc&limit=50000",
            self.config.base_url.trim_end_matches('/'),
            percent_encode_path_segment(request.symbol),
        ))
    }

    /// One page: the decoded payload or a classified error.
    async fn get_page(&self, url: &str) -> Result<AggregatesPage, ProviderError> {
        self.wait_for_slot().await;
        let mut builder = self.client.get(url);
        if let Some(api_key) = &self.config.api_key {
            builder = builder.header(AUTHORIZATION, format!("Bearer {api_key}"));
        }
        let response = builder.send().await.map_err(|error| self.transport_error(url, error))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            if let Some(wait) = retry_after {
                self.back_off_until(Instant::now() + wait).await;
            }
            let url = redact_url(url);
            let status_code = status.as_u16();
            return Err(match status {
                StatusCode::TOO_MANY_REQUESTS => TransientError::RateLimited { url, retry_after }.into(),
                _ if status.is_server_error() => {
                    TransientError::ServerError { url, status: status_code, retry_after }.into()
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    PermanentError::Unauthorized { url, status: status_code }.into()
                }
                StatusCode::NOT_FOUND => PermanentError::NotFound { url }.into(),
                // 408 Request Timeout is the server's word for a timeout.
                StatusCode::REQUEST_TIMEOUT => TransientError::Timeout { url, timeout: self.config.timeout }.into(),
                _ => PermanentError::UnexpectedStatus { url, status: status_code }.into(),
            });
        }
        let body = response.bytes().await.map_err(|error| self.transport_error(url, error))?;
        let page: AggregatesPage = serde_json::from_slice(&body).map_err(|error| PermanentError::BadPayload {
            url: redact_url(url),
            detail: format!("not an aggregates response: {}", untrusted_text(&error.to_string(), VENDOR_TEXT_CHARS)),
        })?;
        if !matches!(page.status.as_deref(), None | Some("OK") | Some("DELAYED")) {
            // The vendor's words go into logs and dead letters: one bounded line of them.
            return Err(PermanentError::BadPayload {
                url: redact_url(url),
                detail: format!(
                    "status {}{}",
                    crate::text::quoted_prefix(&untrusted_text(page.status.as_deref().unwrap_or_default(), 32), 32),
                    page.error
                        .as_deref()
                        .map(|error| format!(": {}", untrusted_text(error, VENDOR_TEXT_CHARS)))
                        .unwrap_or_default()
                ),
            }
            .into());
        }
        Ok(page)
    }

    fn transport_error(&self, url: &str, error: reqwest::Error) -> ProviderError {
        if error.is_timeout() {
            TransientError::Timeout { url: redact_url(url), timeout: self.config.timeout }.into()
        } else {
            // reqwest's message quotes the URL whole; it is named, redacted, beside it.
            let detail = untrusted_text(&error_chain(&error.without_url()), VENDOR_TEXT_CHARS);
            TransientError::Connection { url: redact_url(url), detail }.into()
        }
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> String {
        "http".to_string()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let Some(mut url) = self.first_url(&request) else { return Ok(Vec::new()) };
            let mut bars = Vec::new();
            for page_number in 1.. {
                if page_number > MAX_PAGES {
                    return Err(PermanentError::BadPayload {
                        url: redact_url(&url),
                        detail: format!("more than {MAX_PAGES} pages of next_url; not followed further"),
                    }
                    .into());
                }
                let page = self.get_page(&url).await?;
                for aggregate in page.results.unwrap_or_default() {
                    if let Some(bar) = bar_from_aggregate(&request, &aggregate, &url)? {
                        bars.push(bar);
                    }
                }
                match page.next_url {
                    // The key goes along with every page, so only pages on the configured
                    // base URL are followed.
                    Some(next_url) if self.may_follow(&next_url) => url = next_url,
                    Some(next_url) if !next_url.is_empty() => {
                        return Err(PermanentError::BadPayload {
                            url: redact_url(&url),
                            detail: format!(
                                "next_url {} leaves the base URL's origin; not followed",
                                crate::text::quoted_prefix(&untrusted_text(&redact_url(&next_url), 200), 200)
                            ),
                        }
                        .into());
                    }
                    _ => break,
                }
            }
            Ok(bars)
        })
    }
}

#[derive(Debug, serde::Deserialize)]
struct AggregatesPage {
    status: Option<String>,
    error: Option<String>,
    results: Option<Vec<Aggregate>>,
    next_url: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Aggregate {
    /// Window start, Unix milliseconds.
    t: i64,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    /// Some feeds send fractional volumes; they are rounded.
    v: f64,
}

fn bar_from_aggregate(
    request: &FetchRequest<'_>,
    aggregate: &Aggregate,
    url: &str,
) -> Result<Option<Bar>, ProviderError> {
    let bad = |detail: String| ProviderError::Permanent(PermanentError::BadPayload { url: redact_url(url), detail });
    let window_start = DateTime::from_timestamp_millis(aggregate.t)
        .ok_or_else(|| bad(format!("timestamp {} is out of range", aggregate.t)))?;
    let start = match request.timeframe {
        Timeframe::Daily => {
            let day_end = window_start + chrono::Duration::hours(24);
            match request.sessions.iter().find(|session| window_start <= session.open && session.open < day_end) {
                Some(session) => Timeframe::daily_bar_start(session.date),
                None => return Ok(None),
            }
        }
        Timeframe::Minute => {
            if session_index_of(Timeframe::Minute, request.sessions, window_start).is_none() {
                return Ok(None);
            }
            window_start
        }
    };
    if !(aggregate.v.is_finite() && aggregate.v >= 0.0) {
        return Err(bad(format!("volume {} at {window_start} is not a number >= 0", aggregate.v)));
    }
    let bar = Bar {
        symbol: request.symbol.to_string(),
        exchange: request.exchange.to_string(),
        timeframe: request.timeframe,
        start,
        open: aggregate.o,
        high: aggregate.h,
        low: aggregate.l,
        close: aggregate.c,
        volume: aggregate.v.round() as i64,
        written_at: request.observed_at,
    };
    match bar.invalid_reason() {
        Some(reason) => Err(bad(format!("bar at {window_start}: {reason}"))),
        None => Ok(Some(bar)),
    }
}

/// `Retry-After` as seconds or an HTTP date; None when absent or unreadable.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((when - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// Symbols such as `BRK.B` or `^GSPC` go into a path segment.
fn percent_encode_path_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The error and its causes on one line (reqwest's top-level message alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date in the past means now");
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_the_base_urls_exact_origin_is_the_same_origin() {
        let base = reqwest::Url::parse("http://host:5098/api").unwrap();
        for (other, same) in [
            ("http://host:5098/v2/next?cursor=1", true),
            ("http://HOST:5098/x", true),
            ("http://host:50981/v2/next", false),
            ("https://host:5098/v2/next", false),
            ("http://host.evil.example:5098/", false),
            ("http://host/", false),
        ] {
            assert_eq!(same_origin(&base, &reqwest::Url::parse(other).unwrap()), same, "{other}");
        }
        let https = reqwest::Url::parse("https://api.vendor.example").unwrap();
        assert!(same_origin(&https, &reqwest::Url::parse("https://api.vendor.example:443/v2").unwrap()));
        assert!(!same_origin(&https, &reqwest::Url::parse("https://api.vendor.example.evil.example/").unwrap()));
    }

    #[test]
    fn symbols_are_escaped_for_the_path() {
        assert_eq!(percent_encode_path_segment("BRK.B"), "BRK.B");
        assert_eq!(percent_encode_path_segment("^GSPC"), "%5EGSPC");
        assert_eq!(percent_encode_path_segment("A/B"), "A%2FB");
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let config = HttpConfig {
            base_url: "http://127.0.0.1:1".into(),
            api_key: Some("very-secret".into()),
            requests_per_second: 1.0,
            timeout: Duration::from_secs(1),
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
