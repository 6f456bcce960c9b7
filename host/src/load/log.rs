//! The two INFO lines of a load, one when it starts and one when it ends, with the same
//! fields wherever the load runs (`run_plan` for `load` and `refresh`; for `serve`'s
//! `POST /loads`, the handler and `watch_finishes`, which reads the store's ledger, since
//! any worker process may settle a load's last job), so `jq 'select(.load == "...")'`
//! finds both.

use std::collections::HashSet;
use std::time::Duration;

use super::LoadPlan;
use crate::store::{LoadState, Store};

/// What a finished load came to.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTotals {
    pub rows_written: u64,
    pub jobs_done: u64,
    pub jobs_dead: u64,
    pub seconds: f64,
}

pub fn started(plan: &LoadPlan) {
    tracing::info!(
        load = %plan.load_id,
        jobs = plan.jobs.len() as u64,
        expected_rows = plan.summary.expected_rows,
        "load started"
    );
}

pub fn finished(load_id: &str, totals: LoadTotals) {
    tracing::info!(
        load = %load_id,
        rows_written = totals.rows_written,
        jobs_done = totals.jobs_done,
        jobs_dead = totals.jobs_dead,
        seconds = totals.seconds,
        "load finished"
    );
}

/// Loads one look at the ledger follows: the newest, which a running server's are.
const WATCHED_LOADS: usize = 100;

/// Logs `load finished` once for each load of the store's ledger that finishes while this
/// runs, looking every `every`, until its task is dropped. `serve` runs it: its loads end
/// when some process settles their last job, which need not be this one. Loads already
/// finished at the first look, and loads with no job (their handler said so), are not
/// logged.
pub async fn watch_finishes(store: Store, every: Duration) {
    let mut known_finished: HashSet<String> = HashSet::new();
    let mut first_look = true;
    loop {
        match store.list_loads(WATCHED_LOADS, None).await {
            Ok(loads) => {
                for load in loads {
                    let ended = matches!(load.state, LoadState::Done | LoadState::Failed);
                    if !ended || known_finished.contains(&load.id) {
                        continue;
                    }
                    if !first_look && load.total.jobs > 0 {
                        let until = load.finished_at.unwrap_or_else(chrono::Utc::now);
                        let seconds = (until - load.created_at).num_milliseconds().max(0) as f64 / 1000.0;
                        let totals = LoadTotals {
                            rows_written: load.total.rows_written,
                            jobs_done: load.total.done,
                            jobs_dead: load.total.dead,
                            seconds,
                        };
                        finished(&load.id, totals);
                    }
                    known_finished.insert(load.id);
                }
                first_look = false;
            }
            Err(error) => tracing::warn!(%error, "could not read the load ledger"),
        }
        tokio::time::sleep(every).await;
    }
}
