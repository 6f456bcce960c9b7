//! Calendar answers as rows: `tickstock calendar sessions|status` and the admin API's
//! `/calendars/{mic}/sessions|status` print and serve these same records. Instants are UTC
//! as `YYYY-MM-DDTHH:MM:SSZ` (the sessions CSV contract).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::{InvalidInput, quoted_prefix};
use crate::calendar::{
    Calendar, CalendarError, ClosedReason, DayExplanation, DayKind, RegularHours, Session, SpecialDay, Status,
};

/// One row of `calendar sessions` (the CSV contract's columns, in order).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRow {
    pub date: String,
    pub open: String,
    pub close: String,
    pub break_start: Option<String>,
    pub break_end: Option<String>,
}

pub fn session_row(session: &Session) -> SessionRow {
    SessionRow {
        date: session.date.to_string(),
        open: utc_text(session.open),
        close: utc_text(session.close),
        break_start: session.lunch_break.map(|(start, _)| utc_text(start)),
        break_end: session.lunch_break.map(|(_, end)| utc_text(end)),
    }
}

/// One row of `calendar status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusRow {
    pub mic: String,
    pub local_time: String,
    /// `open`, `break` or `closed`.
    pub state: String,
    pub until: Option<String>,
    pub reason: Option<String>,
}

pub fn status_row(calendar: &Calendar, at: DateTime<Utc>) -> Result<StatusRow, CalendarError> {
    let local_time = at.with_timezone(&calendar.spec().timezone).format("%Y-%m-%d %H:%M %Z").to_string();
    let (state, until, reason) = match calendar.status(at)? {
        Status::Open { until } => ("open", Some(utc_text(until)), None),
        Status::Break { until } => ("break", Some(utc_text(until)), Some("lunch break".to_string())),
        Status::Closed { reason, next_open } => ("closed", next_open.map(utc_text), Some(closed_reason(&reason))),
    };
    Ok(StatusRow { mic: calendar.mic().to_string(), local_time, state: state.to_string(), until, reason })
}

fn closed_reason(reason: &ClosedReason) -> String {
    match reason {
        ClosedReason::Holiday { name } => format!("holiday: {name}"),
        other => other.to_string(),
    }
}

/// One row of `calendar holidays` (and `GET /calendars/{mic}/holidays`): a special day
/// with everything the plugin said about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HolidayRow {
    pub date: String,
    pub name: String,
    /// `closed`, `early close HH:MM` or `late open HH:MM` (exchange-local).
    pub kind: String,
    /// `official` or `projected`.
    pub certainty: String,
    /// The rule that produced the day, in words.
    pub rule: String,
    pub source: String,
    /// The holiday's own date when this day observes it on another.
    pub observed_from: Option<String>,
}

pub fn holiday_row(special: &SpecialDay) -> HolidayRow {
    HolidayRow {
        date: special.date.to_string(),
        name: special.name.clone(),
        kind: day_kind_text(special.kind),
        certainty: certainty_text(special),
        rule: special.rule.clone(),
        source: special.source.clone(),
        observed_from: special.observed_from.map(|date| date.to_string()),
    }
}

/// What `calendar explain --format json` prints and `GET /calendars/{mic}/explain`
/// answers: why `date` is or is not a session, with the rule, source and certainty of a
/// special day, and the session in UTC.
pub fn explanation_json(calendar: &Calendar, date: NaiveDate, explanation: &DayExplanation) -> serde_json::Value {
    let mut value = match explanation {
        DayExplanation::BeforeFirstSession { first_session, .. } => serde_json::json!({
            "day": "before-first-session", "first_session": first_session.to_string(),
        }),
        DayExplanation::Weekend { weekday, .. } => {
            serde_json::json!({ "day": "weekend", "weekday": weekday.to_string() })
        }
        DayExplanation::Regular { hours, .. } => serde_json::json!({
            "day": "regular", "hours": hours_text(hours),
        }),
        DayExplanation::Special { special, hours, .. } => serde_json::json!({
            "day": "special",
            "name": special.name,
            "kind": day_kind_text(special.kind),
            "rule": special.rule,
            "observed_from": special.observed_from.map(|date| date.to_string()),
            "certainty": certainty_text(special),
            "source": special.source,
            "regular_hours": hours_text(hours),
        }),
    };
    value["mic"] = calendar.mic().into();
    value["date"] = date.to_string().into();
    value["timezone"] = calendar.spec().timezone.name().into();
    value["session"] = explanation.session().map(session_json).unwrap_or(serde_json::Value::Null);
    value
}

/// Exchange-local `HH:MM`.
pub fn local_time_text(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

/// `09:30-16:00`, with ` (break 11:30-12:30)` when there is one.
pub fn hours_text(hours: &RegularHours) -> String {
    let session = format!("{}-{}", local_time_text(hours.open), local_time_text(hours.close));
    match hours.lunch_break {
        Some((start, end)) => format!("{session} (break {}-{})", local_time_text(start), local_time_text(end)),
        None => session,
    }
}

fn session_json(session: &Session) -> serde_json::Value {
    serde_json::json!({
        "open": utc_text(session.open),
        "close": utc_text(session.close),
        "break_start": session.lunch_break.map(|(start, _)| utc_text(start)),
        "break_end": session.lunch_break.map(|(_, end)| utc_text(end)),
    })
}

/// `closed`, `early close HH:MM` or `late open HH:MM` (exchange-local).
pub fn day_kind_text(kind: DayKind) -> String {
    match kind {
        DayKind::Closed => "closed".to_string(),
        DayKind::EarlyClose(time) => format!("early close {}", local_time_text(time)),
        DayKind::LateOpen(time) => format!("late open {}", local_time_text(time)),
    }
}

/// `official` or `projected`.
pub fn certainty_text(special: &SpecialDay) -> String {
    serde_json::to_value(special.certainty)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", special.certainty).to_ascii_lowercase())
}

/// The contract's instant format: UTC, seconds, `Z`.
pub fn utc_text(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `YYYY-MM-DD`; `what` names the input in the error (`--from`, `from`).
pub fn parse_date(text: &str, what: &str) -> Result<NaiveDate, InvalidInput> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| InvalidInput(format!("{what}: {} is not a date; expected YYYY-MM-DD", quoted_prefix(text, 40))))
}

/// RFC 3339, or a bare date meaning midnight UTC.
pub fn parse_instant(text: &str, what: &str) -> Result<DateTime<Utc>, InvalidInput> {
    let trimmed = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(instant.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    Err(InvalidInput(format!(
        "{what}: {} is not an instant; expected RFC 3339 (2024-03-11T14:30:00Z) or YYYY-MM-DD",
        quoted_prefix(trimmed, 40)
    )))
}
