//! One job, start to end: fetch every gap from the provider, write the job's bars in one
//! store transaction, then settle it with the queue: ack after the commit, nack after a
//! backoff on a transient failure, dead-letter a permanent one with its reason. A ticker
//! keeps the job's queue entry alive while it runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;

use super::throttle::ExchangeThrottle;
use super::{JobEvent, WorkerContext, WorkerCounters, WorkerOptions, tier_index};
use crate::plan::{Gap, Timeframe};
use crate::provider::{FetchRequest, ProviderError};
use crate::queue::{Delivery, JobPayload, JobQueue, NackOutcome};
use crate::store::{CompleteSession, JobRef, JobState, LedgerJob, Settled, Settlement};

/// How a job ended.
pub(super) enum JobOutcome {
    /// Its bars are committed (and the job recorded done in the ledger, with the jobs split
    /// off it); `split` still has to reach the queue before the ack.
    Done {
        rows: u64,
        split: Split,
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

/// What a job that committed some of its symbols leaves behind: a single-symbol dead job
/// per symbol that failed permanently, and one job with the gaps not loaded after a
/// transient failure (the failing symbol's and those after it).
#[derive(Default)]
pub(super) struct Split {
    pub dead: Vec<(JobPayload, String)>,
    pub rest: Option<(JobPayload, String)>,
    /// The rest failed at the provider (feeds the circuit breaker).
    pub provider_failure: bool,
}

/// The id of a job split off `parent`: a stable hash of the parent's id and `tag`, so a
/// re-delivered parent splits into the same ids (the ledger records each once).
fn child_id(parent: &str, tag: &str) -> String {
    // FNV-1a, 64 bits: stable across builds and processes, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parent.bytes().chain([b'/']).chain(tag.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("s{hash:016x}")
}

fn child(job: &JobPayload, tag: &str, gaps: Vec<Gap>, attempt: u32) -> JobPayload {
    JobPayload {
        format: job.format,
        id: child_id(&job.id, tag),
        load_id: job.load_id.clone(),
        tier: job.tier,
        timeframe: job.timeframe,
        gaps,
        attempt,
    }
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
    // A job of one symbol succeeds or fails whole, as before any split; a job of several
    // commits the symbols that load and splits off the others.
    let several_symbols = job.gaps.iter().any(|gap| gap.symbol != job.gaps[0].symbol);
    let observed_at = Utc::now();
    let mut bars = Vec::new();
    // Minute sessions the fetched bars cover completely, recorded with them.
    let mut complete = Vec::new();
    // Per symbol that failed permanently: its gaps and the first reason.
    let mut dead: Vec<(String, Vec<Gap>, String)> = Vec::new();
    let mut rest: Option<(usize, String, bool)> = None;
    let mut gaps_loaded = 0usize;
    for (index, gap) in job.gaps.iter().enumerate() {
        if let Some(entry) = dead.iter_mut().find(|(symbol, _, _)| *symbol == gap.symbol) {
            entry.1.push(gap.clone());
            continue;
        }
        let failure = match fetch_gap(context, job, gap, observed_at).await {
            Ok((fetched, sessions)) => {
                complete.extend(complete_sessions(job, gap, &sessions, &fetched));
                bars.extend(fetched);
                gaps_loaded += 1;
                continue;
            }
            Err(failure) => failure,
        };
        match failure {
            JobOutcome::Permanent { reason } if several_symbols => {
                dead.push((gap.symbol.clone(), vec![gap.clone()], reason));
            }
            JobOutcome::Transient { error, provider_failure, .. }
                if several_symbols && gaps_loaded + dead.len() > 0 =>
            {
                // The provider is in trouble: keep what loaded, and stop asking it.
                rest = Some((index, error, provider_failure));
                break;
            }
            whole => return whole,
        }
    }
    context.counters.bars_fetched.fetch_add(bars.len() as u64, Ordering::Relaxed);

    let mut split = Split::default();
    for (symbol, gaps, reason) in dead {
        split.dead.push((child(job, &format!("dead/{symbol}"), gaps, delivery.deliveries), reason));
    }
    if let Some((index, error, provider_failure)) = rest {
        split.rest = Some((child(job, "rest", job.gaps[index..].to_vec(), delivery.deliveries), error));
        split.provider_failure = provider_failure;
    }
    let mut ledger_jobs = Vec::with_capacity(split.dead.len() + 1);
    for (dead_job, reason) in &split.dead {
        let payload = match dead_job.encode() {
            Ok(payload) => payload,
            Err(error) => return JobOutcome::Permanent { reason: error.to_string() },
        };
        ledger_jobs.push(ledger_job(job, dead_job, JobState::Dead, Some(reason.clone()), Some(payload)));
    }
    if let Some((rest_job, error)) = &split.rest {
        ledger_jobs.push(ledger_job(job, rest_job, JobState::Queued, Some(error.clone()), None));
    }
    let job_ref = JobRef { load_id: &job.load_id, job_id: &job.id, worker: context.queue.consumer_name() };
    match context.store.write_job(&bars, job_ref, &ledger_jobs, &complete).await {
        Ok(summary) => JobOutcome::Done { rows: summary.rows_written, split },
        Err(error) if error.is_transient() => {
            JobOutcome::Transient { error: error.to_string(), retry_after: None, provider_failure: false }
        }
        Err(error) => JobOutcome::Permanent { reason: error.to_string() },
    }
}

/// A job split off `parent`, as the ledger records it.
fn ledger_job(
    parent: &JobPayload,
    job: &JobPayload,
    state: JobState,
    reason: Option<String>,
    payload: Option<String>,
) -> LedgerJob {
    LedgerJob {
        job_id: job.id.clone(),
        tier: job.tier,
        state,
        parent: Some(parent.id.clone()),
        symbols: job.symbol_count() as u64,
        expected_rows: 0,
        reason,
        payload,
    }
}

/// The minute sessions of `gap` that `bars` cover with a final bar for every expected
/// minute. Once those bars are committed the session stays complete (an upsert never
/// removes a bar and keeps the newer of two), so gap detection can skip its bars.
fn complete_sessions(
    job: &JobPayload,
    gap: &Gap,
    sessions: &[crate::calendar::Session],
    bars: &[crate::bar::Bar],
) -> Vec<CompleteSession> {
    if job.timeframe != Timeframe::Minute {
        return Vec::new();
    }
    let stamps: Vec<crate::gaps::BarStamp> = bars
        .iter()
        .filter(|bar| bar.symbol == gap.symbol && bar.exchange == gap.exchange && bar.timeframe == Timeframe::Minute)
        .map(|bar| crate::gaps::BarStamp { start: bar.start, written_at: bar.written_at })
        .collect();
    let present = crate::gaps::sessions_with_final_bars(Timeframe::Minute, sessions, &stamps);
    sessions
        .iter()
        .zip(present)
        .filter(|(_, present)| *present)
        .filter_map(|(session, _)| {
            let minutes = u32::try_from(crate::gaps::minute_bar_starts(session).count()).ok().filter(|m| *m > 0)?;
            Some(CompleteSession {
                symbol: gap.symbol.clone(),
                exchange: gap.exchange.clone(),
                timeframe: Timeframe::Minute,
                session: *session,
                minutes,
            })
        })
        .collect()
}

/// One gap's bars from the provider with the gap's sessions, or how fetching them failed
/// (`Transient` or `Permanent`).
async fn fetch_gap(
    context: &WorkerContext,
    job: &JobPayload,
    gap: &Gap,
    observed_at: chrono::DateTime<Utc>,
) -> Result<(Vec<crate::bar::Bar>, Vec<crate::calendar::Session>), JobOutcome> {
    let Some(calendar) = context.registry.calendar(&gap.exchange) else {
        return Err(JobOutcome::Permanent { reason: format!("unknown exchange {} for {}", gap.exchange, gap.symbol) });
    };
    let (start, end) = (gap.start, gap.end);
    let sessions = match tokio::task::spawn_blocking(move || calendar.sessions(start, end)).await {
        // The payload's session count set the job's memory reservation; a payload whose
        // count disagrees with the calendar (a 10-year gap claiming 1 session) would make
        // the job hold far more than it reserved, so it is refused.
        Ok(Ok(sessions)) if sessions.len() == gap.sessions as usize => sessions,
        Ok(Ok(sessions)) => {
            return Err(JobOutcome::Permanent {
                reason: format!(
                    "gap {} {}..{} claims {} sessions but the calendar has {}; not loaded",
                    gap.symbol,
                    gap.start,
                    gap.end,
                    gap.sessions,
                    sessions.len()
                ),
            });
        }
        Ok(Err(error)) => {
            return Err(JobOutcome::Permanent { reason: format!("{} {}: {error}", gap.symbol, gap.exchange) });
        }
        Err(error) => {
            return Err(JobOutcome::Transient { error: error.to_string(), retry_after: None, provider_failure: false });
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
        Ok(fetched) => Ok((fetched, sessions)),
        Err(error @ ProviderError::Transient(_)) => Err(JobOutcome::Transient {
            retry_after: error.retry_after(),
            error: format!("{} {}: {error}", gap.symbol, gap.exchange),
            provider_failure: true,
        }),
        Err(error @ ProviderError::Permanent(_)) => {
            Err(JobOutcome::Permanent { reason: format!("{} {}: {error}", gap.symbol, gap.exchange) })
        }
    }
}

/// Acks, nacks (after a backoff) or dead-letters the job, records what happened in the
/// ledger, and counts it. The ledger is written before the queue is told for a failure (a
/// crash in between re-delivers the job, which fails again the same way) and with the
/// bars for a success (see `run_job`).
pub(super) async fn settle(
    context: &WorkerContext,
    options: &WorkerOptions,
    delivery: &Delivery,
    outcome: &JobOutcome,
    elapsed: Duration,
) {
    let counters = &context.counters;
    let job = &delivery.job;
    match outcome {
        JobOutcome::Done { rows, split } => {
            for (dead_job, reason) in &split.dead {
                tracing::warn!(job = %job.id, split = %dead_job.id, "symbol failed permanently, dead-lettered: {reason}");
                match context.queue.dead_letter_new(dead_job, reason).await {
                    Ok(()) => {
                        context.notify(JobEvent::Dead { job: dead_job, tier: dead_job.tier, reason });
                        note_dead(counters, reason.clone());
                    }
                    // The ledger still has it dead with its payload (`tickstock loads
                    // show` lists it).
                    Err(error) => {
                        tracing::warn!(job = %dead_job.id, %error, "could not add the dead letter to the queue")
                    }
                }
            }
            let settled = match &split.rest {
                None => context.queue.ack(delivery).await.map(|()| None),
                Some((rest, error)) => {
                    let delay = options.backoff.delay(delivery.deliveries, jitter());
                    tracing::info!(job = %job.id, rest = %rest.id, gaps = rest.gaps.len(), delay_ms = delay.as_millis() as u64, "committed part of the job; the rest is retried: {error}");
                    tokio::time::sleep(delay).await;
                    context.queue.requeue_as(delivery, rest, error).await.map(Some)
                }
            };
            match settled {
                Ok(Some(NackOutcome::Requeued)) => {
                    if let Some((rest, error)) = &split.rest {
                        counters.jobs_retried.fetch_add(1, Ordering::Relaxed);
                        context.notify(JobEvent::Retried { job: rest, tier: rest.tier, error });
                    }
                }
                Ok(Some(NackOutcome::DeadLettered)) => {
                    if let Some((rest, error)) = &split.rest {
                        let reason = format!("{error} (after {} deliveries)", delivery.deliveries);
                        record(context, rest, Settled::Dead { reason: &reason, payload: &encoded(rest) }).await;
                        context.notify(JobEvent::Dead { job: rest, tier: rest.tier, reason: &reason });
                        note_dead(counters, reason);
                    }
                }
                Ok(None | Some(NackOutcome::NotInFlight)) => {}
                // The rows are committed; the job will be re-delivered and rewritten
                // harmlessly (idempotent upserts), and split the same way.
                Err(error) => tracing::warn!(job = %job.id, %error, "committed but could not ack"),
            }
            counters.jobs_done.fetch_add(1, Ordering::Relaxed);
            counters.done_by_tier[tier_index(delivery.tier)].fetch_add(1, Ordering::Relaxed);
            counters.rows_written.fetch_add(*rows, Ordering::Relaxed);
            counters.job_millis.fetch_add(elapsed.as_millis() as u64, Ordering::Relaxed);
            context.notify(JobEvent::Done { job, tier: delivery.tier, rows: *rows });
        }
        JobOutcome::Transient { error, retry_after, .. } => {
            let delay = options.backoff.delay(delivery.deliveries, jitter()).max(retry_after.unwrap_or_default());
            tracing::info!(job = %job.id, attempt = delivery.deliveries, delay_ms = delay.as_millis() as u64, "transient failure, retrying: {error}");
            tokio::time::sleep(delay).await;
            match context.queue.nack(delivery, error).await {
                Ok(NackOutcome::Requeued) => {
                    record(context, job, Settled::Retried { error }).await;
                    counters.jobs_retried.fetch_add(1, Ordering::Relaxed);
                    context.notify(JobEvent::Retried { job, tier: delivery.tier, error });
                }
                Ok(NackOutcome::DeadLettered) => {
                    let reason = format!("{} (after {} deliveries)", error, delivery.deliveries);
                    record(context, job, Settled::Dead { reason: &reason, payload: &encoded(job) }).await;
                    context.notify(JobEvent::Dead { job, tier: delivery.tier, reason: &reason });
                    note_dead(counters, reason);
                }
                Ok(NackOutcome::NotInFlight) => {}
                Err(queue_error) => {
                    tracing::warn!(job = %job.id, %queue_error, "could not nack; the job will be reclaimed")
                }
            }
        }
        JobOutcome::Lost => {
            tracing::info!(job = %job.id, "job taken over by another worker; dropped here");
        }
        JobOutcome::Permanent { reason } => {
            tracing::warn!(job = %job.id, "permanent failure, dead-lettered: {reason}");
            record(context, job, Settled::Dead { reason, payload: &encoded(job) }).await;
            match context.queue.dead_letter(delivery, reason).await {
                Ok(()) => {
                    context.notify(JobEvent::Dead { job, tier: delivery.tier, reason });
                    note_dead(counters, reason.clone());
                }
                Err(queue_error) => {
                    tracing::warn!(job = %job.id, %queue_error, "could not dead-letter; the job will be reclaimed")
                }
            }
        }
    }
}

/// Records an outcome without bars in the ledger. A failure is logged, not fatal: the
/// queue stays the truth of what runs, and the job's next outcome is recorded again.
async fn record(context: &WorkerContext, job: &JobPayload, outcome: Settled<'_>) {
    let settlement = Settlement {
        job: JobRef { load_id: &job.load_id, job_id: &job.id, worker: context.queue.consumer_name() },
        outcome,
        split: &[],
    };
    if let Err(error) = context.store.settle_job(&settlement).await {
        tracing::warn!(job = %job.id, %error, "could not record the job's outcome in the ledger");
    }
}

/// The payload as the queue would store it (the ledger keeps it for dead jobs).
fn encoded(job: &JobPayload) -> String {
    job.encode().unwrap_or_default()
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
