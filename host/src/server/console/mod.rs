//! The operations console `tickstock serve` serves at `/`: one HTML page, its script and
//! its style sheet, embedded in the binary (no CDN, works offline, nothing to build with
//! Node.js), plus `/events`, the server-sent events that tell the page when to re-read
//! the JSON API (see `events`).
//!
//! The page is plain JavaScript and SVG, without a framework or a chart library: what it
//! draws (a 24-hour bar per exchange, a rows/s line, a coverage grid) is a few dozen lines
//! of SVG each, and a library would weigh more than the whole console. It reads only the
//! API every other client reads, so what it shows is what `/loads`, `/plugins` and
//! `/calendars` say.
//!
//! Security is the API's: reads are open on loopback (and `run`'s `Host` check applies),
//! every action sends the bearer token the operator typed into the page, kept in the
//! tab's `sessionStorage` only. Every console response carries a Content-Security-Policy
//! that allows scripts, styles and connections from this origin only, so no inline script
//! runs even if some text the page shows were to carry markup.

mod events;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

pub use events::{Hub, MAX_EVENT_STREAMS};

use super::ServerState;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");

/// Scripts, styles and fetches from this origin only; no inline script, no plugin, no
/// framing, no form posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes: the page, its two assets, and the event stream.
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/console/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/console/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
        .route("/events", get(events::events))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            // Embedded in the binary: a new binary may serve new assets under the same
            // names, so the browser revalidates rather than caching them for ever.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style_for_the_policy_to_refuse() {
        // The policy forbids inline code; a `<script>` with a body or an `on...=` handler
        // in the page would silently not run.
        let page = INDEX_HTML.to_ascii_lowercase();
        for (index, _) in page.match_indices("<script") {
            let tag_end = page[index..].find('>').map(|end| index + end).unwrap();
            assert!(page[index..tag_end].contains("src=\"/console/"), "script without src at byte {index}");
            assert!(page[tag_end + 1..].starts_with("</script>"), "inline script body at byte {index}");
        }
        assert!(!page.contains("<style"), "inline style element");
        assert!(!page.contains(" style=\""), "inline style attribute");
        assert!(!page.contains(" onclick=") && !page.contains(" onload="), "inline handler");
        for parser in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!APP_JS.contains(parser), "the script builds nodes, it never parses markup ({parser})");
        }
    }
}
