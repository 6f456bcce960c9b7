//! The answers that are more than a boolean: the market's status at an instant, why a day
//! is what it is, and a window in which a set of exchanges is closed.

use chrono::{DateTime, NaiveDate, Utc, Weekday};

use super::spec::{RegularHours, SpecialDay};
use super::year::Session;

/// The market at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Trading, until the session closes or its lunch break starts.
    Open { until: DateTime<Utc> },
    /// In the lunch break, until trading resumes.
    Break { until: DateTime<Utc> },
    /// Not trading. `next_open` is None only when the next open would fall in a year the
    /// calendar does not cover, which the engine refuses to guess.
    Closed { reason: ClosedReason, next_open: Option<DateTime<Utc>> },
}

/// Why the market is closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// The date lies before the exchange's first session.
    BeforeFirstSession,
    Weekend,
    /// A special day with no trading, by its name (`Good Friday`).
    Holiday {
        name: String,
    },
    /// A trading day, before its open.
    BeforeHours,
    /// A trading day, after its close (early or regular).
    AfterHours,
}

impl std::fmt::Display for ClosedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClosedReason::BeforeFirstSession => f.write_str("before the exchange's first session"),
            ClosedReason::Weekend => f.write_str("weekend"),
            ClosedReason::Holiday { name } => f.write_str(name),
            ClosedReason::BeforeHours => f.write_str("before hours"),
            ClosedReason::AfterHours => f.write_str("after hours"),
        }
    }
}

/// Why one exchange-local date is what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayExplanation {
    /// The date precedes the exchange's first session.
    BeforeFirstSession { date: NaiveDate, first_session: NaiveDate },
    /// A weekend day: never a trading day.
    Weekend { date: NaiveDate, weekday: Weekday },
    /// A regular session under the hours in force that day.
    Regular { session: Session, hours: RegularHours },
    /// A special day: a holiday (no session) or a shortened session, with the regular
    /// hours it departs from.
    Special { special: SpecialDay, session: Option<Session>, hours: RegularHours },
}

impl DayExplanation {
    pub fn date(&self) -> NaiveDate {
        match self {
            DayExplanation::BeforeFirstSession { date, .. } | DayExplanation::Weekend { date, .. } => *date,
            DayExplanation::Regular { session, .. } => session.date,
            DayExplanation::Special { special, .. } => special.date,
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            DayExplanation::Regular { session, .. } => Some(session),
            DayExplanation::Special { session, .. } => session.as_ref(),
            _ => None,
        }
    }
}

/// A half-open interval `[start, end)` in which every exchange asked about is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn duration(&self) -> chrono::TimeDelta {
        self.end - self.start
    }
}
