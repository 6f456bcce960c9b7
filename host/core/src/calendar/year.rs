//! One exchange-year, built once: every local day of the year with what it is (weekend,
//! holiday, trading day), the year's sessions in UTC, and the flat list of trading
//! boundaries that `is_open` and `next_open` search.
//!
//! Instants are compared as `i64` seconds since the Unix epoch: plain integer comparisons
//! are what make a warm query a few nanoseconds. Finding the spot is O(1) rather than a
//! binary search: the local day is the elapsed seconds over 86,400, corrected by at most a
//! step or two for DST, and each day records where its boundaries start, so a query looks
//! at no more than the day's own (at most four) boundaries. The boundaries are also kept
//! as `DateTime<Utc>`, so answers are returned without converting back.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::CalendarError;
use super::spec::{CalendarSpec, DayKind, RegularHours, SpecialDay};

/// One trading session: the exchange-local date it belongs to and its instants in UTC.
/// Trading runs over `[open, close)` except for `[break start, break end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    pub date: NaiveDate,
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    /// The midday break, when this session has one (a morning-only day has none).
    pub lunch_break: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What one local day of the year is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayState {
    /// Before the exchange's first session.
    BeforeFirstSession,
    Weekend,
    /// Closed all day by `special_days[index]`.
    Holiday {
        special: u32,
    },
    /// A trading day: `sessions[session]`, shaped by `special_days[special]` when present.
    Trading {
        session: u32,
        special: Option<u32>,
    },
}

/// The year's calendar, immutable once built.
#[derive(Debug)]
pub(crate) struct YearSchedule {
    /// UTC second of each local midnight of the year, plus the next year's first one, so
    /// day `i` spans `[day_starts[i], day_starts[i + 1])`.
    pub day_starts: Vec<i64>,
    /// One entry per local day, indexed by `ordinal0`.
    pub days: Vec<DayState>,
    pub sessions: Vec<Session>,
    /// Trading intervals flattened to `[open, close, open, close, ...]`, strictly
    /// increasing. The number of boundaries at or before an instant is odd exactly when
    /// the exchange is trading then, so `locate`'s count answers `is_open`.
    pub boundaries: Vec<i64>,
    /// The same boundaries as returned to callers.
    pub boundary_instants: Vec<DateTime<Utc>>,
    /// Per day (plus one past the end): how many boundaries lie before the day's start.
    pub day_first_boundary: Vec<u32>,
    /// Per trading interval (`boundaries[2i]..boundaries[2i + 1]`): whether the gap after
    /// it is a lunch break rather than the end of the session.
    pub interval_ends_in_break: Vec<bool>,
    pub special_days: Arc<[SpecialDay]>,
}

impl YearSchedule {
    /// Index into `days` of the local day holding `instant`, which must lie in this year:
    /// a division, then a step either way for the hour DST adds to or takes from a day
    /// (the loops also cover a timezone that skipped a whole day).
    #[inline]
    pub fn day_index_at(&self, instant: i64) -> usize {
        let last_day = self.days.len() - 1;
        let mut day = (((instant - self.day_starts[0]).max(0) / 86_400) as usize).min(last_day);
        while day > 0 && self.day_starts[day] > instant {
            day -= 1;
        }
        while day < last_day && self.day_starts[day + 1] <= instant {
            day += 1;
        }
        day
    }

    /// The local day holding `instant` and the number of boundaries at or before it (odd
    /// exactly when trading). Every boundary counted in `day_first_boundary` is before
    /// the day's start, so only the day's own boundaries need a look.
    #[inline]
    pub fn locate(&self, instant: i64) -> (usize, usize) {
        let day = self.day_index_at(instant);
        let mut position = self.day_first_boundary[day] as usize;
        while position < self.boundaries.len() && self.boundaries[position] <= instant {
            position += 1;
        }
        (day, position)
    }

    /// The sessions whose local date lies in `from..=to`.
    pub fn sessions_between(&self, from: NaiveDate, to: NaiveDate) -> &[Session] {
        let first = self.sessions.partition_point(|session| session.date < from);
        let end = self.sessions.partition_point(|session| session.date <= to);
        &self.sessions[first..end.max(first)]
    }
}

/// The regular hours in force on `date`. Dates before the first entry (only possible
/// before the first session) get the first entry.
pub(crate) fn hours_on(spec: &CalendarSpec, date: NaiveDate) -> &RegularHours {
    let entries_in_force = spec.hours.partition_point(|hours| hours.effective_from <= date);
    &spec.hours[entries_in_force.saturating_sub(1)]
}

/// The UTC second of a local wall-clock time. An ambiguous time (the repeated hour when
/// clocks go back) is its first occurrence; a time that does not exist (skipped when
/// clocks go forward) is the first instant after the gap, as a clock reading that time
/// would show it. Time zones that skip whole days (Samoa in 2011) are covered by the
/// two-day search limit.
pub(crate) fn local_to_utc(timezone: Tz, date: NaiveDate, time: NaiveTime) -> Option<i64> {
    let wall_clock = date.and_time(time);
    match timezone.from_local_datetime(&wall_clock) {
        chrono::LocalResult::Single(instant) => Some(instant.timestamp()),
        chrono::LocalResult::Ambiguous(earliest, _) => Some(earliest.timestamp()),
        chrono::LocalResult::None => {
            let mut candidate = wall_clock;
            for _ in 0..(2 * 24 * 60) {
                candidate += TimeDelta::minutes(1);
                if let Some(instant) = timezone.from_local_datetime(&candidate).earliest() {
                    return Some(instant.timestamp());
                }
            }
            None
        }
    }
}

pub(crate) fn utc_from_seconds(seconds: i64) -> DateTime<Utc> {
    // Every second stored here came from a valid DateTime, so this cannot fail; the
    // fallback keeps the function total without a panic path.
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Local open, close and break of one trading day, before conversion to UTC.
struct LocalSession {
    open: NaiveTime,
    close: NaiveTime,
    lunch_break: Option<(NaiveTime, NaiveTime)>,
}

/// Shapes a day from its regular hours and, when it has one, its special day. An early
/// close at or before the break start leaves a morning-only session; one inside the break
/// (or at its end) ends trading at the break start. A late open at or after the break start leaves an
/// afternoon-only session starting no earlier than the break end. Either way there is no
/// break.
fn shape_day(hours: &RegularHours, kind: Option<DayKind>) -> Result<LocalSession, String> {
    let regular = LocalSession { open: hours.open, close: hours.close, lunch_break: hours.lunch_break };
    match kind {
        None => Ok(regular),
        Some(DayKind::Closed) => Err("a closed day has no session".to_string()),
        Some(DayKind::EarlyClose(close)) => {
            if close <= hours.open || close >= hours.close {
                return Err(format!(
                    "early close at {close} is not between the regular open {} and close {}",
                    hours.open, hours.close
                ));
            }
            Ok(match hours.lunch_break {
                Some((break_start, _)) if close <= break_start => {
                    LocalSession { open: hours.open, close, lunch_break: None }
                }
                // Closing at the break end leaves an empty afternoon: morning only too.
                Some((break_start, break_end)) if close <= break_end => {
                    LocalSession { open: hours.open, close: break_start, lunch_break: None }
                }
                lunch_break => LocalSession { open: hours.open, close, lunch_break },
            })
        }
        Some(DayKind::LateOpen(open)) => {
            if open <= hours.open || open >= hours.close {
                return Err(format!(
                    "late open at {open} is not between the regular open {} and close {}",
                    hours.open, hours.close
                ));
            }
            Ok(match hours.lunch_break {
                Some((break_start, break_end)) if open >= break_start => {
                    LocalSession { open: open.max(break_end), close: hours.close, lunch_break: None }
                }
                lunch_break => LocalSession { open, close: hours.close, lunch_break },
            })
        }
    }
}

/// Builds one year from the spec and the plugin's special days for that year. Pure; the
/// caller has already checked that the spec is valid and the year in range.
pub(crate) fn build_year(
    spec: &CalendarSpec,
    year: i32,
    special_days: Vec<SpecialDay>,
) -> Result<YearSchedule, CalendarError> {
    let plugin_error = |message: String| CalendarError::Plugin { mic: spec.mic.clone(), message };
    let spec_error = |reason: String| CalendarError::InvalidSpec { mic: spec.mic.clone(), reason };

    check_special_days(spec, year, &special_days).map_err(plugin_error)?;

    let first_day =
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| spec_error(format!("year {year} has no dates")))?;
    let next_year_first_day =
        NaiveDate::from_ymd_opt(year + 1, 1, 1).ok_or_else(|| spec_error(format!("year {} has no dates", year + 1)))?;
    let to_utc = |date: NaiveDate, time: NaiveTime| {
        local_to_utc(spec.timezone, date, time)
            .ok_or_else(|| spec_error(format!("{date} {time} does not exist in {}", spec.timezone)))
    };

    let day_count = (next_year_first_day - first_day).num_days() as usize;
    let mut day_starts = Vec::with_capacity(day_count + 1);
    let mut days = Vec::with_capacity(day_count);
    let mut sessions = Vec::with_capacity(day_count * 5 / 7);
    let mut boundaries = Vec::with_capacity(day_count * 2);
    let mut interval_ends_in_break = Vec::with_capacity(day_count);
    let mut next_special = 0usize;
    let weekend_days = spec.weekend_days();

    for date in first_day.iter_days().take(day_count) {
        day_starts.push(to_utc(date, NaiveTime::MIN)?);
        let special_index = match special_days.get(next_special) {
            Some(special) if special.date == date => {
                next_special += 1;
                Some(next_special - 1)
            }
            _ => None,
        };
        if date < spec.first_session {
            days.push(DayState::BeforeFirstSession);
            continue;
        }
        if spec.is_weekend(weekend_days, date.weekday()) {
            days.push(DayState::Weekend);
            continue;
        }
        let kind = special_index.map(|index| special_days[index].kind);
        if kind == Some(DayKind::Closed) {
            days.push(DayState::Holiday { special: special_index.unwrap_or_default() as u32 });
            continue;
        }
        let local =
            shape_day(hours_on(spec, date), kind).map_err(|reason| plugin_error(format!("{date}: {reason}")))?;
        let open = to_utc(date, local.open)?;
        let close = to_utc(date, local.close)?;
        let lunch_break = match local.lunch_break {
            Some((start, end)) => Some((to_utc(date, start)?, to_utc(date, end)?)),
            None => None,
        };
        // A session squeezed to nothing by a DST gap (possible only for hours inside the
        // skipped hour) would break the strictly increasing boundaries.
        let intervals_ordered = match lunch_break {
            Some((start, end)) => open < start && start < end && end < close,
            None => open < close,
        };
        let after_previous = boundaries.last().is_none_or(|&last| last < open);
        if !intervals_ordered || !after_previous {
            return Err(spec_error(format!("the session of {date} collapses when converted to UTC")));
        }
        match lunch_break {
            Some((start, end)) => {
                boundaries.extend([open, start, end, close]);
                interval_ends_in_break.extend([true, false]);
            }
            None => {
                boundaries.extend([open, close]);
                interval_ends_in_break.push(false);
            }
        }
        days.push(DayState::Trading {
            session: sessions.len() as u32,
            special: special_index.map(|index| index as u32),
        });
        sessions.push(Session {
            date,
            open: utc_from_seconds(open),
            close: utc_from_seconds(close),
            lunch_break: lunch_break.map(|(start, end)| (utc_from_seconds(start), utc_from_seconds(end))),
        });
    }
    day_starts.push(to_utc(next_year_first_day, NaiveTime::MIN)?);
    let day_first_boundary =
        day_starts.iter().map(|&start| boundaries.partition_point(|&boundary| boundary < start) as u32).collect();
    let boundary_instants = boundaries.iter().map(|&boundary| utc_from_seconds(boundary)).collect();

    Ok(YearSchedule {
        boundary_instants,
        day_first_boundary,
        day_starts,
        days,
        sessions,
        boundaries,
        interval_ends_in_break,
        special_days: special_days.into(),
    })
}

/// The plugin contract for `special-days(year)`: every entry in the year, ordered by date,
/// at most one per date, none on a weekend. The plugin runtime may check this too; the
/// engine checks again because it indexes by these assumptions.
/// Names stay out of the errors: they are the plugin's text, and an error is one short
/// line.
fn check_special_days(spec: &CalendarSpec, year: i32, special_days: &[SpecialDay]) -> Result<(), String> {
    let weekend_days = spec.weekend_days();
    let mut previous: Option<NaiveDate> = None;
    for special in special_days {
        if special.date.year() != year {
            return Err(format!("special day {} was returned for year {year}", special.date));
        }
        if previous.is_some_and(|previous| previous >= special.date) {
            return Err(format!(
                "special days for {year} are not ordered by date with one per date (at {})",
                special.date
            ));
        }
        if spec.is_weekend(weekend_days, special.date.weekday()) {
            return Err(format!("special day {} falls on a weekend", special.date));
        }
        previous = Some(special.date);
    }
    Ok(())
}
