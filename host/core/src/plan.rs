//! Plans: the work of a load (gaps) cut into jobs by a batch policy, and the host's own
//! check of every plan a policy returns. Pure: no wasm, no I/O. A plan that fails the
//! check is the policy's error, and nothing of it is enqueued.
//!
//! Depends on nothing but chrono and serde; never on any adapter (the core crate has none).

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Dispatch tiers, most urgent first. Weights for weighted-fair dispatch: 10/5/2/1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Critical,
    High,
    Normal,
    Low,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Critical, Tier::High, Tier::Normal, Tier::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Critical => "critical",
            Tier::High => "high",
            Tier::Normal => "normal",
            Tier::Low => "low",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier {0:?}: expected critical, high, normal or low")]
pub struct UnknownTier(pub String);

impl std::str::FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Tier::ALL.into_iter().find(|tier| tier.as_str() == text).ok_or_else(|| UnknownTier(text.to_string()))
    }
}

/// Bar length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timeframe {
    /// One bar per session, keyed by the session date.
    #[serde(rename = "1d")]
    Daily,
    /// One bar per minute inside the session's open hours (none in a lunch break).
    #[serde(rename = "1m")]
    Minute,
}

impl Timeframe {
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Daily => "1d",
            Timeframe::Minute => "1m",
        }
    }

    /// The canonical `bar_start` of a daily bar for `session_date`: midnight UTC.
    pub fn daily_bar_start(session_date: NaiveDate) -> chrono::DateTime<chrono::Utc> {
        session_date.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

impl std::fmt::Display for Timeframe {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe {0:?}: expected `1d` or `1m`")]
pub struct UnknownTimeframe(pub String);

impl std::str::FromStr for Timeframe {
    type Err = UnknownTimeframe;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "1d" => Ok(Timeframe::Daily),
            "1m" => Ok(Timeframe::Minute),
            other => Err(UnknownTimeframe(other.to_string())),
        }
    }
}

/// A symbol on the exchange it is loaded from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listing {
    pub symbol: String,
    /// ISO 10383 MIC, e.g. `XNYS`.
    pub exchange: String,
}

/// A contiguous run of missing or stale sessions of one symbol (inclusive dates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub symbol: String,
    pub exchange: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub sessions: u32,
}

/// Hard limits a plan must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    pub max_symbols_per_job: u32,
    pub max_jobs: u32,
    pub memory_budget_bytes: u64,
}

impl Default for PlanLimits {
    fn default() -> Self {
        PlanLimits { max_symbols_per_job: 500, max_jobs: 100_000, memory_budget_bytes: 256 * 1024 * 1024 }
    }
}

/// Recent load statistics, for policies that adapt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadStats {
    pub rows_per_second: f64,
    pub error_rate: f64,
    pub mean_job_millis: f64,
    pub jobs_observed: u32,
}

/// What a policy is asked to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    pub gaps: Vec<Gap>,
    pub tier: Tier,
    pub timeframe: Timeframe,
    pub limits: PlanLimits,
    pub stats: Option<LoadStats>,
}

/// One job as a policy returns it: indexes into the request's gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedJob {
    pub tier: Tier,
    pub gaps: Vec<u32>,
}

/// Bytes one bar takes in memory while a job holds it, for the memory-budget check.
pub const BAR_BYTES_IN_MEMORY: u64 = 96;

/// Bars per session for a timeframe, an upper bound for budgeting (a regular US session
/// is 390 minutes; Tokyo and Xetra are shorter or similar).
fn bars_per_session(timeframe: Timeframe) -> u64 {
    match timeframe {
        Timeframe::Daily => 1,
        Timeframe::Minute => 510,
    }
}

/// The host's check of a plan: every gap in exactly one job, no empty job, no index out of
/// range, the limits respected. Returns the first problem in words.
pub fn check_plan(request: &PlanRequest, jobs: &[PlannedJob]) -> Result<(), String> {
    if jobs.len() > request.limits.max_jobs as usize {
        return Err(format!("{} jobs exceed the limit of {}", jobs.len(), request.limits.max_jobs));
    }
    let mut covered = vec![false; request.gaps.len()];
    for (job_index, job) in jobs.iter().enumerate() {
        if job.gaps.is_empty() {
            return Err(format!("job {job_index} is empty"));
        }
        // A hash set, not a Vec scan: a job of 100,000 symbols is checked in linear time.
        let mut symbols: HashSet<&str> = HashSet::new();
        let mut bars: u64 = 0;
        for &gap_index in &job.gaps {
            let gap = request.gaps.get(gap_index as usize).ok_or_else(|| {
                format!("job {job_index} names gap {gap_index}, but there are {}", request.gaps.len())
            })?;
            if std::mem::replace(&mut covered[gap_index as usize], true) {
                return Err(format!(
                    "gap {gap_index} ({} {}..{}) is in more than one job",
                    gap.symbol, gap.start, gap.end
                ));
            }
            symbols.insert(&gap.symbol);
            bars = bars.saturating_add(u64::from(gap.sessions).saturating_mul(bars_per_session(request.timeframe)));
        }
        if symbols.len() > request.limits.max_symbols_per_job as usize {
            return Err(format!(
                "job {job_index} holds {} symbols, over the limit of {}",
                symbols.len(),
                request.limits.max_symbols_per_job
            ));
        }
        let bytes = bars.saturating_mul(BAR_BYTES_IN_MEMORY);
        if bytes > request.limits.memory_budget_bytes {
            return Err(format!(
                "job {job_index} would hold about {} MiB of bars, over the budget of {} MiB",
                bytes / (1024 * 1024),
                request.limits.memory_budget_bytes / (1024 * 1024)
            ));
        }
    }
    if let Some(missing) = covered.iter().position(|covered| !covered) {
        let gap = &request.gaps[missing];
        return Err(format!("gap {missing} ({} {}..{}) is in no job", gap.symbol, gap.start, gap.end));
    }
    Ok(())
}

/// Longest symbol accepted. Real tickers are under 12 characters; 32 leaves room for
/// vendor suffixes (`BRK.B`, `RDS-A.L`) and refuses pasted garbage.
pub const MAX_SYMBOL_CHARS: usize = 32;

/// A ticker: 1..=32 of `A-Z 0-9 . - _ ^`, starting with a letter, a digit or `^` (index
/// symbols such as `^GSPC`), upper-cased. Refuses what would read as a flag (`-5`) or
/// carry control characters into logs and tables. The error is one line that quotes at
/// most a short prefix of the input.
pub fn parse_symbol(text: &str) -> Result<String, String> {
    let symbol = text.trim().to_ascii_uppercase();
    let well_formed = !symbol.is_empty()
        && symbol.len() <= MAX_SYMBOL_CHARS
        && symbol.chars().all(|c| c.is_ascii_alphanumeric() || ".-_^".contains(c))
        && symbol.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '^');
    if well_formed {
        Ok(symbol)
    } else {
        Err(format!(
            "symbol {} is not a ticker: 1 to {MAX_SYMBOL_CHARS} of A-Z 0-9 . - _ ^, starting with a letter, digit or ^",
            crate::text::quoted_prefix(text, MAX_SYMBOL_CHARS)
        ))
    }
}

/// An exchange code: four ASCII letters or digits (ISO 10383 MIC), upper-cased. `what`
/// names the input in the error.
pub fn parse_mic(text: &str, what: &str) -> Result<String, String> {
    let mic = text.trim().to_ascii_uppercase();
    if mic.len() == 4 && mic.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(mic)
    } else {
        Err(format!("{what} {} is not a MIC (four letters or digits, e.g. XNYS)", crate::text::quoted_prefix(text, 8)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(gap_count: usize) -> PlanRequest {
        let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        PlanRequest {
            gaps: (0..gap_count)
                .map(|i| Gap { symbol: format!("S{i}"), exchange: "XNYS".into(), start: day, end: day, sessions: 1 })
                .collect(),
            tier: Tier::Normal,
            timeframe: Timeframe::Daily,
            limits: PlanLimits { max_symbols_per_job: 2, max_jobs: 10, memory_budget_bytes: 1 << 20 },
            stats: None,
        }
    }

    fn job(gaps: &[u32]) -> PlannedJob {
        PlannedJob { tier: Tier::Normal, gaps: gaps.to_vec() }
    }

    #[test]
    fn plan_checks() {
        let cases: &[(&str, Vec<PlannedJob>, Option<&str>)] = &[
            ("every gap once", vec![job(&[0, 1]), job(&[2])], None),
            ("gap twice", vec![job(&[0, 1]), job(&[1, 2])], Some("more than one job")),
            ("gap missing", vec![job(&[0, 1])], Some("in no job")),
            ("empty job", vec![job(&[0, 1]), job(&[]), job(&[2])], Some("is empty")),
            ("index out of range", vec![job(&[0, 1]), job(&[2, 7])], Some("names gap 7")),
            ("too many symbols", vec![job(&[0, 1, 2])], Some("over the limit of 2")),
        ];
        let request = request(3);
        for (name, jobs, expected) in cases {
            let outcome = check_plan(&request, jobs);
            match expected {
                None => assert_eq!(outcome, Ok(()), "{name}"),
                Some(fragment) => {
                    let error = outcome.expect_err(name);
                    assert!(error.contains(fragment), "{name}: {error}");
                }
            }
        }
    }

    #[test]
    fn job_holding_more_bars_than_the_memory_budget_is_refused() {
        // Three daily gaps of one session each: one bar of BAR_BYTES_IN_MEMORY per gap.
        let mut request = request(3);
        request.limits.memory_budget_bytes = 2 * BAR_BYTES_IN_MEMORY;
        assert_eq!(check_plan(&request, &[job(&[0, 1]), job(&[2])]), Ok(()), "two bars fit the budget");
        request.limits.max_symbols_per_job = 3;
        let error = check_plan(&request, &[job(&[0, 1, 2])]).unwrap_err();
        assert!(error.starts_with("job 0 would hold") && error.contains("over the budget"), "{error}");

        // Minute bars count 510 to the session: one gap of one session is 510 bars.
        request.timeframe = Timeframe::Minute;
        request.limits.memory_budget_bytes = 510 * BAR_BYTES_IN_MEMORY;
        assert_eq!(check_plan(&request, &[job(&[0]), job(&[1]), job(&[2])]), Ok(()));
        assert!(check_plan(&request, &[job(&[0, 1]), job(&[2])]).is_err());
    }

    #[test]
    fn plan_over_the_job_limit_is_refused() {
        let mut request = request(3);
        request.limits.max_jobs = 2;
        let error = check_plan(&request, &[job(&[0]), job(&[1]), job(&[2])]).unwrap_err();
        assert!(error.contains("exceed the limit"), "{error}");
    }
}
