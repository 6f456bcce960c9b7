//! `GET /events`: server-sent events that tell the console what changed, so the page
//! re-reads the API when something happened rather than polling it.
//!
//! One background task per server (the pulse) looks once a second, and only while some
//! page listens, at what the console shows: the plugins (generations, failures, swaps)
//! and the store's load ledger (which every worker process writes, so a load worked off
//! by another process moves the page too). When one of them changes, every stream gets
//! one event naming it:
//!
//! - `hello`: first, with the server's clock and the rows/s samples of the last ten
//!   minutes (for the chart a page opened mid-load draws at once);
//! - `plugins`: the plugins or their swaps changed; re-read `/plugins`, `/plugins/swaps`;
//! - `loads`: the ledger's totals changed; the data carries them and the latest rows/s
//!   sample; re-read `/loads` and `/jobs`.
//!
//! Streams are bounded (`MAX_EVENT_STREAMS`, then 503) and end when the server shuts down
//! (`Hub::close`), so a page left open never holds a graceful shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::stream::Stream;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::plugin::Registry;
use crate::server::{ApiError, ServerState};
use crate::store::{LedgerTotals, Store};
use crate::watch::PluginFolder;

/// Event streams open at once; one more is a 503.
pub const MAX_EVENT_STREAMS: usize = 32;

/// How often the pulse looks.
const TICK: Duration = Duration::from_secs(1);

/// A rows/s sample every this many ticks, and how many are kept (ten minutes).
const TICKS_PER_SAMPLE: u32 = 5;
const SAMPLES_KEPT: usize = 120;

/// One rows/s sample: rows written to the store per second over the interval ending at
/// `at_ms` (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub at_ms: i64,
    pub rows_per_second: f64,
}

/// What the pulse saw at its last look.
#[derive(Debug, Clone, Default)]
struct Pulse {
    /// Changes whenever a generation, a failure or a swap does.
    plugins: u64,
    loads: Option<LedgerTotals>,
    samples: Arc<VecDeque<Sample>>,
}

/// The console's event source, shared by every stream of one server.
pub struct Hub {
    pulse: OnceLock<Arc<watch::Sender<Pulse>>>,
    streams: Arc<Semaphore>,
    closing: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            pulse: OnceLock::new(),
            streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
            closing: watch::Sender::new(false),
        }
    }
}

impl Hub {
    /// Ends every event stream, now and from now on: the server is shutting down.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver of the pulse, starting the pulse task on first use (on the handler's
    /// runtime, with the server's store and folder).
    fn subscribe(&self, state: &ServerState) -> watch::Receiver<Pulse> {
        self.pulse
            .get_or_init(|| {
                let sender = Arc::new(watch::Sender::new(Pulse::default()));
                tokio::spawn(beat(
                    Arc::downgrade(&state.registry),
                    state.folder.as_ref().map(Arc::downgrade),
                    state.store.clone(),
                    sender.clone(),
                    self.closing.subscribe(),
                ));
                sender
            })
            .subscribe()
    }
}

/// The pulse task: looks every `TICK` while anyone listens; ends with the server (its
/// registry gone, or `close`).
async fn beat(
    registry: Weak<Registry>,
    folder: Option<Weak<PluginFolder>>,
    store: Option<Store>,
    sender: Arc<watch::Sender<Pulse>>,
    mut closing: watch::Receiver<bool>,
) {
    let mut samples: VecDeque<Sample> = VecDeque::with_capacity(SAMPLES_KEPT);
    let mut last_rows: Option<(Instant, u64)> = None;
    let mut ticks: u32 = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            _ = closing.wait_for(|closing| *closing) => return,
        }
        let Some(registry) = registry.upgrade() else { return };
        if sender.receiver_count() == 0 {
            // Nobody listens: no ledger reads, and the samples restart when someone does.
            last_rows = None;
            continue;
        }
        let plugins = plugins_fingerprint(&registry, folder.as_ref().and_then(Weak::upgrade).as_deref());
        drop(registry);
        let loads = match &store {
            Some(store) => match store.ledger_totals().await {
                Ok(totals) => Some(totals),
                Err(error) => {
                    tracing::debug!(%error, "the console's pulse could not read the ledger");
                    sender.borrow().loads.clone()
                }
            },
            None => None,
        };
        ticks = ticks.wrapping_add(1);
        if let Some(totals) = &loads
            && ticks.is_multiple_of(TICKS_PER_SAMPLE)
        {
            let now = Instant::now();
            if let Some((then, rows_then)) = last_rows {
                let seconds = now.duration_since(then).as_secs_f64();
                let rows = totals.rows_written.saturating_sub(rows_then);
                if seconds > 0.0 {
                    if samples.len() == SAMPLES_KEPT {
                        samples.pop_front();
                    }
                    samples.push_back(Sample {
                        at_ms: Utc::now().timestamp_millis(),
                        rows_per_second: rows as f64 / seconds,
                    });
                }
            }
            last_rows = Some((now, totals.rows_written));
        }
        let new_samples = samples.back() != sender.borrow().samples.back();
        sender.send_if_modified(|pulse| {
            let changed = pulse.plugins != plugins || pulse.loads != loads || new_samples;
            if changed {
                *pulse = Pulse { plugins, loads: loads.clone(), samples: Arc::new(samples.clone()) };
            }
            changed
        });
    }
}

/// A hash of what the Plugins page shows: each generation (and its failed calls), the
/// refused files, the swaps.
fn plugins_fingerprint(registry: &Registry, folder: Option<&PluginFolder>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for entry in registry.list() {
        (entry.kind.as_str(), &entry.name, entry.generation, entry.calls.errors).hash(&mut hasher);
    }
    for failure in registry.failures() {
        (&failure.origin, failure.at.timestamp_micros()).hash(&mut hasher);
    }
    if let Some(folder) = folder {
        folder.swaps_recorded().hash(&mut hasher);
    }
    hasher.finish()
}

/// One stream's state between events.
struct Listener {
    pulse: watch::Receiver<Pulse>,
    closing: watch::Receiver<bool>,
    seen: Option<Pulse>,
    pending: VecDeque<Event>,
    _permit: OwnedSemaphorePermit,
}

pub async fn events(
    State(state): State<ServerState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let permit = state.console.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy(format!("{MAX_EVENT_STREAMS} event streams are open already; close a console tab"))
    })?;
    let stream = Listener {
        pulse: state.console.subscribe(&state),
        closing: state.console.closing.subscribe(),
        seen: None,
        pending: VecDeque::new(),
        _permit: permit,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        loop {
            if *stream.closing.borrow() {
                return None;
            }
            if let Some(event) = stream.pending.pop_front() {
                return Some((Ok(event), stream));
            }
            let Some(seen) = &stream.seen else {
                let now = stream.pulse.borrow_and_update().clone();
                stream.pending.push_back(json_event(
                    "hello",
                    &serde_json::json!({ "server_time": Utc::now(), "samples": *now.samples }),
                ));
                stream.seen = Some(now);
                continue;
            };
            let seen = seen.clone();
            tokio::select! {
                changed = stream.pulse.changed() => if changed.is_err() { return None },
                _ = stream.closing.wait_for(|closing| *closing) => return None,
            }
            let now = stream.pulse.borrow_and_update().clone();
            if now.plugins != seen.plugins {
                stream.pending.push_back(json_event("plugins", &serde_json::json!({ "at": Utc::now() })));
            }
            if now.loads != seen.loads || now.samples.back() != seen.samples.back() {
                stream.pending.push_back(json_event(
                    "loads",
                    &serde_json::json!({ "totals": now.loads, "sample": now.samples.back() }),
                ));
            }
            stream.seen = Some(now);
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn json_event(name: &'static str, data: &serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}
