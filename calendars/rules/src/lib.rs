//! Exchange calendar rules, in plain Rust: the date arithmetic and holiday rules
//! (Easter, nth weekdays, observance and substitute rules, Japan's equinox formula) and
//! one rule set per exchange (`xnys`, `xnas`, `xtks`, `xlon`, `xetr`, `xtse`). Each calendar
//! plugin crate is a thin wrapper that calls [`export_calendar!`] on one of these; test
//! fixtures can wrap a rule set with small changes by implementing [`ExchangeCalendar`]
//! themselves and delegating.
//!
//! Nothing here knows about WebAssembly: the crate builds natively, so its tests run
//! with a plain `cargo test`.

mod date;
mod export;
pub mod japan;
mod list;
pub mod observance;
mod us;
pub mod xetr;
pub mod xlon;
pub mod xnas;
pub mod xnys;
pub mod xtks;
pub mod xtse;

pub use date::{Date, Weekday, days_in_month, is_leap_year};
pub use list::{SpecialDayList, Specificity};

/// A wall-clock time of day in the exchange's own timezone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    pub hour: u8,
    pub minute: u8,
}

impl LocalTime {
    pub const fn new(hour: u8, minute: u8) -> LocalTime {
        assert!(hour < 24 && minute < 60, "time out of range");
        LocalTime { hour, minute }
    }
}

/// How a special day differs from a regular session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DayKind {
    Closed,
    /// Opens at the regular time, closes at this local time. A close at or before the
    /// lunch break means there is no afternoon session.
    EarlyClose(LocalTime),
    /// Opens at this local time, closes at the regular time.
    LateOpen(LocalTime),
}

/// Published by the exchange (or a matter of record), or projected by rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Certainty {
    Official,
    Projected,
}

/// A day that is not a regular session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: Date,
    pub name: String,
    pub kind: DayKind,
    pub certainty: Certainty,
    /// The rule that produced the day, in words.
    pub rule: String,
    /// Where the fact comes from.
    pub source: String,
    /// The underlying holiday's date when this day observes it on another date.
    pub observed_from: Option<Date>,
}

/// Regular hours in force from `effective_from` until the next entry's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegularHours {
    pub effective_from: Date,
    pub open: LocalTime,
    pub close: LocalTime,
    /// (start, end) of the lunch break.
    pub lunch_break: Option<(LocalTime, LocalTime)>,
}

/// Static facts about one exchange's calendar (the WIT `calendar-info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarInfo {
    pub mic: String,
    pub exchange_name: String,
    /// IANA timezone name.
    pub timezone: String,
    pub weekend: Vec<Weekday>,
    pub first_session: Date,
    pub first_year: i32,
    pub last_year: i32,
    pub published_through: i32,
    pub hours: Vec<RegularHours>,
}

/// Who a calendar plugin says it is (the WIT `identity`, whose kind is always
/// `calendar`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The MIC.
    pub name: String,
    pub version: String,
    pub description: String,
}

/// Why a calendar could not answer (the WIT `calendar-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarError {
    /// Outside `first_year..=last_year`: the calendar refuses to guess.
    YearOutOfRange(i32),
    Other(String),
}

/// One exchange's calendar. The rule sets in this crate implement it; a plugin exports
/// one with [`export_calendar!`].
pub trait ExchangeCalendar {
    fn identity(&self) -> Identity;
    fn info(&self) -> CalendarInfo;
    /// Special days of a year already known to be in range. Implementations may return
    /// them unordered and overlapping when they go through [`SpecialDayList`], which
    /// sorts, drops weekends and merges.
    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay>;

    /// Special days of `year`, or `YearOutOfRange` outside the supported years.
    fn special_days(&self, year: i32) -> Result<Vec<SpecialDay>, CalendarError> {
        let info = self.info();
        if year < info.first_year || year > info.last_year {
            return Err(CalendarError::YearOutOfRange(year));
        }
        Ok(self.special_days_in_range(year))
    }
}

/// Saturday and Sunday, the weekend of every exchange in this crate.
pub fn saturday_sunday() -> Vec<Weekday> {
    vec![Weekday::Saturday, Weekday::Sunday]
}
