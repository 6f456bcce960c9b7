//! `tickstock serve`'s HTTP side: the admin API router over the plugin registry, the
//! calendar engine and the metrics, and `run`, which serves a router on a listener until
//! a shutdown future completes (mini-redis's `server::run(listener, shutdown)`), so tests
//! run a real server on port 0 in-process.
//!
//! The load engine plugs in beside this: its routes (`POST /loads`, `GET /loads/{id}`)
//! are a `Router` merged into `router(..)`'s result, behind `require_token` like every
//! mutating route, and its workers start next to the watcher in `service`.
//!
//! Depends on `api`, `load`, `plugin`, `store`, `queue`, `watch`, `metrics`; never on
//! `cli`.

mod assemble;
mod error;
pub mod loads;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;

pub use assemble::{Assembled, assemble};
pub use error::ApiError;
pub use routes::{require_token, router};

use crate::metrics::Metrics;
use crate::plugin::Registry;
use crate::watch::PluginFolder;

/// What the handlers share. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct ServerState {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The watched folder, for `POST /plugins/reload`; None serves the built-ins only.
    pub folder: Option<Arc<PluginFolder>>,
    /// Bearer token the mutating endpoints require; None leaves them open (loopback only,
    /// see `check_exposure`).
    pub token: Option<Arc<str>>,
    pub started_at: Instant,
}

impl ServerState {
    pub fn new(registry: Arc<Registry>, metrics: Arc<Metrics>) -> ServerState {
        ServerState { registry, metrics, folder: None, token: None, started_at: Instant::now() }
    }
}

/// Refusing to expose the admin API beyond this machine without a token.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {address} without a token: anyone who can reach it could reload plugins; set --token (or TICKSTOCK_TOKEN), or listen on 127.0.0.1"
)]
pub struct ExposureRefused {
    pub address: SocketAddr,
}

/// A non-loopback address needs a token.
pub fn check_exposure(address: SocketAddr, token: Option<&str>) -> Result<(), ExposureRefused> {
    let has_token = token.is_some_and(|token| !token.is_empty());
    if address.ip().is_loopback() || has_token { Ok(()) } else { Err(ExposureRefused { address }) }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_listen_without_a_token() {
        let loopback: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        let loopback_v6: SocketAddr = "[::1]:7070".parse().unwrap();
        let everywhere: SocketAddr = "0.0.0.0:7070".parse().unwrap();
        assert!(check_exposure(loopback, None).is_ok());
        assert!(check_exposure(loopback_v6, None).is_ok());
        assert!(check_exposure(everywhere, None).is_err());
        assert!(check_exposure(everywhere, Some("")).is_err());
        assert!(check_exposure(everywhere, Some("s3cret")).is_ok());
    }
}
