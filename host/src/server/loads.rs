//! `POST /loads` and `GET /loads/{id}`: loads submitted to a running `tickstock serve`,
//! worked off by its workers.
//!
//! The body of `POST /loads` is a JSON object of `tickstock load`'s own options, e.g.
//! `{"symbols": "AAPL,MSFT", "exchange": "XNAS", "years": 2, "tier": "high"}`: the keys
//! are the long flag names and the values go through the same parser, so the endpoint
//! and the command can never disagree about what an option means. The store and the
//! queue are the server's (`--db`, `--queue`), not the request's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;

use super::{ApiError, ServerState, require_token};
use crate::cli::load::RequestArgs;
use crate::load::{LoadBoard, LoadError, LoadStatus, plan_load};
use crate::plugin::Registry;
use crate::queue::{JobQueue, Queue};
use crate::store::Store;

/// What the load routes share.
#[derive(Clone)]
pub struct LoadsState {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub queue: Queue,
    pub board: Arc<LoadBoard>,
}

/// The load routes; `POST` behind the server's token like every mutating route.
pub fn routes(loads: LoadsState, server: ServerState) -> Router {
    Router::new()
        .route("/loads", post(submit_load))
        .route_layer(middleware::from_fn_with_state(server, require_token))
        .route("/loads/{id}", get(load_status))
        .with_state(loads)
}

/// `tickstock load`'s request options, parsed from a JSON body.
#[derive(Debug, Parser)]
#[command(name = "POST /loads", no_binary_name = true, disable_help_flag = true)]
struct LoadBody {
    #[command(flatten)]
    request: RequestArgs,
}

/// JSON object -> `--key value` arguments.
fn body_to_arguments(body: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<String>, ApiError> {
    let mut arguments = Vec::new();
    for (key, value) in body {
        if key == "db" {
            return Err(ApiError::BadRequest("`db` is the server's (--db when it started), not a request's".into()));
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            serde_json::Value::String(text) => arguments.extend([flag, text.clone()]),
            serde_json::Value::Number(number) => arguments.extend([flag, number.to_string()]),
            serde_json::Value::Bool(true) => arguments.push(flag),
            serde_json::Value::Bool(false) | serde_json::Value::Null => {}
            serde_json::Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string).unwrap_or_else(|| item.to_string()))
                    .collect();
                arguments.extend([flag, joined.join(",")]);
            }
            serde_json::Value::Object(_) => {
                return Err(ApiError::BadRequest(format!(
                    "option {key:?} takes a string, number or list, not an object"
                )));
            }
        }
    }
    Ok(arguments)
}

async fn submit_load(
    State(loads): State<LoadsState>,
    Json(body): Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<(StatusCode, Json<LoadStatus>), ApiError> {
    let arguments = body_to_arguments(&body)?;
    let parsed = LoadBody::try_parse_from(arguments).map_err(|error| {
        let text = error.to_string();
        ApiError::BadRequest(
            text.lines().next().unwrap_or("invalid load options").trim_start_matches("error: ").to_string(),
        )
    })?;
    let request = parsed.request.to_request().map_err(|error| ApiError::BadRequest(format!("{error:#}")))?;
    let plan = plan_load(&loads.registry, &loads.store, &request).await.map_err(load_error)?;
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
        ApiError::NotFound(format!("no load {id:?} was submitted to this server (or it is long forgotten)"))
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
