//! Cutting a plan request's gaps into jobs within the host's limits, shared by the
//! built-in batch policies so that each decides only how many symbols it wants per job:
//!
//! - the gaps of one symbol stay in one job (two jobs would fetch the same file or API);
//! - a job holds at most `per_job` symbols;
//! - a job holds at most `budget_bars` bars, counted as the host counts them
//!   (`MINUTE_BARS_PER_SESSION` per minute session), so a minute-bar plan is cut finer than
//!   a daily one and never exceeds the memory budget the host checks.
//!
//! Linear in the gaps: symbols are grouped through a hash map, not a scan per gap.

use std::collections::HashMap;

/// Bytes a bar takes in memory while a job holds it (the host budgets with the same).
pub const BAR_BYTES_IN_MEMORY: u64 = 96;

/// Bars per minute session the host budgets for (a long regular session).
pub const MINUTE_BARS_PER_SESSION: u64 = 510;

/// One symbol's work: its gap indexes (in request order) and the bars they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolWork<'a> {
    pub symbol: &'a str,
    pub gaps: Vec<u32>,
    pub bars: u64,
}

/// Groups `(symbol, sessions)` of each gap by symbol, in first-seen order.
pub fn group_by_symbol<'a>(
    gaps: impl IntoIterator<Item = (&'a str, u32)>,
    bars_per_session: u64,
) -> Vec<SymbolWork<'a>> {
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut symbols: Vec<SymbolWork<'a>> = Vec::new();
    for (index, (symbol, sessions)) in gaps.into_iter().enumerate() {
        let bars = u64::from(sessions).saturating_mul(bars_per_session);
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        match position.get(symbol) {
            Some(&at) => {
                symbols[at].gaps.push(index);
                symbols[at].bars = symbols[at].bars.saturating_add(bars);
            }
            None => {
                position.insert(symbol, symbols.len());
                symbols.push(SymbolWork { symbol, gaps: vec![index], bars });
            }
        }
    }
    symbols
}

/// The most bars one job may hold under a memory budget.
pub fn budget_bars(memory_budget_bytes: u64) -> u64 {
    memory_budget_bytes / BAR_BYTES_IN_MEMORY
}

/// Packs symbols, in order, into jobs of at most `per_job` symbols and `budget_bars` bars;
/// each job is its gap indexes. A symbol whose gaps alone exceed the budget is an error
/// naming it (its gaps cannot be split without two jobs fetching it).
pub fn pack(symbols: &[SymbolWork<'_>], per_job: usize, budget_bars: u64) -> Result<Vec<Vec<u32>>, String> {
    let per_job = per_job.max(1);
    let mut jobs: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let (mut current_symbols, mut current_bars) = (0usize, 0u64);
    for work in symbols {
        if work.bars > budget_bars {
            return Err(format!(
                "{} alone needs about {} MiB of bars, over the job budget of {} MiB; load fewer years at once",
                work.symbol,
                work.bars.saturating_mul(BAR_BYTES_IN_MEMORY) / (1024 * 1024),
                budget_bars.saturating_mul(BAR_BYTES_IN_MEMORY) / (1024 * 1024)
            ));
        }
        let full = current_symbols == per_job || current_bars.saturating_add(work.bars) > budget_bars;
        if full && !current.is_empty() {
            jobs.push(std::mem::take(&mut current));
            (current_symbols, current_bars) = (0, 0);
        }
        current.extend_from_slice(&work.gaps);
        current_symbols += 1;
        current_bars = current_bars.saturating_add(work.bars);
    }
    if !current.is_empty() {
        jobs.push(current);
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbols_gaps_stay_together_and_jobs_respect_both_limits() {
        let gaps = [("A", 10), ("B", 10), ("A", 5), ("C", 10), ("D", 30)];
        let symbols = group_by_symbol(gaps, 1);
        assert_eq!(symbols[0], SymbolWork { symbol: "A", gaps: vec![0, 2], bars: 15 });
        // Two symbols per job, 30 bars per job: A+B (25), C (C+D would be 40), D (30).
        assert_eq!(pack(&symbols, 2, 30).unwrap(), vec![vec![0, 2, 1], vec![3], vec![4]]);
        assert_eq!(pack(&symbols, 10, 1000).unwrap(), vec![vec![0, 2, 1, 3, 4]]);
        assert!(pack(&symbols, 2, 29).unwrap_err().starts_with("D alone needs"));
    }

    #[test]
    fn a_year_of_minute_bars_for_a_hundred_symbols_fits_a_256_mib_budget() {
        let gaps: Vec<(String, u32)> = (0..100).map(|n| (format!("S{n}"), 252)).collect();
        let symbols = group_by_symbol(gaps.iter().map(|(s, n)| (s.as_str(), *n)), MINUTE_BARS_PER_SESSION);
        let budget = budget_bars(256 * 1024 * 1024);
        let jobs = pack(&symbols, 100, budget).unwrap();
        assert!(jobs.len() > 1);
        for job in &jobs {
            let bars: u64 = job.iter().map(|&gap| u64::from(gaps[gap as usize].1) * MINUTE_BARS_PER_SESSION).sum();
            assert!(bars <= budget);
        }
        assert_eq!(jobs.iter().map(Vec::len).sum::<usize>(), 100);
    }
}
