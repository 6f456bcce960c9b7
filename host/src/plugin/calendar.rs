//! Calendar plugins: the WIT records converted (and checked) into the engine's spec
//! types, and the engine built from a generation. A plugin that answers with a month 13,
//! an unknown timezone or hours that close before they open is an invalid answer, never a
//! panic and never a calendar that goes live.

use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};

use super::bindings::calendar_world::exports::tickstock::plugins::calendar as wit;
use super::bindings::calendar_world::tickstock::plugins::types as wit_types;
use super::error::{CallError, CallFailure};
use super::limits;
use super::load::{Callable, WorldInstance, wrong_world};
use super::sandbox::InvalidAnswer;
use crate::calendar::{Calendar, CalendarError, CalendarSpec, Certainty, DayKind, RegularHours, SpecialDay};

/// Calls `info` and converts the answer.
pub fn info(callable: &Callable) -> Result<CalendarSpec, CallError> {
    callable.call("info", |store, instance| {
        let answer = match instance {
            WorldInstance::Calendar(plugin) => plugin.tickstock_plugins_calendar().call_info(store)?,
            _ => return Err(wrong_world("info")),
        };
        convert_info(answer).map_err(InvalidAnswer::error)
    })
}

/// What `special-days` can come back with.
pub enum SpecialDaysAnswer {
    Days(Vec<SpecialDay>),
    /// The plugin refuses the year (outside its range).
    YearOutOfRange,
    /// The plugin's own error string, cut to a quoted excerpt (`limits::excerpt`).
    Refused(String),
}

/// Calls `special-days(year)` and converts and checks the answer.
pub fn special_days(callable: &Callable, year: i32) -> Result<SpecialDaysAnswer, CallError> {
    callable.call("special-days", |store, instance| {
        let answer = match instance {
            WorldInstance::Calendar(plugin) => plugin.tickstock_plugins_calendar().call_special_days(store, year)?,
            _ => return Err(wrong_world("special-days")),
        };
        match answer {
            Ok(days) => convert_special_days(year, days).map(SpecialDaysAnswer::Days).map_err(InvalidAnswer::error),
            Err(wit::CalendarError::YearOutOfRange(_)) => Ok(SpecialDaysAnswer::YearOutOfRange),
            Err(wit::CalendarError::Other(message)) => Ok(SpecialDaysAnswer::Refused(limits::excerpt(&message))),
        }
    })
}

/// Builds the calendar engine of a generation. Special days are fetched lazily, one
/// exchange-year at a time, through the same sandboxed calls.
pub fn build_calendar(callable: &Arc<Callable>) -> Result<Calendar, CallError> {
    build_calendar_recording(callable).map(|(calendar, _)| calendar)
}

/// The last failed `special-days` call of a calendar, kept as the typed `CallError` the
/// engine's `CalendarError` can only carry as text. The load gate reports it as it is
/// (deadline, memory cap, trap or invalid answer) instead of wrapping its text in a
/// second label.
pub(crate) type LastCallError = Arc<Mutex<Option<CallError>>>;

/// `build_calendar`, also returning where the loader records its last failed call.
pub(crate) fn build_calendar_recording(callable: &Arc<Callable>) -> Result<(Calendar, LastCallError), CallError> {
    let spec = info(callable)?;
    let mic = spec.mic.clone();
    let (first_year, last_year) = (spec.first_year, spec.last_year);
    let loader_callable = callable.clone();
    let last_error: LastCallError = Arc::new(Mutex::new(None));
    let loader_last_error = last_error.clone();
    let loader = Box::new(move |year: i32| -> Result<Vec<SpecialDay>, CalendarError> {
        match special_days(&loader_callable, year) {
            Ok(SpecialDaysAnswer::Days(days)) => Ok(days),
            // The engine asks only for years inside the declared range, so this is the
            // plugin contradicting its own `info`, not a question out of range.
            Ok(SpecialDaysAnswer::YearOutOfRange) => Err(CalendarError::Plugin {
                mic: mic.clone(),
                message: format!(
                    "the plugin refused year {year} as out of range, though its info declares {first_year}..={last_year}"
                ),
            }),
            Ok(SpecialDaysAnswer::Refused(message)) => Err(CalendarError::Plugin {
                mic: mic.clone(),
                message: format!("the plugin refused year {year}: {message}"),
            }),
            Err(error) => {
                let message = error.to_string();
                *loader_last_error.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(error);
                Err(CalendarError::Plugin { mic: mic.clone(), message })
            }
        }
    });
    let calendar = Calendar::new(spec, loader).map_err(|error| invalid(callable, "info", error.to_string()))?;
    Ok((calendar, last_error))
}

fn invalid(callable: &Callable, function: &'static str, reason: String) -> CallError {
    CallError {
        plugin: callable.id().clone(),
        generation: callable.generation(),
        function,
        failure: CallFailure::InvalidAnswer { reason },
    }
}

fn date(value: wit_types::Date) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(value.year, u32::from(value.month), u32::from(value.day))
        .ok_or_else(|| format!("{:04}-{:02}-{:02} is not a date", value.year, value.month, value.day))
}

fn time(value: wit_types::LocalTime) -> Result<NaiveTime, String> {
    NaiveTime::from_hms_opt(u32::from(value.hour), u32::from(value.minute), 0)
        .ok_or_else(|| format!("{:02}:{:02} is not a time of day", value.hour, value.minute))
}

fn weekday(value: wit::Weekday) -> Weekday {
    match value {
        wit::Weekday::Monday => Weekday::Mon,
        wit::Weekday::Tuesday => Weekday::Tue,
        wit::Weekday::Wednesday => Weekday::Wed,
        wit::Weekday::Thursday => Weekday::Thu,
        wit::Weekday::Friday => Weekday::Fri,
        wit::Weekday::Saturday => Weekday::Sat,
        wit::Weekday::Sunday => Weekday::Sun,
    }
}

/// Checks `info` against `limits` first (sizes, counts, year arithmetic), then converts.
fn convert_info(info: wit::CalendarInfo) -> Result<CalendarSpec, String> {
    limits::check_mic("`mic`", &info.mic)?;
    limits::check_text("`exchange-name`", &info.exchange_name, limits::TEXT_BYTES)?;
    if info.timezone.len() > limits::TIMEZONE_BYTES {
        return Err(limits::too_long("`timezone`", info.timezone.len(), limits::TIMEZONE_BYTES, "bytes"));
    }
    let timezone = info
        .timezone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`timezone` {} is not an IANA timezone", limits::excerpt(&info.timezone)))?;
    check_years(info.first_year, info.last_year)?;
    limits::check_count("`weekend`", info.weekend.len(), limits::WEEKEND_DAYS)?;
    let mut weekend_days: u8 = 0;
    for day in &info.weekend {
        let bit = 1u8 << weekday(*day).num_days_from_monday();
        if weekend_days & bit != 0 {
            return Err(format!("`weekend` names {} twice", weekday(*day)));
        }
        weekend_days |= bit;
    }
    limits::check_count("`hours`", info.hours.len(), limits::HOURS_ENTRIES)?;
    let hours = info
        .hours
        .into_iter()
        .map(|hours| {
            Ok(RegularHours {
                effective_from: date(hours.effective_from)?,
                open: time(hours.open)?,
                close: time(hours.close)?,
                lunch_break: match hours.lunch_break {
                    Some(interval) => Some((time(interval.start)?, time(interval.end)?)),
                    None => None,
                },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(CalendarSpec {
        mic: info.mic,
        exchange_name: info.exchange_name,
        timezone,
        weekend: info.weekend.into_iter().map(weekday).collect(),
        first_session: date(info.first_session)?,
        first_year: info.first_year,
        last_year: info.last_year,
        published_through: info.published_through,
        hours,
    })
}

/// Years inside `limits::YEAR_RANGE`, in order, and a span the engine's per-year tables
/// can hold; the subtraction is checked, so `-1..=i32::MAX` cannot wrap into a small span.
fn check_years(first_year: i32, last_year: i32) -> Result<(), String> {
    for (field, year) in [("`first-year`", first_year), ("`last-year`", last_year)] {
        if !limits::YEAR_RANGE.contains(&year) {
            return Err(format!(
                "{field} {year} is outside {}..={}",
                limits::YEAR_RANGE.start(),
                limits::YEAR_RANGE.end()
            ));
        }
    }
    if first_year > last_year {
        return Err(format!("`first-year` {first_year} is after `last-year` {last_year}"));
    }
    match last_year.checked_sub(first_year) {
        Some(span) if span <= limits::YEAR_SPAN => Ok(()),
        _ => Err(format!(
            "`first-year`..`last-year` {first_year}..={last_year} spans more than {} years",
            limits::YEAR_SPAN
        )),
    }
}

/// Checks the count against `limits` before converting, then each day's text, date and
/// order. Errors name a day by its index, never by its (plugin-chosen) name.
fn convert_special_days(year: i32, days: Vec<wit::SpecialDay>) -> Result<Vec<SpecialDay>, String> {
    limits::check_count("the special days of one year", days.len(), limits::SPECIAL_DAYS_PER_YEAR)?;
    let mut converted: Vec<SpecialDay> = Vec::with_capacity(days.len());
    for (index, day) in days.into_iter().enumerate() {
        limits::check_text(format_args!("special day {index} `name`"), &day.name, limits::TEXT_BYTES)?;
        limits::check_text(format_args!("special day {index} `rule`"), &day.rule, limits::TEXT_BYTES)?;
        limits::check_text(format_args!("special day {index} `source`"), &day.source, limits::TEXT_BYTES)?;
        let observed_from = day.observed_from.map(date).transpose()?;
        let date = date(day.date)?;
        if date.year() != year {
            return Err(format!("special day {index} ({date}) is not in the requested year {year}"));
        }
        if let Some(previous) = converted.last()
            && previous.date >= date
        {
            return Err(format!("special days are not strictly ordered by date: {} then {date}", previous.date));
        }
        converted.push(SpecialDay {
            date,
            name: day.name,
            kind: match day.kind {
                wit::DayKind::Closed => DayKind::Closed,
                wit::DayKind::EarlyClose(at) => DayKind::EarlyClose(time(at)?),
                wit::DayKind::LateOpen(at) => DayKind::LateOpen(time(at)?),
            },
            certainty: match day.certainty {
                wit::Certainty::Official => Certainty::Official,
                wit::Certainty::Projected => Certainty::Projected,
            },
            rule: day.rule,
            source: day.source,
            observed_from,
        });
    }
    Ok(converted)
}
