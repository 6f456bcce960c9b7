//! One job, start to end: fetch every gap from the provider, write the job's bars in one
//! store transaction, then settle it with the queue: ack after the commit, nack after a
//! backoff on a transient failure, dead-letter a permanent one with its reason. A ticker
//! keeps the job's queue entry alive while it runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::throttle::ExchangeThrottle;
use super::{JobEvent, WorkerContext, WorkerCounters, WorkerOptions, tier_index};
use crate::provider::{FetchRequest, ProviderError};
use crate::queue::{Delivery, JobQueue, NackOutcome};
use crate::store::StoreError;

/// How a job ended.
pub(super) enum JobOutcome {
    Done {
        rows: u64,
    },
    Transient {
        error: String,
        retry_after: Option<Duration>,
        provider_failure: bool,
    },
    Permanent {
        reason: String,
    },
    /// Another consumer owns the job now; nothing to settle here.
    Lost,
}

/// Runs the job while a ticker keeps its queue entry alive.
pub(super) async fn run_job_kept_alive(
    context: &WorkerContext,
    options: &WorkerOptions,
    throttle: &ExchangeThrottle,
    delivery: &Delivery,
) -> JobOutcome {
    let job = run_job(context, throttle, delivery);
    tokio::pin!(job);
    let mut ticker = tokio::time::interval(options.keep_alive_every);
    ticker.tick().await;
    loop {
        tokio::select! {
            outcome = &mut job => return outcome,
            _ = ticker.tick() => {
                match context.queue.keep_alive(delivery).await {
                    Ok(true) => {}
                    // Another worker took the job over (this one looked dead): stop, and
                    // leave ack or retry to the new owner.
                    Ok(false) => return JobOutcome::Lost,
                    Err(error) => tracing::warn!(job = %delivery.job.id, %error, "could not extend the job's lease"),
                }
            }
        }
    }
}

async fn run_job(context: &WorkerContext, throttle: &ExchangeThrottle, delivery: &Delivery) -> JobOutcome {
    let job = &delivery.job;
    let _permits = match throttle.admit(&context.registry, job).await {
        Ok(permits) => permits,
        Err(reason) => return JobOutcome::Permanent { reason },
    };
    let observed_at = Utc::now();
    let mut bars = Vec::new();
    for gap in &job.gaps {
        let Some(calendar) = context.registry.calendar(&gap.exchange) else {
            return JobOutcome::Permanent { reason: format!("unknown exchange {} for {}", gap.exchange, gap.symbol) };
        };
        let (start, end) = (gap.start, gap.end);
        let sessions = match tokio::task::spawn_blocking(move || calendar.sessions(start, end)).await {
            // The payload's session count set the job's memory reservation; a payload whose
            // count disagrees with the calendar (a 10-year gap claiming 1 session) would
            // make the job hold far more than it reserved, so it is refused.
            Ok(Ok(sessions)) if sessions.len() == gap.sessions as usize => sessions,
            Ok(Ok(sessions)) => {
                return JobOutcome::Permanent {
                    reason: format!(
                        "gap {} {}..{} claims {} sessions but the calendar has {}; not loaded",
                        gap.symbol,
                        gap.start,
                        gap.end,
                        gap.sessions,
                        sessions.len()
                    ),
                };
            }
            Ok(Err(error)) => return JobOutcome::Permanent { reason: error.to_string() },
            Err(error) => {
                return JobOutcome::Transient { error: error.to_string(), retry_after: None, provider_failure: false };
            }
        };
        let request = FetchRequest {
            symbol: &gap.symbol,
            exchange: &gap.exchange,
            timeframe: job.timeframe,
            sessions: &sessions,
            observed_at,
        };
        match context.provider.fetch(request).await {
            Ok(fetched) => bars.extend(fetched),
            Err(error @ ProviderError::Transient(_)) => {
                return JobOutcome::Transient {
                    retry_after: error.retry_after(),
                    error: format!("{} {}: {error}", gap.symbol, gap.exchange),
                    provider_failure: true,
                };
            }
            Err(error @ ProviderError::Permanent(_)) => {
                return JobOutcome::Permanent { reason: format!("{} {}: {error}", gap.symbol, gap.exchange) };
            }
        }
    }
    context.counters.bars_fetched.fetch_add(bars.len() as u64, Ordering::Relaxed);
    match context.store.write_bars(&bars).await {
        Ok(summary) => JobOutcome::Done { rows: summary.rows_written },
        Err(error) if error.is_transient() => {
            JobOutcome::Transient { error: error.to_string(), retry_after: None, provider_failure: false }
        }
        Err(error @ StoreError::InvalidBar { .. }) => JobOutcome::Permanent { reason: error.to_string() },
        Err(error) => JobOutcome::Permanent { reason: error.to_string() },
    }
}

/// Acks, nacks (after a backoff) or dead-letters the job, and counts it.
pub(super) async fn settle(
    context: &WorkerContext,
    options: &WorkerOptions,
    delivery: &Delivery,
    outcome: &JobOutcome,
    elapsed: Duration,
) {
    let counters = &context.counters;
    match outcome {
        JobOutcome::Done { rows } => {
            if let Err(error) = context.queue.ack(delivery).await {
                // The rows are committed; the job will be re-delivered and rewritten
                // harmlessly (idempotent upserts).
                tracing::warn!(job = %delivery.job.id, %error, "committed but could not ack");
            }
            counters.jobs_done.fetch_add(1, Ordering::Relaxed);
            counters.done_by_tier[tier_index(delivery.tier)].fetch_add(1, Ordering::Relaxed);
            counters.rows_written.fetch_add(*rows, Ordering::Relaxed);
            counters.job_millis.fetch_add(elapsed.as_millis() as u64, Ordering::Relaxed);
            context.notify(JobEvent::Done { job: &delivery.job, tier: delivery.tier, rows: *rows });
        }
        JobOutcome::Transient { error, retry_after, .. } => {
            let delay = options.backoff.delay(delivery.deliveries, jitter()).max(retry_after.unwrap_or_default());
            tracing::info!(job = %delivery.job.id, attempt = delivery.deliveries, delay_ms = delay.as_millis() as u64, "transient failure, retrying: {error}");
            tokio::time::sleep(delay).await;
            match context.queue.nack(delivery, error).await {
                Ok(NackOutcome::Requeued) => {
                    counters.jobs_retried.fetch_add(1, Ordering::Relaxed);
                    context.notify(JobEvent::Retried { job: &delivery.job, tier: delivery.tier, error });
                }
                Ok(NackOutcome::DeadLettered) => {
                    let reason = format!("{} (after {} deliveries)", error, delivery.deliveries);
                    context.notify(JobEvent::Dead { job: &delivery.job, tier: delivery.tier, reason: &reason });
                    note_dead(counters, reason);
                }
                Ok(NackOutcome::NotInFlight) => {}
                Err(queue_error) => {
                    tracing::warn!(job = %delivery.job.id, %queue_error, "could not nack; the job will be reclaimed")
                }
            }
        }
        JobOutcome::Lost => {
            tracing::info!(job = %delivery.job.id, "job taken over by another worker; dropped here");
        }
        JobOutcome::Permanent { reason } => {
            tracing::warn!(job = %delivery.job.id, "permanent failure, dead-lettered: {reason}");
            match context.queue.dead_letter(delivery, reason).await {
                Ok(()) => {
                    context.notify(JobEvent::Dead { job: &delivery.job, tier: delivery.tier, reason });
                    note_dead(counters, reason.clone());
                }
                Err(queue_error) => {
                    tracing::warn!(job = %delivery.job.id, %queue_error, "could not dead-letter; the job will be reclaimed")
                }
            }
        }
    }
}

fn note_dead(counters: &WorkerCounters, reason: String) {
    counters.jobs_dead.fetch_add(1, Ordering::Relaxed);
    let mut reasons = counters.dead_reasons.lock().expect("counters lock");
    if reasons.len() >= 100 {
        reasons.remove(0);
    }
    reasons.push(reason);
}

/// A number in [0, 1) that differs between calls and processes: enough for jitter.
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut state = (std::process::id() as u64) << 32
        ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ Utc::now().timestamp_subsec_nanos() as u64;
    state ^= state >> 33;
    state = state.wrapping_mul(0xff51_afd7_ed55_8ccd);
    state ^= state >> 33;
    (state >> 11) as f64 / (1u64 << 53) as f64
}
