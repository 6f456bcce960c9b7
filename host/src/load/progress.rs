//! Progress of a running load: a bar with rows/s and ETA on a terminal, one plain line
//! every few seconds otherwise (CI logs, pipes), nothing with `Quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::worker::WorkerCounters;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// A bar on a terminal, plain lines elsewhere.
    Auto,
    /// Plain lines, whatever stderr is.
    Lines,
    Quiet,
}

/// Shows progress until `done` turns true. Runs as its own task.
pub async fn show(
    style: ProgressStyle,
    counters: Arc<WorkerCounters>,
    total_rows: u64,
    total_jobs: u64,
    mut done: watch::Receiver<bool>,
) {
    let terminal = style == ProgressStyle::Auto && std::io::stderr().is_terminal();
    if style == ProgressStyle::Quiet || total_jobs == 0 {
        return;
    }
    let started = Instant::now();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(total_rows);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rows  {msg}  ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let tick = if terminal { Duration::from_millis(100) } else { Duration::from_secs(2) };
    loop {
        let rows = counters.rows_written.load(Ordering::Relaxed);
        let jobs = counters.jobs_done.load(Ordering::Relaxed);
        let dead = counters.jobs_dead.load(Ordering::Relaxed);
        // Whole rows per second: indicatif's own {per_sec} prints four decimals.
        let seconds = started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 { rows as f64 / seconds } else { 0.0 };
        match &bar {
            Some(bar) => {
                bar.set_position(rows.min(total_rows));
                let dead_text = if dead > 0 { format!(", {dead} dead") } else { String::new() };
                bar.set_message(format!("{rate:.0} rows/s  jobs {jobs}/{total_jobs}{dead_text}"));
            }
            None => {
                eprintln!(
                    "progress: {rows}/{total_rows} rows, jobs {jobs}/{total_jobs}, {dead} dead, {rate:.0} rows/s"
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = done.changed() => break,
        }
    }
    if let Some(bar) = bar {
        bar.set_position(counters.rows_written.load(Ordering::Relaxed).min(total_rows));
        bar.finish_and_clear();
    }
}
