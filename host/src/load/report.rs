//! The summary a load ends with: what was planned, what was done, how fast, what died.

use serde::Serialize;

use super::PlanSummary;
use crate::worker::WorkerSummary;

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub load_id: String,
    pub store: String,
    pub queue: String,
    /// Always says so when the bars are synthetic: they are not market data.
    pub provider: String,
    pub plan: PlanSummary,
    pub jobs_done: u64,
    pub jobs_retried: u64,
    pub jobs_dead: u64,
    pub rows_written: u64,
    /// Bars the provider returned; equal to the plan's `expected_rows` when the provider
    /// returned exactly what was missing.
    pub bars_fetched: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The reasons of the jobs that were dead-lettered (most recent last, at most 100).
    pub dead_letters: Vec<String>,
    /// True when Ctrl-C stopped the load: run the same command again to finish it.
    pub interrupted: bool,
    /// True when every planned job was done.
    pub complete: bool,
    /// The commands that list and retry this load's dead letters, with the flags that
    /// reach the same queue and store (set by the command line, which knows them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_hint: Option<String>,
}

impl LoadReport {
    // Every argument is a labelled field of the flat report; a struct of them would be the
    // report again.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: PlanSummary,
        load_id: String,
        store: String,
        queue: String,
        provider: String,
        workers: &WorkerSummary,
        seconds: f64,
        dead_letters: Vec<String>,
    ) -> LoadReport {
        let complete = !workers.stopped_by_signal && workers.jobs_dead == 0 && workers.jobs_done as usize >= plan.jobs;
        LoadReport {
            load_id,
            store,
            queue,
            provider,
            jobs_done: workers.jobs_done,
            jobs_retried: workers.jobs_retried,
            jobs_dead: workers.jobs_dead,
            rows_written: workers.rows_written,
            bars_fetched: workers.bars_fetched,
            seconds,
            rows_per_second: if seconds > 0.0 { workers.rows_written as f64 / seconds } else { 0.0 },
            dead_letters,
            interrupted: workers.stopped_by_signal,
            complete,
            dead_letter_hint: None,
            plan,
        }
    }

    /// The human summary, a few lines.
    pub fn to_text(&self) -> String {
        let plan = &self.plan;
        let mut text = format!(
            "load {}: {} symbols on {} from {} to {} ({}), provider {}\n",
            self.load_id,
            plan.symbols,
            plan.exchanges.join(","),
            plan.from,
            plan.to,
            plan.timeframe,
            self.provider
        );
        text += &format!(
            "  sessions expected {}, missing {} in {} gaps -> {} jobs (policy {} v{})\n",
            plan.sessions_expected, plan.sessions_missing, plan.gaps, plan.jobs, plan.policy, plan.policy_version
        );
        text += &format!(
            "  jobs done {}, retried {}, dead {}; rows written {} in {:.2} s ({:.0} rows/s)\n",
            self.jobs_done, self.jobs_retried, self.jobs_dead, self.rows_written, self.seconds, self.rows_per_second
        );
        text += &format!("  store {}, queue {}\n", self.store, self.queue);
        if plan.jobs == 0 {
            text += "  nothing to do: every expected bar is stored and final\n";
        }
        for reason in &self.dead_letters {
            text += &format!("  dead letter: {reason}\n");
        }
        if self.interrupted {
            text += "  interrupted: run the same command again to load the rest\n";
        } else if self.jobs_dead > 0 {
            match &self.dead_letter_hint {
                Some(hint) => text += &format!("  some jobs failed permanently: {hint}\n"),
                None => {
                    text += "  some jobs failed permanently: `tickstock loads show` lists them with their reasons\n"
                }
            }
        }
        text
    }
}
