//! `tickstock serve`'s HTTP side: the admin API router over the plugin registry, the
//! calendar engine and the metrics, and `run`, which serves a router on a listener until
//! a shutdown future completes (mini-redis's `server::run(listener, shutdown)`), so tests
//! run a real server on port 0 in-process.
//!
//! `run` also puts the limits on what a client may send: the time to send a request's
//! headers, the size of a body, and, on a server without a token, the `Host` a request
//! may name (so a web page cannot reach a loopback server by DNS rebinding). Every error,
//! axum's own rejections included, leaves as the API's JSON (`error::json_errors`).
//!
//! The load engine plugs in beside this: its routes (`POST /loads`, `GET /loads/{id}`)
//! are a `Router` merged into `router(..)`'s result, behind `require_token` like every
//! mutating route, and its workers start next to the watcher in `service`.
//!
//! Depends on `api`, `load`, `plugin`, `store`, `queue`, `watch`, `metrics`; never on
//! `cli`.

mod assemble;
pub mod console;
pub mod datasets;
mod error;
pub mod loads;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;

pub use assemble::{Assembled, assemble};
pub use error::{ApiError, json_errors};
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
    /// The store whose load ledger `/metrics` reports; None when serving no loads.
    pub store: Option<crate::store::Store>,
    /// The console's event source (`/events`); `close` it when shutting down.
    pub console: Arc<console::Hub>,
}

impl ServerState {
    pub fn new(registry: Arc<Registry>, metrics: Arc<Metrics>) -> ServerState {
        ServerState {
            registry,
            metrics,
            folder: None,
            token: None,
            started_at: Instant::now(),
            store: None,
            console: Arc::new(console::Hub::default()),
        }
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

/// What `run` allows a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client may take to send a request's headers before the connection is
    /// closed: a slow client otherwise holds a connection (and its memory) for ever.
    pub header_read_timeout: Duration,
    /// Largest request body, in bytes; more is a 413.
    pub max_body_bytes: usize,
    /// Serve only requests whose `Host` is `127.0.0.1`, `localhost` or `[::1]` (with the
    /// listening port): what a server without a token must do, since a browser that
    /// resolved any name to 127.0.0.1 would otherwise reach it.
    pub loopback_hosts_only: bool,
}

/// Largest body by default: a `POST /loads` naming 100,000 symbols as `"SYMBOL,MIC"`
/// strings is about 1.5 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Header read timeout by default: generous for a person typing, short for a slowloris.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a shutdown waits for requests in flight before it closes their connections.
pub const GRACEFUL_SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

impl ServeLimits {
    /// The defaults for a server with or without a token.
    pub fn for_token(token: Option<&str>) -> ServeLimits {
        ServeLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            loopback_hosts_only: token.is_none_or(str::is_empty),
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets
/// in-flight requests finish (for at most `GRACEFUL_SHUTDOWN_LIMIT`).
///
/// Connections are served by hyper's HTTP/1 builder rather than `axum::serve`, which
/// sets no timer and so has no header read timeout.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let mut app = app.layer(DefaultBodyLimit::max(limits.max_body_bytes));
    if limits.loopback_hosts_only {
        app =
            app.layer(middleware::from_fn(move |request: Request, next: Next| loopback_host_only(port, request, next)));
    }
    let app = app.layer(middleware::map_response(json_errors));

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that went away or sent garbage: its connection's business only.
            let _ = connection.await;
        });
    }
    drop(listener);
    // A request that never ends (a stream nobody closed) must not hold the shutdown.
    if tokio::time::timeout(GRACEFUL_SHUTDOWN_LIMIT, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            "requests still in flight after {} s; closing their connections",
            GRACEFUL_SHUTDOWN_LIMIT.as_secs()
        );
    }
    Ok(())
}

/// Middleware of a server without a token: a request must name this machine in `Host`.
async fn loopback_host_only(port: u16, request: Request, next: Next) -> Result<Response, ApiError> {
    let host = request.headers().get(header::HOST).and_then(|value| value.to_str().ok());
    if host.is_some_and(|host| is_loopback_host(host, port)) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Forbidden(format!(
            "this server has no token, so it serves only requests for 127.0.0.1:{port}, localhost:{port} or [::1]:{port}; \
             connect to one of those, or start it with --token to serve other host names"
        )))
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with `port` (or without a port when `port` is
/// the default 80).
fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        // `[::1]` alone ends in `]`, and its colons are inside the brackets.
        Some((name, given_port)) if !given_port.ends_with(']') => (name, Some(given_port)),
        _ => (host, None),
    };
    let name_is_loopback =
        ["127.0.0.1", "localhost", "[::1]"].iter().any(|loopback| name.eq_ignore_ascii_case(loopback));
    let port_matches = match given_port {
        Some(given_port) => given_port.parse::<u16>().is_ok_and(|given_port| given_port == port),
        None => port == 80,
    };
    name_is_loopback && port_matches
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

    #[test]
    fn only_loopback_names_with_our_port_are_served_without_a_token() {
        for (host, served) in [
            ("127.0.0.1:7070", true),
            ("localhost:7070", true),
            ("LOCALHOST:7070", true),
            ("[::1]:7070", true),
            ("127.0.0.1", false),
            ("[::1]", false),
            ("127.0.0.1:7071", false),
            ("evil.example:7070", false),
            ("localhost.evil.example:7070", false),
            ("127.0.0.1.nip.io:7070", false),
            ("127.0.0.1:7070:7070", false),
            ("", false),
        ] {
            assert_eq!(is_loopback_host(host, 7070), served, "{host:?}");
        }
        assert!(is_loopback_host("localhost", 80));
    }
}
