//! The admin API's routes and handlers. Reads are open; mutating routes sit behind
//! `require_token`. Anything that may call a plugin (a calendar building a year it has not
//! built, a folder rescan) runs on `spawn_blocking`: a plugin call blocks its thread for
//! up to its deadline, and on an async worker that would stall every other request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::{ApiError, ServerState};
use crate::api::calendar::{
    HolidayRow, SessionRow, StatusRow, holiday_row, parse_date, parse_instant, session_row, status_row,
};
use crate::calendar::Calendar;
use crate::plugin::{Generation, PluginKind};

/// The widest `sessions` range one request may ask for: ten years keeps a response (and
/// the plugin calls behind it) bounded.
const MAX_SESSION_RANGE_DAYS: i64 = 3660;

/// Every admin route, with `state`. The load engine's routes merge into the result.
pub fn router(state: ServerState) -> Router {
    let mutating = Router::new()
        .route("/plugins/reload", post(reload_plugins))
        .route("/plugins/{kind}/{name}/rollback", post(roll_back_plugin))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .route("/plugins", get(plugins))
        .route("/plugins/swaps", get(plugin_swaps))
        .route("/calendars", get(calendars))
        .route("/calendars/{mic}/status", get(calendar_status))
        .route("/calendars/{mic}/sessions", get(calendar_sessions))
        .route("/calendars/{mic}/holidays", get(calendar_holidays))
        .route("/calendars/{mic}/explain", get(calendar_explain))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(super::console::routes())
        .merge(mutating)
        .fallback(|| async {
            ApiError::NotFound("no such route; see GET / (the console), /health, /openapi.json".into())
        })
        .with_state(state)
}

/// The OpenAPI description of every route (`server/openapi.json`, checked against the
/// routes by the test suite).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], OPENAPI)
}

/// Middleware for mutating routes: when the server has a token, the request must carry
/// `Authorization: Bearer <token>`.
pub async fn require_token(
    State(state): State<ServerState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(expected) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_secret(given.as_bytes(), expected.as_bytes())) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// Compares without an early exit, so the time taken says nothing about how much of a
/// guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The folder the server watches, for the routes that act on it.
fn watched_folder(state: &ServerState) -> Result<Arc<crate::watch::PluginFolder>, ApiError> {
    state.folder.clone().ok_or_else(|| ApiError::NotFound("the server watches no plugin folder (--plugins)".into()))
}

/// Runs plugin-touching work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await?
}

async fn health(State(state): State<ServerState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "plugins": state.registry.list().len(),
        "failed_plugin_files": state.registry.failures().len(),
        "plugin_folder": state.folder.as_ref().map(|folder| folder.dir().display().to_string()),
    }))
}

async fn plugins(State(state): State<ServerState>) -> Json<serde_json::Value> {
    Json(json!({ "plugins": state.registry.list(), "failures": state.registry.failures() }))
}

async fn reload_plugins(State(state): State<ServerState>) -> Result<Json<serde_json::Value>, ApiError> {
    let folder = watched_folder(&state)?;
    let outcomes = blocking(move || Ok(folder.reload()?)).await?;
    Ok(Json(json!({ "outcomes": outcomes })))
}

/// The folder's swaps, newest first (at most `watch::MAX_SWAPS_KEPT`; none without a
/// folder).
async fn plugin_swaps(State(state): State<ServerState>) -> Json<serde_json::Value> {
    let mut swaps = state.folder.as_ref().map(|folder| folder.swaps()).unwrap_or_default();
    swaps.reverse();
    Json(json!({ "swaps": swaps }))
}

/// Puts a plugin's built-in back in place of the folder file serving it (the file is set
/// aside as `<name>.wasm.rolled-back`, so a restart keeps the roll-back).
async fn roll_back_plugin(
    State(state): State<ServerState>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let folder = watched_folder(&state)?;
    let kind = PluginKind::from_name(&kind).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no plugin kind {}; kinds: calendar, batch-policy, refresh-profile",
            crate::api::quoted_prefix(&kind, 40)
        ))
    })?;
    // Calendar slots are named by MIC, in capitals; the others as their plugin says.
    let name = if kind == PluginKind::Calendar { name.trim().to_ascii_uppercase() } else { name };
    let outcome = blocking(move || {
        folder.roll_back(kind, &name).map_err(|error| match error {
            crate::watch::RollbackError::NotLive(_) => ApiError::NotFound(error.to_string()),
            crate::watch::RollbackError::Rename { .. } => ApiError::Internal(error.to_string()),
            _ => ApiError::Conflict(error.to_string()),
        })
    })
    .await?;
    Ok(Json(json!({ "outcome": outcome })))
}

#[derive(Serialize)]
struct CalendarEntry {
    mic: String,
    exchange_name: String,
    timezone: &'static str,
    first_year: i32,
    last_year: i32,
    version: String,
    generation: u64,
    source: String,
}

async fn calendars(State(state): State<ServerState>) -> Json<Vec<CalendarEntry>> {
    let entries = state
        .registry
        .names(PluginKind::Calendar)
        .into_iter()
        .filter_map(|mic| {
            let generation = state.registry.get(PluginKind::Calendar, &mic)?;
            let spec = generation.calendar()?.spec();
            Some(CalendarEntry {
                mic,
                exchange_name: spec.exchange_name.clone(),
                timezone: spec.timezone.name(),
                first_year: spec.first_year,
                last_year: spec.last_year,
                version: generation.identity.version.clone(),
                generation: generation.number(),
                source: generation.source.to_string(),
            })
        })
        .collect();
    Json(entries)
}

/// The live generation of an exchange's calendar plugin and its engine, taken together
/// so an answer and the version it names always agree.
fn live_calendar(state: &ServerState, mic: &str) -> Result<(Arc<Generation>, Arc<Calendar>), ApiError> {
    let mic = mic.trim().to_ascii_uppercase();
    state
        .registry
        .get(PluginKind::Calendar, &mic)
        .and_then(|generation| Some((generation.clone(), generation.calendar()?.clone())))
        .ok_or_else(|| {
            let known = state.registry.names(PluginKind::Calendar).join(", ");
            ApiError::NotFound(format!("unknown exchange {mic:?}; known exchanges: {known}"))
        })
}

/// A calendar answer with the plugin version and generation that gave it.
#[derive(Serialize)]
struct Versioned<T: Serialize> {
    #[serde(flatten)]
    answer: T,
    version: String,
    generation: u64,
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    at: Option<String>,
}

async fn calendar_status(
    State(state): State<ServerState>,
    Path(mic): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<Versioned<StatusRow>>, ApiError> {
    let at = match query.at {
        Some(text) => parse_instant(&text, "at").map_err(|error| ApiError::BadRequest(format!("{error:#}")))?,
        None => Utc::now(),
    };
    let (generation, calendar) = live_calendar(&state, &mic)?;
    let row = blocking(move || Ok(status_row(&calendar, at)?)).await?;
    Ok(Json(Versioned { answer: row, version: generation.identity.version.clone(), generation: generation.number() }))
}

#[derive(Serialize)]
struct SessionsAnswer {
    mic: String,
    sessions: Vec<SessionRow>,
}

async fn calendar_sessions(
    State(state): State<ServerState>,
    Path(mic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Versioned<SessionsAnswer>>, ApiError> {
    let date = |name: &str| -> Result<chrono::NaiveDate, ApiError> {
        let text = query.get(name).ok_or_else(|| ApiError::BadRequest(format!("`{name}` is required (YYYY-MM-DD)")))?;
        parse_date(text, name).map_err(|error| ApiError::BadRequest(format!("{error:#}")))
    };
    let (from, to) = (date("from")?, date("to")?);
    if (to - from).num_days() > MAX_SESSION_RANGE_DAYS {
        return Err(ApiError::BadRequest(format!(
            "from {from} to {to} is more than {MAX_SESSION_RANGE_DAYS} days; ask in pieces"
        )));
    }
    let (generation, calendar) = live_calendar(&state, &mic)?;
    let sessions = blocking(move || Ok(calendar.sessions(from, to)?)).await?;
    Ok(Json(Versioned {
        answer: SessionsAnswer {
            mic: generation.name().to_string(),
            sessions: sessions.iter().map(session_row).collect(),
        },
        version: generation.identity.version.clone(),
        generation: generation.number(),
    }))
}

#[derive(Serialize)]
struct HolidaysAnswer {
    mic: String,
    year: i32,
    holidays: Vec<HolidayRow>,
}

#[derive(serde::Deserialize)]
struct HolidaysQuery {
    year: Option<String>,
}

async fn calendar_holidays(
    State(state): State<ServerState>,
    Path(mic): Path<String>,
    Query(query): Query<HolidaysQuery>,
) -> Result<Json<Versioned<HolidaysAnswer>>, ApiError> {
    let text = query.year.ok_or_else(|| ApiError::BadRequest("`year` is required (YYYY)".into()))?;
    let year: i32 =
        text.trim().parse().ok().filter(|year| (1..=9999).contains(year)).ok_or_else(|| {
            ApiError::BadRequest(format!("year {} is not a year", crate::api::quoted_prefix(&text, 12)))
        })?;
    let (generation, calendar) = live_calendar(&state, &mic)?;
    let special_days = blocking(move || Ok(calendar.special_days(year)?)).await?;
    Ok(Json(Versioned {
        answer: HolidaysAnswer {
            mic: generation.name().to_string(),
            year,
            holidays: special_days.iter().map(holiday_row).collect(),
        },
        version: generation.identity.version.clone(),
        generation: generation.number(),
    }))
}

#[derive(serde::Deserialize)]
struct ExplainQuery {
    date: Option<String>,
}

/// Why a date is or is not a session (what `calendar explain --format json` prints).
async fn calendar_explain(
    State(state): State<ServerState>,
    Path(mic): Path<String>,
    Query(query): Query<ExplainQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let text = query.date.ok_or_else(|| ApiError::BadRequest("`date` is required (YYYY-MM-DD)".into()))?;
    let date = parse_date(&text, "date").map_err(|error| ApiError::BadRequest(format!("{error:#}")))?;
    let (generation, calendar) = live_calendar(&state, &mic)?;
    let mut answer = blocking(move || {
        let explanation = calendar.explain(date)?;
        Ok(crate::api::calendar::explanation_json(&calendar, date, &explanation))
    })
    .await?;
    answer["version"] = generation.identity.version.clone().into();
    answer["generation"] = generation.number().into();
    Ok(Json(answer))
}

async fn metrics(State(state): State<ServerState>) -> impl IntoResponse {
    // The ledger is read at the scrape, so the series agree with `GET /loads` at that
    // moment whichever process did the work. An unreadable store keeps the last sample.
    if let Some(store) = &state.store {
        match store.ledger_totals().await {
            Ok(totals) => state.metrics.set_ledger(&crate::metrics::LedgerSample {
                jobs_queued: totals.jobs_queued,
                jobs_done: totals.jobs_done,
                jobs_dead: totals.jobs_dead,
                rows_written: totals.rows_written,
                loads: totals.loads,
                loads_unfinished: totals.loads_unfinished,
            }),
            Err(error) => tracing::warn!(%error, "could not read the load ledger for /metrics"),
        }
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE))], state.metrics.encode())
}
