//! `GET /datasets/coverage` and `GET /datasets/gaps`: how complete the store is for an
//! exchange, from the same gap query the load planner uses, so "complete" means what a
//! load means by it (a session counts when its bars are stored and final).
//!
//! Coverage is by month: for each symbol (a page of them, in order) and each of the last
//! `months` calendar months up to today, the sessions the calendar expects and how many
//! of them are stored. Both answers are bounded: at most `MAX_COVERAGE_MONTHS` months
//! and `MAX_COVERAGE_SYMBOLS` symbols per page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike as _, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::calendar::Session;
use crate::plugin::{PluginKind, Registry};
use crate::store::{GapRequest, Store, SymbolGap, Timeframe};

/// Widest coverage window, in months.
pub const MAX_COVERAGE_MONTHS: u32 = 60;
/// Most symbols in one coverage page.
pub const MAX_COVERAGE_SYMBOLS: usize = 200;
const DEFAULT_COVERAGE_MONTHS: u32 = 12;
const DEFAULT_COVERAGE_SYMBOLS: usize = 50;

/// What the dataset routes read: the calendars (for the expected sessions) and the store.
#[derive(Clone)]
pub struct DatasetsState {
    pub registry: Arc<Registry>,
    pub store: Store,
}

/// The dataset routes (reads only).
pub fn routes(state: DatasetsState) -> Router {
    Router::new().route("/datasets/coverage", get(coverage)).route("/datasets/gaps", get(gaps)).with_state(state)
}

#[derive(Deserialize)]
struct CoverageQuery {
    exchange: String,
    timeframe: Option<String>,
    months: Option<u32>,
    /// The last symbol of the previous page.
    after: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct SymbolCoverage {
    symbol: String,
    /// Sessions stored and final, per month (same order as `months`).
    stored: Vec<u32>,
}

#[derive(Serialize)]
struct CoverageAnswer {
    exchange: String,
    timeframe: Timeframe,
    /// `YYYY-MM`, oldest first; the last is the current month up to today.
    months: Vec<String>,
    /// Sessions the calendar expects per month.
    expected: Vec<u32>,
    symbols: Vec<SymbolCoverage>,
    /// Pass as `after` for the next page; None on the last page.
    next_after: Option<String>,
}

async fn coverage(
    State(datasets): State<DatasetsState>,
    Query(query): Query<CoverageQuery>,
) -> Result<Json<CoverageAnswer>, ApiError> {
    let timeframe = timeframe(query.timeframe.as_deref())?;
    let months = query.months.unwrap_or(DEFAULT_COVERAGE_MONTHS);
    if !(1..=MAX_COVERAGE_MONTHS).contains(&months) {
        return Err(ApiError::BadRequest(format!("months must be 1 to {MAX_COVERAGE_MONTHS}")));
    }
    let limit = query.limit.unwrap_or(DEFAULT_COVERAGE_SYMBOLS);
    if !(1..=MAX_COVERAGE_SYMBOLS).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_COVERAGE_SYMBOLS}")));
    }
    let after = match query.after.as_deref() {
        Some(text) => {
            crate::plan::parse_symbol(text).map_err(|error| ApiError::BadRequest(format!("after: {error}")))?
        }
        None => String::new(),
    };
    let (exchange, sessions, month_keys) = window(&datasets, &query.exchange, months).await?;
    let mut symbols = datasets.store.symbols(&exchange, timeframe, &after, limit + 1).await.map_err(internal)?;
    let next_after = if symbols.len() > limit {
        symbols.truncate(limit);
        symbols.last().cloned()
    } else {
        None
    };
    let gaps = datasets
        .store
        .gaps(&GapRequest { exchange: &exchange, timeframe, symbols: &symbols, sessions: &sessions })
        .await
        .map_err(internal)?;
    let month_of = |session: &Session| month_keys.get(&month_key(session.date)).copied();
    let mut expected = vec![0u32; month_keys.len()];
    for session in &sessions {
        if let Some(index) = month_of(session) {
            expected[index] = expected[index].saturating_add(1);
        }
    }
    let mut missing: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for gap in &gaps {
        let counts = missing.entry(gap.symbol.as_str()).or_insert_with(|| vec![0; month_keys.len()]);
        let first = sessions.partition_point(|session| session.date < gap.first_session);
        for session in sessions.iter().skip(first).take(gap.session_count) {
            if let Some(index) = month_of(session) {
                counts[index] = counts[index].saturating_add(1);
            }
        }
    }
    let symbols = symbols
        .into_iter()
        .map(|symbol| {
            let stored = match missing.get(symbol.as_str()) {
                Some(missing) => expected.iter().zip(missing).map(|(all, gone)| all.saturating_sub(*gone)).collect(),
                None => expected.clone(),
            };
            SymbolCoverage { symbol, stored }
        })
        .collect();
    let mut months: Vec<(usize, String)> = month_keys.into_iter().map(|(key, index)| (index, key)).collect();
    months.sort();
    Ok(Json(CoverageAnswer {
        exchange,
        timeframe,
        months: months.into_iter().map(|(_, key)| key).collect(),
        expected,
        symbols,
        next_after,
    }))
}

#[derive(Deserialize)]
struct GapsQuery {
    exchange: String,
    symbol: String,
    timeframe: Option<String>,
    months: Option<u32>,
}

#[derive(Serialize)]
struct GapsAnswer {
    exchange: String,
    symbol: String,
    timeframe: Timeframe,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// Sessions the calendar expects over the window.
    sessions: usize,
    gaps: Vec<SymbolGap>,
}

async fn gaps(
    State(datasets): State<DatasetsState>,
    Query(query): Query<GapsQuery>,
) -> Result<Json<GapsAnswer>, ApiError> {
    let timeframe = timeframe(query.timeframe.as_deref())?;
    let months = query.months.unwrap_or(DEFAULT_COVERAGE_MONTHS);
    if !(1..=MAX_COVERAGE_MONTHS).contains(&months) {
        return Err(ApiError::BadRequest(format!("months must be 1 to {MAX_COVERAGE_MONTHS}")));
    }
    let symbol = crate::plan::parse_symbol(&query.symbol).map_err(ApiError::BadRequest)?;
    let (exchange, sessions, _) = window(&datasets, &query.exchange, months).await?;
    let symbols = [symbol.clone()];
    let gaps = datasets
        .store
        .gaps(&GapRequest { exchange: &exchange, timeframe, symbols: &symbols, sessions: &sessions })
        .await
        .map_err(internal)?;
    Ok(Json(GapsAnswer {
        exchange,
        symbol,
        timeframe,
        from: sessions.first().map(|session| session.date),
        to: sessions.last().map(|session| session.date),
        sessions: sessions.len(),
        gaps,
    }))
}

fn timeframe(text: Option<&str>) -> Result<Timeframe, ApiError> {
    match text {
        None => Ok(Timeframe::Daily),
        Some(text) => {
            text.parse().map_err(|error: crate::store::UnknownTimeframe| ApiError::BadRequest(error.to_string()))
        }
    }
}

/// The exchange's MIC, its sessions from the first day of the month `months - 1` before
/// this one up to today (exchange-local dates), and each month's index by `YYYY-MM`.
async fn window(
    datasets: &DatasetsState,
    exchange: &str,
    months: u32,
) -> Result<(String, Vec<Session>, BTreeMap<String, usize>), ApiError> {
    let mic = crate::plan::parse_mic(exchange, "exchange").map_err(ApiError::BadRequest)?;
    let generation = datasets.registry.get(PluginKind::Calendar, &mic).ok_or_else(|| {
        let known = datasets.registry.names(PluginKind::Calendar).join(", ");
        ApiError::NotFound(format!("unknown exchange {mic:?}; known exchanges: {known}"))
    })?;
    let calendar = generation
        .calendar()
        .cloned()
        .ok_or_else(|| ApiError::Internal(format!("calendar/{mic} has no calendar engine")))?;
    let today = Utc::now().with_timezone(&calendar.spec().timezone).date_naive();
    let mut month_start = today.with_day(1).unwrap_or(today);
    let mut keys = vec![month_key(month_start)];
    for _ in 1..months {
        month_start = month_start.pred_opt().and_then(|day| day.with_day(1)).unwrap_or(month_start);
        keys.push(month_key(month_start));
    }
    keys.reverse();
    let from = month_start.max(NaiveDate::from_ymd_opt(calendar.spec().first_year, 1, 1).unwrap_or(month_start));
    // Building sessions may call the plugin (a year not built yet): off the async workers.
    let sessions = tokio::task::spawn_blocking(move || calendar.sessions(from, today))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))??;
    let indexes = keys.into_iter().enumerate().map(|(index, key)| (key, index)).collect();
    Ok((mic, sessions, indexes))
}

fn month_key(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

fn internal(error: crate::store::StoreError) -> ApiError {
    ApiError::Internal(error.to_string())
}
