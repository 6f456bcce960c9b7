//! `POST /loads`, `GET /loads`, `GET /loads/{id}`: loads submitted to a running `tickstock
//! serve` and worked off by its workers or any `tickstock worker` on its store, as the
//! store's load ledger records them; and `GET /jobs`, `GET /jobs/dead`, `POST
//! /jobs/retry-dead`: the server's queue (what `tickstock jobs --server` shows).
//!
//! The body of `POST /loads` is a typed [`LoadSpec`], e.g.
//! `{"symbols": ["AAPL", "MSFT"], "exchange": "XNAS", "years": 2, "tier": "high"}`; the
//! command line builds the same type from its flags, so the endpoint and the command can
//! never disagree about what an option means. A request never names a file, a store or a
//! queue: those are the server's (`--db`, `--queue`). `docs/api.md` documents the fields.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{ApiError, ServerState, require_token};
use crate::api::jobs::{DeadLetter, MAX_DEAD_LETTERS};
use crate::api::load::{LoadSpec, RequestLimits};
use crate::load::{LoadError, plan_load};
use crate::plugin::Registry;
use crate::queue::{JobQueue, Queue};
use crate::store::{LoadRecord, MAX_LOADS_LISTED, Store};

/// Plans computed at once by default: planning is CPU-bound (calendar sessions, gaps,
/// the policy's call), so more than the cores of a small machine only queues.
pub const DEFAULT_CONCURRENT_PLANS: usize = 2;

/// What the load routes share.
#[derive(Clone)]
pub struct LoadsState {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub queue: Queue,
    /// What one request may ask for.
    pub limits: RequestLimits,
    /// One permit per plan being computed; a request finding none is a 503, not a wait,
    /// so a burst of large requests cannot pile up memory and threads.
    pub planning: Arc<tokio::sync::Semaphore>,
}

/// The load routes; `POST` behind the server's token like every mutating route.
pub fn routes(loads: LoadsState, server: ServerState) -> Router {
    Router::new()
        .route("/loads", post(submit_load))
        .route("/jobs/retry-dead", post(retry_dead))
        .route_layer(middleware::from_fn_with_state(server, require_token))
        .route("/jobs", get(queue_status))
        .route("/jobs/dead", get(dead_letters))
        .route("/loads", get(list_loads))
        .route("/loads/{id}", get(load_status))
        .with_state(loads)
}

async fn submit_load(
    State(loads): State<LoadsState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<LoadRecord>), ApiError> {
    let permit = loads.planning.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy("the server is planning as many loads as it may at once; retry in a moment".into())
    })?;
    // Parsing, checking and planning run on a blocking thread: for 100,000 symbols they
    // take a while of CPU, which on an async worker would stall every other request
    // (`/health` included). The plan's own I/O is driven from there through the handle.
    let handle = tokio::runtime::Handle::current();
    let (registry, store, limits) = (loads.registry.clone(), loads.store.clone(), loads.limits);
    let plan = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // Parsed here rather than by axum's `Json` extractor so a malformed body gets the
        // API's own error shape, and serde's message (which may quote the body) is cut short.
        let spec: LoadSpec = serde_json::from_slice(&body).map_err(|error| {
            let reason = error.to_string();
            ApiError::BadRequest(format!("invalid load request: {}", crate::api::quoted_prefix(&reason, 200)))
        })?;
        let request = spec
            .to_request(chrono::Utc::now().date_naive(), &limits)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
        handle.block_on(plan_load(&registry, &store, &request)).map_err(load_error)
    })
    .await??;
    // The ledger first: whichever process settles a job then finds its load.
    loads.store.record_load(&plan.ledger_entry()).await.map_err(|error| ApiError::Internal(error.to_string()))?;
    crate::load::log::started(&plan);
    if plan.jobs.is_empty() {
        // Nothing missing: done as soon as it started.
        crate::load::log::finished(&plan.load_id, crate::load::log::LoadTotals::default());
    }
    let id = plan.load_id.clone();
    // Enqueue in the background: with a plan larger than the queue's backlog limit the
    // enqueue waits for workers to ack, which must not hold the HTTP request.
    let (queue, store) = (loads.queue.clone(), loads.store.clone());
    tokio::spawn(async move {
        if let Err(error) = queue.enqueue_many(&plan.jobs).await {
            tracing::error!(load = %plan.load_id, %error, "could not enqueue the load's jobs");
            let reason = format!("its jobs could not all be enqueued: {error}");
            if let Err(error) = store.fail_load(&plan.load_id, &reason).await {
                tracing::error!(load = %plan.load_id, %error, "could not record the failed load");
            }
        }
    });
    let status = read_load(&loads.store, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// `GET /loads?limit=N&before=ID`: recent loads, newest first.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    before: Option<String>,
}

/// Loads per page unless the request says otherwise.
const DEFAULT_LOADS_LISTED: usize = 50;

async fn list_loads(
    State(loads): State<LoadsState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<LoadList>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::BadRequest(format!("invalid query: {}", crate::api::quoted_prefix(&rejection.body_text(), 200)))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_LOADS_LISTED);
    if limit == 0 || limit > MAX_LOADS_LISTED {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_LOADS_LISTED}, not {limit}")));
    }
    if let Some(before) = &query.before {
        check_load_id(before)?;
    }
    let records = loads
        .store
        .list_loads(limit, query.before.as_deref())
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let next_before = if records.len() == limit { records.last().map(|load| load.id.clone()) } else { None };
    Ok(Json(LoadList { loads: records, next_before }))
}

/// One page of `GET /loads`.
#[derive(Debug, serde::Serialize)]
pub struct LoadList {
    pub loads: Vec<LoadRecord>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<String>,
}

async fn load_status(State(loads): State<LoadsState>, Path(id): Path<String>) -> Result<Json<LoadRecord>, ApiError> {
    check_load_id(&id)?;
    read_load(&loads.store, &id).await.map(Json)
}

async fn read_load(store: &Store, id: &str) -> Result<LoadRecord, ApiError> {
    store
        .load_record(id)
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("the store has no load {}", crate::api::quoted_prefix(id, 40))))
}

/// Load ids are what `queue::new_job_id` makes: short, ASCII letters, digits, `-`, `_`.
fn check_load_id(id: &str) -> Result<(), ApiError> {
    if !crate::queue::is_id(id) {
        return Err(ApiError::BadRequest(format!("{} is not a load id", crate::api::quoted_prefix(id, 40))));
    }
    Ok(())
}

fn load_error(error: LoadError) -> ApiError {
    match error {
        LoadError::UnknownExchange { .. }
        | LoadError::UnknownPolicy { .. }
        | LoadError::EmptyRange { .. }
        | LoadError::NoSymbols => ApiError::BadRequest(error.to_string()),
        LoadError::Calendar(error) => ApiError::Calendar(error),
        LoadError::Policy(_) => ApiError::Upstream(error.to_string()),
        LoadError::Store(_) | LoadError::Queue(_) | LoadError::Worker(_) => ApiError::Internal(error.to_string()),
    }
}

/// `GET /jobs`: the server's queue, per tier.
async fn queue_status(State(loads): State<LoadsState>) -> Result<Json<crate::queue::QueueStatus>, ApiError> {
    loads.queue.status().await.map(Json).map_err(|error| ApiError::Internal(error.to_string()))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadQuery {
    limit: Option<usize>,
}

/// `GET /jobs/dead?limit=N`: the server's queue's dead letters, oldest first.
async fn dead_letters(
    State(loads): State<LoadsState>,
    query: Result<Query<DeadQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::BadRequest(format!("invalid query: {}", crate::api::quoted_prefix(&rejection.body_text(), 200)))
    })?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_DEAD_LETTERS {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_DEAD_LETTERS}, not {limit}")));
    }
    let dead = loads.queue.list_dead(limit).await.map_err(|error| ApiError::Internal(error.to_string()))?;
    let dead: Vec<DeadLetter> = dead.into_iter().map(DeadLetter::from_queue).collect();
    Ok(Json(serde_json::json!({ "dead_letters": dead })))
}

/// `POST /jobs/retry-dead`: queues every dead letter again for the workers.
async fn retry_dead(State(loads): State<LoadsState>) -> Result<Json<serde_json::Value>, ApiError> {
    let queued_again = loads.queue.retry_dead().await.map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(Json(serde_json::json!({ "queued_again": queued_again })))
}
