//! Calendar plugins: the WIT records converted (and checked) into the engine's spec
//! types, and the engine built from a generation. A plugin that answers with a month 13,
//! an unknown timezone or hours that close before they open is an invalid answer, never a
//! panic and never a calendar that goes live.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};

use super::bindings::calendar_world::exports::tickstock::plugins::calendar as wit;
use super::bindings::calendar_world::tickstock::plugins::types as wit_types;
use super::error::{CallError, CallFailure};
use super::load::{Callable, WorldPre};
use super::sandbox::InvalidAnswer;
use crate::calendar::{Calendar, CalendarError, CalendarSpec, Certainty, DayKind, RegularHours, SpecialDay};

/// Calls `info` and converts the answer.
pub fn info(callable: &Callable) -> Result<CalendarSpec, CallError> {
    callable.call("info", |store, pre| {
        let answer = match pre {
            WorldPre::Calendar(pre) => {
                pre.instantiate(&mut *store)?.tickstock_plugins_calendar().call_info(&mut *store)?
            }
            _ => unreachable!("calendar calls are only made on calendar plugins"),
        };
        convert_info(answer).map_err(InvalidAnswer::error)
    })
}

/// What `special-days` can come back with.
pub enum SpecialDaysAnswer {
    Days(Vec<SpecialDay>),
    /// The plugin refuses the year (outside its range).
    YearOutOfRange,
    /// The plugin's own error string.
    Refused(String),
}

/// Calls `special-days(year)` and converts and checks the answer.
pub fn special_days(callable: &Callable, year: i32) -> Result<SpecialDaysAnswer, CallError> {
    callable.call("special-days", |store, pre| {
        let answer = match pre {
            WorldPre::Calendar(pre) => {
                pre.instantiate(&mut *store)?.tickstock_plugins_calendar().call_special_days(&mut *store, year)?
            }
            _ => unreachable!("calendar calls are only made on calendar plugins"),
        };
        match answer {
            Ok(days) => convert_special_days(year, days).map(SpecialDaysAnswer::Days).map_err(InvalidAnswer::error),
            Err(wit::CalendarError::YearOutOfRange(_)) => Ok(SpecialDaysAnswer::YearOutOfRange),
            Err(wit::CalendarError::Other(message)) => Ok(SpecialDaysAnswer::Refused(message)),
        }
    })
}

/// Builds the calendar engine of a generation. Special days are fetched lazily, one
/// exchange-year at a time, through the same sandboxed calls.
pub fn build_calendar(callable: &Arc<Callable>) -> Result<Calendar, CallError> {
    let spec = info(callable)?;
    let mic = spec.mic.clone();
    let (first_year, last_year) = (spec.first_year, spec.last_year);
    let loader_callable = callable.clone();
    let loader = Box::new(move |year: i32| -> Result<Vec<SpecialDay>, CalendarError> {
        match special_days(&loader_callable, year) {
            Ok(SpecialDaysAnswer::Days(days)) => Ok(days),
            Ok(SpecialDaysAnswer::YearOutOfRange) => {
                Err(CalendarError::YearOutOfRange { mic: mic.clone(), year, first: first_year, last: last_year })
            }
            Ok(SpecialDaysAnswer::Refused(message)) => Err(CalendarError::Plugin { mic: mic.clone(), message }),
            Err(error) => Err(CalendarError::Plugin { mic: mic.clone(), message: error.to_string() }),
        }
    });
    Calendar::new(spec, loader).map_err(|error| invalid(callable, "info", error.to_string()))
}

fn invalid(callable: &Callable, function: &'static str, reason: String) -> CallError {
    CallError {
        plugin: callable.label().to_string(),
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

fn convert_info(info: wit::CalendarInfo) -> Result<CalendarSpec, String> {
    let timezone =
        info.timezone.parse::<chrono_tz::Tz>().map_err(|_| format!("unknown IANA timezone {:?}", info.timezone))?;
    if info.first_year > info.last_year {
        return Err(format!("first-year {} is after last-year {}", info.first_year, info.last_year));
    }
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

fn convert_special_days(year: i32, days: Vec<wit::SpecialDay>) -> Result<Vec<SpecialDay>, String> {
    let mut converted: Vec<SpecialDay> = Vec::with_capacity(days.len());
    for day in days {
        let observed_from = day.observed_from.map(date).transpose()?;
        let date = date(day.date)?;
        if date.year() != year {
            return Err(format!("special day {date} ({}) is not in the requested year {year}", day.name));
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
