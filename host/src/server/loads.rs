//! `POST /loads` and `GET /loads/{id}`: loads submitted to a running `tickstock serve`,
//! worked off by its workers.
//!
//! The body of `POST /loads` is a typed [`LoadSpec`], e.g.
//! `{"symbols": ["AAPL", "MSFT"], "exchange": "XNAS", "years": 2, "tier": "high"}`; the
//! command line builds the same type from its flags, so the endpoint and the command can
//! never disagree about what an option means. A request never names a file, a store or a
//! queue: those are the server's (`--db`, `--queue`). `docs/api.md` documents the fields.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::{ApiError, ServerState, require_token};
use crate::api::load::{LoadSpec, RequestLimits};
use crate::load::{LoadBoard, LoadError, LoadStatus, plan_load};
use crate::plugin::Registry;
use crate::queue::{JobQueue, Queue};
use crate::store::Store;

/// Plans computed at once by default: planning is CPU-bound (calendar sessions, gaps,
/// the policy's call), so more than the cores of a small machine only queues.
pub const DEFAULT_CONCURRENT_PLANS: usize = 2;

/// What the load routes share.
#[derive(Clone)]
pub struct LoadsState {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub queue: Queue,
    pub board: Arc<LoadBoard>,
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
        .route_layer(middleware::from_fn_with_state(server, require_token))
        .route("/loads/{id}", get(load_status))
        .with_state(loads)
}

async fn submit_load(
    State(loads): State<LoadsState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<LoadStatus>), ApiError> {
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
    loads.board.register(&plan);
    let id = plan.load_id.clone();
    // Enqueue in the background: with a plan larger than the queue's backlog limit the
    // enqueue waits for workers to ack, which must not hold the HTTP request.
    let queue = loads.queue.clone();
    tokio::spawn(async move {
        if let Err(error) = queue.enqueue_many(&plan.jobs).await {
            tracing::error!(load = %plan.load_id, %error, "could not enqueue the load's jobs");
        }
    });
    let status = loads.board.get(&id).ok_or_else(|| ApiError::Internal("the load vanished from the board".into()))?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

async fn load_status(State(loads): State<LoadsState>, Path(id): Path<String>) -> Result<Json<LoadStatus>, ApiError> {
    loads.board.get(&id).map(Json).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no load {} was submitted to this server (or it is long forgotten)",
            crate::api::quoted_prefix(&id, 40)
        ))
    })
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
