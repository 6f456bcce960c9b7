//! The calendar engine: trading sessions in UTC built from a calendar plugin's answers.
//! Pure: it never touches wasm, files or the network. Special days come through a
//! `YearLoader` that the plugin adapter supplies.
//!
//! A `Calendar` is one exchange under one plugin generation, and immutable: when the
//! plugin is swapped, the caller builds a new `Calendar`, warms it with the old one's
//! `cached_years()` and swaps an `Arc<Calendar>`, so a reader sees either the old years or
//! the new ones, never a mix.
//!
//! Each exchange-year is built once, on first use, into a `YearSchedule` held in a
//! `OnceLock` indexed by year. A warm query is an atomic load, two O(1) lookups over `i64`
//! seconds (which local year: a division corrected by a step; which trading boundary: the
//! day's own at most four), and no lock and no allocation. Building takes a per-calendar mutex so the plugin is asked once per year
//! even when threads race for the same cold year; the rejected alternative, letting racers
//! build twice, is harmless but calls a sandboxed plugin more than needed.
//!
//! Semantics chosen on purpose:
//! - A session belongs to an exchange-local date and lies inside it; instants are UTC.
//! - Trading runs over `[open, close)`; the lunch break `[start, end)` is not trading.
//! - `next_open` / `next_close` are the next instants, strictly after the one asked
//!   about, at which `is_open` turns true / false: a lunch break's end counts as an open
//!   and its start as a close, so the two always agree with `is_open`. The session-level
//!   view is `sessions`.
//! - Every date outside `first_year..=last_year` is `YearOutOfRange`, even one before
//!   `first_session`: a calendar plugin may start its coverage long after the exchange
//!   opened (NYSE traded before 2000), so "closed" there would be a guess. Inside the
//!   covered years, dates before `first_session` are closed (Xetra before its launch).
//!
//! Depends on chrono and chrono-tz only; never on any adapter (the core crate has none).

mod error;
pub mod spec;
mod status;
mod windows;
mod year;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

pub use error::CalendarError;
pub use spec::{CalendarSpec, Certainty, DayKind, RegularHours, SpecialDay};
pub use status::{ClosedReason, DayExplanation, Status, Window};
pub use windows::windows;
pub use year::Session;

use year::{DayState, YearSchedule, build_year, hours_on, local_to_utc, utc_from_seconds};

/// Fetches one year's special days, typically by calling the calendar plugin. Called at
/// most once per year per `Calendar`.
pub type YearLoader = Box<dyn Fn(i32) -> Result<Vec<SpecialDay>, CalendarError> + Send + Sync>;

/// The widest year range a spec may declare (`last_year - first_year`); it bounds the
/// per-calendar tables, which are allocated up front.
pub const MAX_YEAR_SPAN: i32 = 200;

/// Years a spec may name at all: chrono dates hold them, and `last_year + 1` cannot
/// overflow.
pub const YEAR_RANGE: std::ops::RangeInclusive<i32> = 1..=9999;

/// How many years a search for the next open or close looks through before it gives up
/// with `CalendarError::NoSessionWithin`. A real exchange trades every year; a calendar
/// that answers every year with no session would otherwise be searched to its last year,
/// one plugin call per year. Ten years bound one query to ten calls into the plugin.
pub const SEARCH_HORIZON_YEARS: usize = 10;

/// One exchange's calendar under one plugin generation.
pub struct Calendar {
    spec: CalendarSpec,
    loader: YearLoader,
    /// UTC second of local midnight on January 1st of each year `first_year..=last_year + 1`:
    /// the local year of an instant is a division and a step or two away, without a
    /// timezone lookup.
    year_starts: Box<[i64]>,
    /// Built schedules, indexed by `year - first_year`.
    years: Box<[OnceLock<Arc<YearSchedule>>]>,
    /// UTC second of local midnight on the first session's date; everything earlier is
    /// closed without consulting any year.
    first_session_start: i64,
    /// Serialises year builds (see the module comment).
    build_lock: Mutex<()>,
}

impl std::fmt::Debug for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calendar").field("mic", &self.spec.mic).field("cached_years", &self.cached_years()).finish()
    }
}

/// Which edge of a trading interval a search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    /// Trading starts (a session open or a break end): even boundary indices.
    Open,
    /// Trading stops (a session close or a break start): odd boundary indices.
    Close,
}

impl Calendar {
    /// Checks the spec and prepares the per-year tables; no year is built yet.
    pub fn new(spec: CalendarSpec, loader: YearLoader) -> Result<Calendar, CalendarError> {
        validate_spec(&spec)?;
        let invalid = |reason: String| CalendarError::InvalidSpec { mic: spec.mic.clone(), reason };
        let year_starts = (spec.first_year..=spec.last_year + 1)
            .map(|year| {
                let january_first =
                    NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| invalid(format!("year {year} has no dates")))?;
                local_to_utc(spec.timezone, january_first, NaiveTime::MIN)
                    .ok_or_else(|| invalid(format!("{january_first} has no midnight in {}", spec.timezone)))
            })
            .collect::<Result<Box<[i64]>, CalendarError>>()?;
        let first_session_start = local_to_utc(spec.timezone, spec.first_session, NaiveTime::MIN)
            .ok_or_else(|| invalid(format!("{} has no midnight in {}", spec.first_session, spec.timezone)))?;
        let years = (spec.first_year..=spec.last_year).map(|_| OnceLock::new()).collect();
        Ok(Calendar { spec, loader, year_starts, years, first_session_start, build_lock: Mutex::new(()) })
    }

    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    pub fn mic(&self) -> &str {
        &self.spec.mic
    }

    /// Sessions whose exchange-local date lies in `from..=to`, in order.
    pub fn sessions(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Session>, CalendarError> {
        let mut sessions = Vec::new();
        self.for_each_year_slice(from, to, |slice| sessions.extend_from_slice(slice))?;
        Ok(sessions)
    }

    /// The number of sessions whose local date lies in `from..=to`.
    pub fn session_count(&self, from: NaiveDate, to: NaiveDate) -> Result<usize, CalendarError> {
        let mut count = 0;
        self.for_each_year_slice(from, to, |slice| count += slice.len())?;
        Ok(count)
    }

    /// The session on one local date, or None when the exchange does not trade that day.
    pub fn session_on(&self, date: NaiveDate) -> Result<Option<Session>, CalendarError> {
        Ok(self.explain(date)?.session().copied())
    }

    /// Whether the exchange is trading at `at` (inside a session, outside its break).
    pub fn is_open(&self, at: DateTime<Utc>) -> Result<bool, CalendarError> {
        self.is_open_at(at.timestamp())
    }

    /// The market at `at`: open until when, on break until when, or closed, why, and until
    /// when.
    pub fn status(&self, at: DateTime<Utc>) -> Result<Status, CalendarError> {
        let instant = at.timestamp();
        if instant < self.first_session_start {
            self.check_covered(instant)?;
            return Ok(Status::Closed {
                reason: ClosedReason::BeforeFirstSession,
                next_open: self.next_open_for_status(instant)?,
            });
        }
        let schedule = self.schedule(self.year_index_at(instant)?)?;
        let (day, position) = schedule.locate(instant);
        if position % 2 == 1 {
            return Ok(Status::Open { until: schedule.boundary_instants[position] });
        }
        if position > 0 && position < schedule.boundaries.len() && schedule.interval_ends_in_break[position / 2 - 1] {
            return Ok(Status::Break { until: schedule.boundary_instants[position] });
        }
        let reason = match schedule.days[day] {
            DayState::BeforeFirstSession => ClosedReason::BeforeFirstSession,
            DayState::Weekend => ClosedReason::Weekend,
            DayState::Holiday { special } => {
                ClosedReason::Holiday { name: schedule.special_days[special as usize].name.clone() }
            }
            // No boundary of the day passed yet means its session is still to come.
            DayState::Trading { .. } if position == schedule.day_first_boundary[day] as usize => {
                ClosedReason::BeforeHours
            }
            DayState::Trading { .. } => ClosedReason::AfterHours,
        };
        let next_open = match schedule.boundary_instants.get(position) {
            Some(&open) => Some(open),
            None => self.next_open_for_status(instant)?,
        };
        Ok(Status::Closed { reason, next_open })
    }

    /// The next instant strictly after `at` at which trading starts: a session's open or
    /// the end of its lunch break.
    pub fn next_open(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        self.next_edge_or_error(at.timestamp(), Edge::Open)
    }

    /// The next instant strictly after `at` at which trading stops: a session's close or
    /// the start of its lunch break.
    pub fn next_close(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        self.next_edge_or_error(at.timestamp(), Edge::Close)
    }

    /// The plugin's special days of `year`, ordered by date (including any before the
    /// first session, which do not affect sessions).
    pub fn special_days(&self, year: i32) -> Result<Arc<[SpecialDay]>, CalendarError> {
        let index = self.year_index(year)?;
        Ok(self.schedule(index)?.special_days.clone())
    }

    /// Why `date` is a trading day or not.
    pub fn explain(&self, date: NaiveDate) -> Result<DayExplanation, CalendarError> {
        self.year_index(date.year())?;
        if date < self.spec.first_session {
            return Ok(DayExplanation::BeforeFirstSession { date, first_session: self.spec.first_session });
        }
        let schedule = self.schedule(self.year_index(date.year())?)?;
        let hours = *hours_on(&self.spec, date);
        Ok(match schedule.days[date.ordinal0() as usize] {
            DayState::BeforeFirstSession => {
                DayExplanation::BeforeFirstSession { date, first_session: self.spec.first_session }
            }
            DayState::Weekend => DayExplanation::Weekend { date, weekday: date.weekday() },
            DayState::Holiday { special } => DayExplanation::Special {
                special: schedule.special_days[special as usize].clone(),
                session: None,
                hours,
            },
            DayState::Trading { session, special: None } => {
                DayExplanation::Regular { session: schedule.sessions[session as usize], hours }
            }
            DayState::Trading { session, special: Some(special) } => DayExplanation::Special {
                special: schedule.special_days[special as usize].clone(),
                session: Some(schedule.sessions[session as usize]),
                hours,
            },
        })
    }

    /// The years built so far, ascending.
    pub fn cached_years(&self) -> Vec<i32> {
        self.years
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.get().is_some())
            .map(|(index, _)| self.spec.first_year + index as i32)
            .collect()
    }

    /// Builds the given years now (for a new generation, before it goes live).
    pub fn warm(&self, years: impl IntoIterator<Item = i32>) -> Result<(), CalendarError> {
        for year in years {
            self.schedule(self.year_index(year)?)?;
        }
        Ok(())
    }

    // ---- internals, on i64 seconds -------------------------------------------------

    fn year_out_of_range(&self, year: i32) -> CalendarError {
        CalendarError::YearOutOfRange {
            mic: self.spec.mic.clone(),
            year,
            first: self.spec.first_year,
            last: self.spec.last_year,
        }
    }

    fn year_index(&self, year: i32) -> Result<usize, CalendarError> {
        if (self.spec.first_year..=self.spec.last_year).contains(&year) {
            Ok((year - self.spec.first_year) as usize)
        } else {
            Err(self.year_out_of_range(year))
        }
    }

    /// Index of the local year holding `instant`.
    #[inline]
    fn year_index_at(&self, instant: i64) -> Result<usize, CalendarError> {
        // A division by the mean Gregorian year lands on the right year or next to it.
        const MEAN_YEAR_SECONDS: i64 = 31_556_952;
        let last_start = self.year_starts.len() - 1;
        if instant < self.year_starts[0] || instant >= self.year_starts[last_start] {
            return Err(self.year_out_of_range(self.local_year_of(instant)));
        }
        let mut index = (((instant - self.year_starts[0]) / MEAN_YEAR_SECONDS) as usize).min(last_start - 1);
        while self.year_starts[index] > instant {
            index -= 1;
        }
        while self.year_starts[index + 1] <= instant {
            index += 1;
        }
        Ok(index)
    }

    /// The local year of an instant the year table does not cover; error paths only.
    fn local_year_of(&self, instant: i64) -> i32 {
        let local = utc_from_seconds(instant).with_timezone(&self.spec.timezone);
        local.year()
    }

    /// The built schedule of one year, building it on first use.
    #[inline]
    fn schedule(&self, index: usize) -> Result<&YearSchedule, CalendarError> {
        match self.years[index].get() {
            Some(schedule) => Ok(schedule),
            None => self.build(index),
        }
    }

    #[cold]
    fn build(&self, index: usize) -> Result<&YearSchedule, CalendarError> {
        // A panic in another builder poisons nothing we rely on: the cells are written
        // only with complete schedules.
        let _guard = self.build_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(schedule) = self.years[index].get() {
            return Ok(schedule);
        }
        let year = self.spec.first_year + index as i32;
        let special_days = (self.loader)(year)?;
        let schedule = build_year(&self.spec, year, special_days)?;
        Ok(self.years[index].get_or_init(|| Arc::new(schedule)))
    }

    /// The first boundary of kind `edge` strictly after `instant` (as seconds and as the
    /// instant returned to callers), or None when there is none before `limit`. Running
    /// past the last year before `limit` is `YearOutOfRange`.
    pub(crate) fn next_edge(
        &self,
        instant: i64,
        edge: Edge,
        limit: i64,
    ) -> Result<Option<(i64, DateTime<Utc>)>, CalendarError> {
        let wanted_parity = match edge {
            Edge::Open => 0,
            Edge::Close => 1,
        };
        // Boundaries at or before `instant`, counted in its own year; in every later year
        // (and before the first session) all boundaries lie after it, so the count is 0.
        let (mut index, mut at_or_before) = if instant < self.first_session_start {
            self.check_covered(instant)?;
            (self.year_index(self.spec.first_session.year())?, 0)
        } else {
            let index = self.year_index_at(instant)?;
            (index, self.schedule(index)?.locate(instant).1)
        };
        let first_index = index;
        loop {
            let schedule = self.schedule(index)?;
            let position = if at_or_before % 2 == wanted_parity { at_or_before } else { at_or_before + 1 };
            if let Some(&boundary) = schedule.boundaries.get(position) {
                return Ok((boundary < limit).then(|| (boundary, schedule.boundary_instants[position])));
            }
            if index - first_index + 1 >= SEARCH_HORIZON_YEARS {
                return Err(CalendarError::NoSessionWithin {
                    mic: self.spec.mic.clone(),
                    from_year: self.spec.first_year + first_index as i32,
                    years: SEARCH_HORIZON_YEARS,
                });
            }
            index += 1;
            at_or_before = 0;
            // `year_starts` has one entry more than `years`: the start of the year after
            // the last, so a limit there still answers without guessing.
            if self.year_starts[index] >= limit {
                return Ok(None);
            }
            if index >= self.years.len() {
                return Err(self.year_out_of_range(self.spec.last_year + 1));
            }
        }
    }

    fn next_edge_or_error(&self, instant: i64, edge: Edge) -> Result<DateTime<Utc>, CalendarError> {
        // With no limit the search ends with a boundary or an error; None cannot happen,
        // but mapping it to the same error keeps this total.
        let boundary = self.next_edge(instant, edge, i64::MAX)?;
        boundary.map(|(_, instant)| instant).ok_or_else(|| self.year_out_of_range(self.spec.last_year + 1))
    }

    /// The next open for `status`, whose own instant is known to be answerable: a next
    /// open in a year outside the range (after the last year, or a first session before
    /// the first year) is unknown, not a failure of the status itself.
    fn next_open_for_status(&self, instant: i64) -> Result<Option<DateTime<Utc>>, CalendarError> {
        match self.next_edge(instant, Edge::Open, i64::MAX) {
            Ok(boundary) => Ok(boundary.map(|(_, instant)| instant)),
            Err(CalendarError::YearOutOfRange { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Calls `visit` with each year's slice of sessions dated `from..=to`.
    fn for_each_year_slice(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        mut visit: impl FnMut(&[Session]),
    ) -> Result<(), CalendarError> {
        if from > to {
            return Err(CalendarError::FromAfterTo { from: from.to_string(), to: to.to_string() });
        }
        self.year_index(from.year())?;
        let from = from.max(self.spec.first_session);
        if from > to {
            return Ok(());
        }
        // Check the whole range before building anything, so a range that runs past the
        // last year fails fast instead of after building the years before it.
        self.year_index(from.year())?;
        self.year_index(to.year())?;
        for year in from.year()..=to.year() {
            visit(self.schedule(self.year_index(year)?)?.sessions_between(from, to));
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn is_open_at(&self, instant: i64) -> Result<bool, CalendarError> {
        if instant < self.first_session_start {
            self.check_covered(instant)?;
            return Ok(false);
        }
        let schedule = self.schedule(self.year_index_at(instant)?)?;
        Ok(schedule.locate(instant).1 % 2 == 1)
    }
}

impl Calendar {
    /// Instants before the first covered year are refused, not guessed (see the module
    /// comment); only called on the cold path before the first session.
    fn check_covered(&self, instant: i64) -> Result<(), CalendarError> {
        if instant < self.year_starts[0] {
            let local_year = utc_from_seconds(instant).with_timezone(&self.spec.timezone).year();
            return Err(self.year_out_of_range(local_year));
        }
        Ok(())
    }
}

/// The spec's own consistency: what the engine relies on before building any year.
fn validate_spec(spec: &CalendarSpec) -> Result<(), CalendarError> {
    let invalid = |reason: String| Err(CalendarError::InvalidSpec { mic: spec.mic.clone(), reason });
    if spec.mic.trim().is_empty() {
        return invalid("the MIC is empty".into());
    }
    for year in [spec.first_year, spec.last_year] {
        if !YEAR_RANGE.contains(&year) {
            return invalid(format!("year {year} is outside {}..={}", YEAR_RANGE.start(), YEAR_RANGE.end()));
        }
    }
    if spec.first_year > spec.last_year {
        return invalid(format!("first year {} is after last year {}", spec.first_year, spec.last_year));
    }
    // Checked: `-1..=i32::MAX` must not wrap into a small span.
    if spec.last_year.checked_sub(spec.first_year).is_none_or(|span| span > MAX_YEAR_SPAN) {
        return invalid(format!("years {}..={} span more than {MAX_YEAR_SPAN} years", spec.first_year, spec.last_year));
    }
    if spec.first_session.year() > spec.last_year {
        return invalid(format!("first session {} is after the last year {}", spec.first_session, spec.last_year));
    }
    // A 7-bit set, read before anything walks the list: a week has seven days.
    if spec.weekend.len() > 7 {
        return invalid(format!("the weekend lists {} days; a week has 7", spec.weekend.len()));
    }
    let weekend_days = spec.weekend_days();
    if weekend_days == 0b111_1111 {
        return invalid("every day of the week is a weekend day".into());
    }
    let Some(first_hours) = spec.hours.first() else {
        return invalid("no regular hours".into());
    };
    if first_hours.effective_from > spec.first_session {
        return invalid(format!(
            "the first regular hours start {}, after the first session {}",
            first_hours.effective_from, spec.first_session
        ));
    }
    for pair in spec.hours.windows(2) {
        if pair[0].effective_from >= pair[1].effective_from {
            return invalid(format!(
                "regular hours are not ordered by effective date ({} then {})",
                pair[0].effective_from, pair[1].effective_from
            ));
        }
    }
    for hours in &spec.hours {
        if hours.open >= hours.close {
            return invalid(format!(
                "hours from {}: open {} is not before close {}",
                hours.effective_from, hours.open, hours.close
            ));
        }
        if let Some((start, end)) = hours.lunch_break
            && !(hours.open < start && start < end && end < hours.close)
        {
            return invalid(format!(
                "hours from {}: lunch break {start}-{end} is not inside the session {}-{}",
                hours.effective_from, hours.open, hours.close
            ));
        }
    }
    Ok(())
}
