//! The load board: what `tickstock serve` knows about the loads submitted to it, for
//! `GET /loads/{id}`. Fed by the job events of this process's workers, so with several
//! worker processes on one Redis it shows the jobs this server's workers did (the store
//! and `tickstock jobs status` show the whole picture).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{LoadPlan, PlanSummary};
use crate::plan::Tier;
use crate::worker::{JobEvent, JobObserver};

/// Most errors kept per load.
const ERRORS_KEPT: usize = 50;
/// Most loads remembered; the oldest are forgotten first.
const LOADS_KEPT: usize = 1000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct TierProgress {
    pub jobs: u64,
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
}

/// One submitted load as `GET /loads/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStatus {
    pub id: String,
    pub submitted_at: DateTime<Utc>,
    pub plan: PlanSummary,
    /// `planned`, `running`, `done` (every job done), `failed` (every job settled, some dead).
    pub state: &'static str,
    pub tiers: BTreeMap<Tier, TierProgress>,
    pub rows_written: u64,
    /// Transient errors that led to retries, most recent last.
    pub errors: Vec<String>,
    /// Why each dead-lettered job died.
    pub dead_letters: Vec<String>,
}

#[derive(Default)]
pub struct LoadBoard {
    loads: Mutex<HashMap<String, LoadStatus>>,
    order: Mutex<Vec<String>>,
}

impl LoadBoard {
    pub fn new() -> Arc<LoadBoard> {
        Arc::new(LoadBoard::default())
    }

    /// Records a planned load before its jobs are enqueued.
    pub fn register(&self, plan: &LoadPlan) {
        let mut tiers: BTreeMap<Tier, TierProgress> = BTreeMap::new();
        for job in &plan.jobs {
            tiers.entry(job.tier).or_default().jobs += 1;
        }
        let status = LoadStatus {
            id: plan.load_id.clone(),
            submitted_at: Utc::now(),
            plan: plan.summary.clone(),
            state: if plan.jobs.is_empty() { "done" } else { "planned" },
            tiers,
            rows_written: 0,
            errors: Vec::new(),
            dead_letters: Vec::new(),
        };
        let mut loads = self.loads.lock().expect("board lock");
        let mut order = self.order.lock().expect("board lock");
        if order.len() >= LOADS_KEPT {
            let oldest = order.remove(0);
            loads.remove(&oldest);
        }
        order.push(plan.load_id.clone());
        loads.insert(plan.load_id.clone(), status);
    }

    pub fn get(&self, id: &str) -> Option<LoadStatus> {
        self.loads.lock().expect("board lock").get(id).cloned()
    }

    /// Applies a job event to its load.
    pub fn record(&self, event: &JobEvent<'_>) {
        let (job, tier) = match event {
            JobEvent::Done { job, tier, .. }
            | JobEvent::Retried { job, tier, .. }
            | JobEvent::Dead { job, tier, .. } => (*job, *tier),
            JobEvent::Circuit { .. } => return,
        };
        let mut loads = self.loads.lock().expect("board lock");
        let Some(status) = loads.get_mut(&job.load_id) else { return };
        let progress = status.tiers.entry(tier).or_default();
        match event {
            JobEvent::Done { rows, .. } => {
                progress.done += 1;
                status.rows_written += rows;
            }
            JobEvent::Retried { error, .. } => {
                progress.retried += 1;
                push_bounded(&mut status.errors, error.to_string());
            }
            JobEvent::Dead { reason, .. } => {
                progress.dead += 1;
                push_bounded(&mut status.dead_letters, reason.to_string());
            }
            JobEvent::Circuit { .. } => {}
        }
        let (jobs, settled, dead) = status.tiers.values().fold((0, 0, 0), |(jobs, settled, dead), tier| {
            (jobs + tier.jobs, settled + tier.done + tier.dead, dead + tier.dead)
        });
        status.state = match () {
            _ if settled < jobs => "running",
            _ if dead > 0 => "failed",
            _ => "done",
        };
    }

    /// An observer that feeds this board, then `next` (metrics).
    pub fn observer(self: &Arc<Self>, next: Option<JobObserver>) -> JobObserver {
        let board = self.clone();
        Arc::new(move |event| {
            board.record(event);
            if let Some(next) = &next {
                next(event);
            }
        })
    }
}

fn push_bounded(list: &mut Vec<String>, item: String) {
    if list.len() >= ERRORS_KEPT {
        list.remove(0);
    }
    list.push(item);
}
