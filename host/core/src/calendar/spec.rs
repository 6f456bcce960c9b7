//! What a calendar plugin tells the host, in host types: the exchange's static facts and
//! its special days. The plugin runtime converts (and validates) the WIT records into
//! these; the engine builds sessions from them and never sees wasm.

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

/// Static facts about one exchange's calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSpec {
    /// ISO 10383 market identifier code, e.g. `XNYS`.
    pub mic: String,
    pub exchange_name: String,
    pub timezone: Tz,
    /// Days that are never trading days.
    pub weekend: Vec<Weekday>,
    /// The exchange's first trading date; earlier dates are closed.
    pub first_session: NaiveDate,
    /// Years `special_days` answers for, inclusive.
    pub first_year: i32,
    pub last_year: i32,
    /// Special days after this year are projections by rule.
    pub published_through: i32,
    /// Regular hours over history, ordered by `effective_from`, first one in force on
    /// `first_session`.
    pub hours: Vec<RegularHours>,
}

impl CalendarSpec {
    /// The weekend as a 7-bit set, bit `n` for `n` days from Monday: one lookup per day
    /// however the plugin listed the days.
    pub fn weekend_days(&self) -> u8 {
        self.weekend.iter().fold(0u8, |days, day| days | 1 << day.num_days_from_monday())
    }

    /// Whether `day` is a weekend day.
    pub fn is_weekend(&self, weekend_days: u8, day: Weekday) -> bool {
        weekend_days & (1 << day.num_days_from_monday()) != 0
    }
}

/// Regular hours in force from `effective_from` until the next entry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegularHours {
    pub effective_from: NaiveDate,
    pub open: NaiveTime,
    pub close: NaiveTime,
    /// (start, end) of the lunch break, local time.
    pub lunch_break: Option<(NaiveTime, NaiveTime)>,
}

/// How a special day differs from a regular session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Closed,
    /// Opens at the regular time, closes at this local time. A close at or before the
    /// lunch break means no afternoon session (and no break).
    EarlyClose(NaiveTime),
    /// Opens at this local time, closes at the regular time.
    LateOpen(NaiveTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    /// Published by the exchange, or a matter of record.
    Official,
    /// Computed by rule for a year the exchange has not yet published.
    Projected,
}

/// A day that is not a regular session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub name: String,
    pub kind: DayKind,
    pub certainty: Certainty,
    /// The rule that produced the day, in words.
    pub rule: String,
    /// Where the fact comes from.
    pub source: String,
    /// The underlying holiday's date when this day observes it on another date.
    pub observed_from: Option<NaiveDate>,
}
