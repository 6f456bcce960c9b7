//! Where bars come from: one [`Provider`] trait and three implementations, chosen by a
//! spec string (`synthetic`, `csv:<dir>`, `http`; see [`from_spec`]).
//!
//! Contract every provider keeps:
//! - It answers for one symbol on one exchange over a run of the calendar's sessions (a
//!   gap, or part of one) and returns only bars that belong to those sessions: daily bars
//!   keyed by session date ([`Timeframe::daily_bar_start`]), minute bars inside the open
//!   hours and outside lunch breaks. Data for other days is dropped, not stored.
//! - Every bar is stamped `written_at = request.observed_at` (or earlier, when the source
//!   itself is older: a CSV file's modification time), which the caller takes *before*
//!   fetching, so a bar fetched before its session closed stays stale however late it is
//!   committed.
//! - It returns all of the symbol's bars or an error, never a partial answer, so a failed
//!   job writes nothing.
//! - Errors say whether retrying can help: [`ProviderError::Transient`] (timeouts, 429,
//!   5xx, connection trouble) or [`ProviderError::Permanent`] (bad credentials, unknown
//!   symbol, malformed data). The worker retries the first with backoff and dead-letters
//!   the second; providers never retry on their own.
//!
//! The trait returns boxed futures instead of using `async fn` so that the loader can
//! hold a `Box<dyn Provider>` chosen at run time; native `async fn` in traits is not
//! object safe, and the `async-trait` crate would only write the same box for us.
//!
//! Depends on the core (`calendar`, `gaps`, `bar`) and `store` (for its re-exported types);
//! never on `queue`, `plugin` or edges.

pub mod csv;
pub mod http;
pub mod latency;
pub mod synthetic;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::calendar::Session;
use crate::store::{Bar, Timeframe};

pub use self::csv::CsvProvider;
pub use self::http::{HttpConfig, HttpProvider};
pub use self::synthetic::SyntheticProvider;

/// What to fetch: one symbol's bars over a run of sessions.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    pub symbol: &'a str,
    /// ISO 10383 MIC.
    pub exchange: &'a str,
    pub timeframe: Timeframe,
    /// The sessions wanted, sorted by date, as the calendar returns them. Usually one
    /// gap's sessions.
    pub sessions: &'a [Session],
    /// When the fetch starts; becomes every bar's `written_at`.
    pub observed_at: DateTime<Utc>,
}

/// The future a provider returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Bar>, ProviderError>> + Send + 'a>>;

/// A source of bars.
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// How the provider was named (`synthetic`, `csv:<dir>`, `http`), for logs and errors.
    fn name(&self) -> String;

    /// All bars of `request.symbol` in `request.sessions`, or why not.
    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a>;
}

/// A failed fetch, classified by whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("transient provider error, retry later: {0}")]
    Transient(TransientError),
    #[error("permanent provider error, retrying will not help: {0}")]
    Permanent(PermanentError),
}

impl ProviderError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ProviderError::Transient(_))
    }

    /// How long the source asked us to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Transient(TransientError::RateLimited { retry_after, .. })
            | ProviderError::Transient(TransientError::ServerError { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

impl From<TransientError> for ProviderError {
    fn from(error: TransientError) -> Self {
        ProviderError::Transient(error)
    }
}

impl From<PermanentError> for ProviderError {
    fn from(error: PermanentError) -> Self {
        ProviderError::Permanent(error)
    }
}

/// Failures that may pass by themselves.
#[derive(Debug, thiserror::Error)]
pub enum TransientError {
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("rate limited by {url} (HTTP 429){}", retry_after_text(*retry_after))]
    RateLimited { url: String, retry_after: Option<Duration> },
    #[error("server error HTTP {status} from {url}{}", retry_after_text(*retry_after))]
    ServerError { url: String, status: u16, retry_after: Option<Duration> },
    #[error("cannot reach {url}: {detail}")]
    Connection { url: String, detail: String },
    #[error("reading {file}: {detail}")]
    Io { file: PathBuf, detail: String },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(", retry after {:.1} s", wait.as_secs_f64()),
        None => String::new(),
    }
}

/// Failures that will repeat until someone fixes the data, the credentials or the request.
#[derive(Debug, thiserror::Error)]
pub enum PermanentError {
    #[error("HTTP {status} from {url}: the API key is missing, wrong or not allowed this data")]
    Unauthorized { url: String, status: u16 },
    #[error("HTTP 404 from {url}: no such symbol or endpoint")]
    NotFound { url: String },
    #[error("unexpected HTTP {status} from {url}")]
    UnexpectedStatus { url: String, status: u16 },
    #[error("bad payload from {url}: {detail}")]
    BadPayload { url: String, detail: String },
    #[error("no CSV file for symbol {symbol}: expected {file}")]
    MissingCsvFile { symbol: String, file: PathBuf },
    #[error("{file}: {detail}")]
    CsvLayout { file: PathBuf, detail: String },
    #[error("{file}, line {line}: {detail}; nothing from this file was written")]
    MalformedCsv { file: PathBuf, line: u64, detail: String },
    #[error("the {provider} provider cannot serve {what}")]
    Unsupported { provider: String, what: String },
}

/// A provider spec that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSpecError {
    #[error("unknown provider {0:?}: expected `synthetic`, `csv:<dir>` or `http`")]
    Unknown(String),
    #[error("provider `csv:` needs a directory, as in `csv:./data`")]
    CsvWithoutDirectory,
    #[error("provider `http`: {0}")]
    Http(String),
}

/// The provider named by `spec`: `synthetic` (the default), `csv:<dir>`, or `http`
/// (configured by `http_config`, usually [`HttpConfig::from_environment`]).
pub fn from_spec(spec: &str, http_config: Option<HttpConfig>) -> Result<Box<dyn Provider>, ProviderSpecError> {
    match spec {
        "synthetic" => Ok(Box::new(SyntheticProvider)),
        "http" => {
            let config = match http_config {
                Some(config) => config,
                None => HttpConfig::from_environment().map_err(ProviderSpecError::Http)?,
            };
            Ok(Box::new(HttpProvider::new(config).map_err(ProviderSpecError::Http)?))
        }
        _ => match spec.strip_prefix("csv:") {
            Some("") => Err(ProviderSpecError::CsvWithoutDirectory),
            Some(directory) => Ok(Box::new(CsvProvider::new(directory))),
            None => Err(ProviderSpecError::Unknown(spec.to_string())),
        },
    }
}

/// Where a bar at `start` belongs among `sessions`: the index of the session a daily
/// bar's date or a minute bar's instant falls in, or None when it belongs to none (a
/// holiday, a weekend, pre-market, a lunch break, outside the range).
pub(crate) fn session_index_of(timeframe: Timeframe, sessions: &[Session], start: DateTime<Utc>) -> Option<usize> {
    match timeframe {
        Timeframe::Daily => {
            let date = start.date_naive();
            (start == Timeframe::daily_bar_start(date))
                .then(|| sessions.binary_search_by_key(&date, |session| session.date).ok())
                .flatten()
        }
        Timeframe::Minute => {
            let index = sessions.partition_point(|session| session.open <= start).checked_sub(1)?;
            let session = &sessions[index];
            let in_break =
                session.lunch_break.is_some_and(|(break_start, break_end)| break_start <= start && start < break_end);
            (start < session.close && !in_break && (start - session.open).num_seconds() % 60 == 0).then_some(index)
        }
    }
}
