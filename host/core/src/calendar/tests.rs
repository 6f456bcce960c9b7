//! Unit tests of the engine on hand-built specs: tables of dates and expected sessions for
//! the facts that catch calendar libraries out (DST weeks, lunch breaks, shortened days),
//! then a property test over pseudo-random specs that checks every query against the
//! plain list of sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;

use super::*;

// ---- fixtures ---------------------------------------------------------------------------

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn hours(from: &str, open: &str, close: &str, lunch_break: Option<(&str, &str)>) -> RegularHours {
    RegularHours {
        effective_from: date(from),
        open: time(open),
        close: time(close),
        lunch_break: lunch_break.map(|(start, end)| (time(start), time(end))),
    }
}

/// A special day as a row of a fixture table: (date, name, kind).
type SpecialRow = (&'static str, &'static str, DayKind);

fn special(row: &SpecialRow) -> SpecialDay {
    let (day, name, kind) = *row;
    SpecialDay {
        date: date(day),
        name: name.to_string(),
        kind,
        certainty: Certainty::Official,
        rule: format!("rule of {name}"),
        source: "test fixture".to_string(),
        observed_from: None,
    }
}

/// A loader serving fixed rows, counting its calls.
fn table_loader(rows: Vec<SpecialDay>, calls: Arc<AtomicUsize>) -> YearLoader {
    Box::new(move |year| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(rows.iter().filter(|special| special.date.year() == year).cloned().collect())
    })
}

fn spec(mic: &str, timezone: Tz, first_session: &str, hours: Vec<RegularHours>) -> CalendarSpec {
    CalendarSpec {
        mic: mic.to_string(),
        exchange_name: format!("{mic} (test)"),
        timezone,
        weekend: vec![Weekday::Sat, Weekday::Sun],
        first_session: date(first_session),
        first_year: 2000,
        last_year: 2030,
        published_through: 2025,
        hours,
    }
}

const NEW_YORK_SPECIALS: &[SpecialRow] = &[
    ("2021-12-24", "Christmas Day", DayKind::Closed),
    ("2024-01-01", "New Year's Day", DayKind::Closed),
    ("2024-07-03", "Independence Day eve", DayKind::EarlyClose(NaiveTime::from_hms_opt(13, 0, 0).unwrap())),
    ("2024-07-04", "Independence Day", DayKind::Closed),
    ("2024-11-28", "Thanksgiving Day", DayKind::Closed),
    ("2024-11-29", "Day after Thanksgiving", DayKind::EarlyClose(NaiveTime::from_hms_opt(13, 0, 0).unwrap())),
    ("2024-12-24", "Christmas Eve", DayKind::EarlyClose(NaiveTime::from_hms_opt(13, 0, 0).unwrap())),
    ("2024-12-25", "Christmas Day", DayKind::Closed),
];

fn new_york_with(calls: Arc<AtomicUsize>) -> Calendar {
    let mut rows: Vec<SpecialDay> = NEW_YORK_SPECIALS.iter().map(special).collect();
    rows[0].observed_from = Some(date("2021-12-25"));
    let spec =
        spec("XNYS", chrono_tz::America::New_York, "1990-01-02", vec![hours("1990-01-01", "09:30", "16:00", None)]);
    Calendar::new(spec, table_loader(rows, calls)).unwrap()
}

fn new_york() -> Calendar {
    new_york_with(Arc::default())
}

const TOKYO_SPECIALS: &[SpecialRow] = &[
    ("2008-12-30", "Last trading day (morning only)", DayKind::EarlyClose(NaiveTime::from_hms_opt(11, 0, 0).unwrap())),
    ("2008-12-31", "Exchange holiday", DayKind::Closed),
    ("2009-01-01", "New Year's Day", DayKind::Closed),
    ("2009-01-02", "Exchange holiday", DayKind::Closed),
    ("2024-06-13", "Test: late open before the break", DayKind::LateOpen(NaiveTime::from_hms_opt(10, 0, 0).unwrap())),
    (
        "2024-06-14",
        "Test: early close inside the break",
        DayKind::EarlyClose(NaiveTime::from_hms_opt(12, 0, 0).unwrap()),
    ),
    ("2024-06-17", "Test: late open inside the break", DayKind::LateOpen(NaiveTime::from_hms_opt(12, 0, 0).unwrap())),
    ("2024-06-18", "Test: late open after the break", DayKind::LateOpen(NaiveTime::from_hms_opt(13, 0, 0).unwrap())),
    (
        "2024-06-19",
        "Test: early close after the break",
        DayKind::EarlyClose(NaiveTime::from_hms_opt(14, 0, 0).unwrap()),
    ),
];

fn tokyo() -> Calendar {
    let spec = spec(
        "XTKS",
        chrono_tz::Asia::Tokyo,
        "2000-01-04",
        vec![
            hours("2000-01-01", "09:00", "15:00", Some(("11:00", "12:30"))),
            hours("2011-11-21", "09:00", "15:00", Some(("11:30", "12:30"))),
            hours("2024-11-05", "09:00", "15:30", Some(("11:30", "12:30"))),
        ],
    );
    Calendar::new(spec, table_loader(TOKYO_SPECIALS.iter().map(special).collect(), Arc::default())).unwrap()
}

fn london() -> Calendar {
    let rows = vec![special(&("2024-04-01", "Easter Monday", DayKind::Closed))];
    let spec = spec("XLON", chrono_tz::Europe::London, "2000-01-04", vec![hours("2000-01-01", "08:00", "16:30", None)]);
    Calendar::new(spec, table_loader(rows, Arc::default())).unwrap()
}

fn xetra() -> Calendar {
    let mut spec =
        spec("XETR", chrono_tz::Europe::Berlin, "1997-11-28", vec![hours("1997-11-28", "09:00", "17:30", None)]);
    spec.first_year = 1997;
    Calendar::new(spec, table_loader(Vec::new(), Arc::default())).unwrap()
}

fn calendar(mic: &str) -> Calendar {
    match mic {
        "XNYS" => new_york(),
        "XTKS" => tokyo(),
        "XLON" => london(),
        "XETR" => xetra(),
        other => panic!("no fixture for {other}"),
    }
}

/// A session as (open, close, break) in RFC 3339, for readable tables.
type SessionRow = (&'static str, &'static str, Option<(&'static str, &'static str)>);

/// The same, parsed: (open, close, break).
type UtcSessionRow = (DateTime<Utc>, DateTime<Utc>, Option<(DateTime<Utc>, DateTime<Utc>)>);

fn session_row(session: &Session) -> UtcSessionRow {
    (session.open, session.close, session.lunch_break)
}

fn expected_row(row: &SessionRow) -> UtcSessionRow {
    (utc(row.0), utc(row.1), row.2.map(|(start, end)| (utc(start), utc(end))))
}

fn check_sessions(cases: &[(&str, &str, Option<SessionRow>)]) {
    for (mic, day, expected) in cases {
        let calendar = calendar(mic);
        let actual = calendar.session_on(date(day)).unwrap();
        assert_eq!(actual.as_ref().map(session_row), expected.as_ref().map(expected_row), "{mic} {day}");
        if let Some(session) = actual {
            assert_eq!(session.date, date(day), "{mic} {day}: session date");
        }
    }
}

// ---- sessions ---------------------------------------------------------------------------

#[test]
fn utc_open_shifts_by_an_hour_across_dst_while_local_open_stays() {
    check_sessions(&[
        // US clocks go forward on 2024-03-10, back on 2024-11-03.
        ("XNYS", "2024-03-08", Some(("2024-03-08T14:30:00Z", "2024-03-08T21:00:00Z", None))),
        ("XNYS", "2024-03-11", Some(("2024-03-11T13:30:00Z", "2024-03-11T20:00:00Z", None))),
        ("XNYS", "2024-11-01", Some(("2024-11-01T13:30:00Z", "2024-11-01T20:00:00Z", None))),
        ("XNYS", "2024-11-04", Some(("2024-11-04T14:30:00Z", "2024-11-04T21:00:00Z", None))),
        // The EU goes forward on 2024-03-31 (Easter Monday 04-01 is a London holiday).
        ("XLON", "2024-03-28", Some(("2024-03-28T08:00:00Z", "2024-03-28T16:30:00Z", None))),
        ("XLON", "2024-04-01", None),
        ("XLON", "2024-04-02", Some(("2024-04-02T07:00:00Z", "2024-04-02T15:30:00Z", None))),
        ("XETR", "2024-03-28", Some(("2024-03-28T08:00:00Z", "2024-03-28T16:30:00Z", None))),
        ("XETR", "2024-04-02", Some(("2024-04-02T07:00:00Z", "2024-04-02T15:30:00Z", None))),
        // Tokyo has no DST.
        (
            "XTKS",
            "2024-03-08",
            Some((
                "2024-03-08T00:00:00Z",
                "2024-03-08T06:00:00Z",
                Some(("2024-03-08T02:30:00Z", "2024-03-08T03:30:00Z")),
            )),
        ),
    ]);
}

#[test]
fn regular_hours_change_on_their_effective_date() {
    check_sessions(&[
        (
            "XTKS",
            "2011-11-18",
            Some((
                "2011-11-18T00:00:00Z",
                "2011-11-18T06:00:00Z",
                Some(("2011-11-18T02:00:00Z", "2011-11-18T03:30:00Z")),
            )),
        ),
        (
            "XTKS",
            "2011-11-21",
            Some((
                "2011-11-21T00:00:00Z",
                "2011-11-21T06:00:00Z",
                Some(("2011-11-21T02:30:00Z", "2011-11-21T03:30:00Z")),
            )),
        ),
        (
            "XTKS",
            "2024-11-01",
            Some((
                "2024-11-01T00:00:00Z",
                "2024-11-01T06:00:00Z",
                Some(("2024-11-01T02:30:00Z", "2024-11-01T03:30:00Z")),
            )),
        ),
        (
            "XTKS",
            "2024-11-05",
            Some((
                "2024-11-05T00:00:00Z",
                "2024-11-05T06:30:00Z",
                Some(("2024-11-05T02:30:00Z", "2024-11-05T03:30:00Z")),
            )),
        ),
    ]);
}

#[test]
fn special_days_shape_the_session_around_the_lunch_break() {
    check_sessions(&[
        ("XNYS", "2024-11-28", None),
        ("XNYS", "2024-11-29", Some(("2024-11-29T14:30:00Z", "2024-11-29T18:00:00Z", None))),
        ("XNYS", "2024-07-03", Some(("2024-07-03T13:30:00Z", "2024-07-03T17:00:00Z", None))),
        ("XNYS", "2024-03-09", None),
        // Early close at the break start: morning only, no break.
        ("XTKS", "2008-12-30", Some(("2008-12-30T00:00:00Z", "2008-12-30T02:00:00Z", None))),
        ("XTKS", "2008-12-31", None),
        // Late open before the break keeps the break.
        (
            "XTKS",
            "2024-06-13",
            Some((
                "2024-06-13T01:00:00Z",
                "2024-06-13T06:00:00Z",
                Some(("2024-06-13T02:30:00Z", "2024-06-13T03:30:00Z")),
            )),
        ),
        // Early close inside the break: trading ends at the break start.
        ("XTKS", "2024-06-14", Some(("2024-06-14T00:00:00Z", "2024-06-14T02:30:00Z", None))),
        // Late open inside the break: trading starts at the break end.
        ("XTKS", "2024-06-17", Some(("2024-06-17T03:30:00Z", "2024-06-17T06:00:00Z", None))),
        ("XTKS", "2024-06-18", Some(("2024-06-18T04:00:00Z", "2024-06-18T06:00:00Z", None))),
        // Early close after the break keeps the break.
        (
            "XTKS",
            "2024-06-19",
            Some((
                "2024-06-19T00:00:00Z",
                "2024-06-19T05:00:00Z",
                Some(("2024-06-19T02:30:00Z", "2024-06-19T03:30:00Z")),
            )),
        ),
    ]);
}

#[test]
fn sessions_cover_inclusive_local_dates_and_counts_agree() {
    let new_york = new_york();
    let sessions = new_york.sessions(date("2024-11-25"), date("2024-12-02")).unwrap();
    let dates: Vec<String> = sessions.iter().map(|session| session.date.to_string()).collect();
    assert_eq!(dates, ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]);
    // 2024 has 262 weekdays; the fixture closes 4 of them.
    assert_eq!(new_york.session_count(date("2024-01-01"), date("2024-12-31")).unwrap(), 258);
    assert_eq!(
        new_york.sessions(date("2023-12-01"), date("2025-01-31")).unwrap().len(),
        new_york.session_count(date("2023-12-01"), date("2025-01-31")).unwrap()
    );
    assert!(new_york.sessions(date("2024-03-09"), date("2024-03-10")).unwrap().is_empty());
}

#[test]
fn dates_before_the_first_session_are_closed_not_errors() {
    let xetra = xetra();
    let sessions = xetra.sessions(date("1997-11-01"), date("1997-12-02")).unwrap();
    assert_eq!(sessions.first().unwrap().date, date("1997-11-28"));
    assert_eq!(sessions.len(), 3);
    assert!(!xetra.is_open(utc("1997-11-27T10:00:00Z")).unwrap());
    assert!(xetra.is_open(utc("1997-11-28T10:00:00Z")).unwrap());
    assert_eq!(xetra.next_open(utc("1997-06-01T10:00:00Z")).unwrap(), utc("1997-11-28T08:00:00Z"));
    assert_eq!(
        xetra.status(utc("1997-06-01T10:00:00Z")).unwrap(),
        Status::Closed { reason: ClosedReason::BeforeFirstSession, next_open: Some(utc("1997-11-28T08:00:00Z")) }
    );
    assert_eq!(
        xetra.explain(date("1997-11-27")).unwrap(),
        DayExplanation::BeforeFirstSession { date: date("1997-11-27"), first_session: date("1997-11-28") }
    );
    assert_eq!(xetra.session_count(date("1997-01-01"), date("1997-11-27")).unwrap(), 0);
}

#[test]
fn years_before_the_first_year_are_refused_even_before_the_first_session() {
    // A calendar's coverage may start long after the exchange opened (NYSE traded before
    // 2000), so "closed" before the first covered year would be a guess.
    let xetra = xetra();
    let refused = |outcome: Result<(), CalendarError>| match outcome {
        Err(CalendarError::YearOutOfRange { year: 1990, first: 1997, .. }) => {}
        other => panic!("expected 1990 to be out of range, got {other:?}"),
    };
    refused(xetra.is_open(utc("1990-06-01T10:00:00Z")).map(drop));
    refused(xetra.status(utc("1990-06-01T10:00:00Z")).map(drop));
    refused(xetra.next_open(utc("1990-06-01T10:00:00Z")).map(drop));
    refused(xetra.explain(date("1990-06-01")).map(drop));
    refused(xetra.sessions(date("1990-01-01"), date("1997-12-31")).map(drop));
}

// ---- instants ---------------------------------------------------------------------------

#[test]
fn trading_intervals_are_half_open() {
    let cases = [
        ("XNYS", "2024-03-11T13:29:59Z", false),
        ("XNYS", "2024-03-11T13:30:00Z", true),
        ("XNYS", "2024-03-11T19:59:59Z", true),
        ("XNYS", "2024-03-11T20:00:00Z", false),
        ("XTKS", "2024-03-08T02:29:59Z", true),
        ("XTKS", "2024-03-08T02:30:00Z", false),
        ("XTKS", "2024-03-08T03:29:59Z", false),
        ("XTKS", "2024-03-08T03:30:00Z", true),
        ("XNYS", "2024-12-25T15:00:00Z", false),
    ];
    for (mic, instant, expected) in cases {
        assert_eq!(calendar(mic).is_open(utc(instant)).unwrap(), expected, "{mic} at {instant}");
    }
}

#[test]
fn status_gives_the_reason_and_the_next_transition() {
    let open = |until: &str| Status::Open { until: utc(until) };
    let on_break = |until: &str| Status::Break { until: utc(until) };
    let closed = |reason: ClosedReason, next: &str| Status::Closed { reason, next_open: Some(utc(next)) };
    let holiday = |name: &str| ClosedReason::Holiday { name: name.to_string() };
    let cases = [
        ("XNYS", "2024-03-11T14:00:00Z", open("2024-03-11T20:00:00Z")),
        ("XNYS", "2024-03-11T12:00:00Z", closed(ClosedReason::BeforeHours, "2024-03-11T13:30:00Z")),
        ("XNYS", "2024-03-09T15:00:00Z", closed(ClosedReason::Weekend, "2024-03-11T13:30:00Z")),
        ("XNYS", "2024-12-25T15:00:00Z", closed(holiday("Christmas Day"), "2024-12-26T14:30:00Z")),
        ("XNYS", "2024-11-29T19:00:00Z", closed(ClosedReason::AfterHours, "2024-12-02T14:30:00Z")),
        // 03:00 UTC on Dec 31st is still Dec 30th in New York: after hours, not the holiday.
        ("XNYS", "2024-12-31T03:00:00Z", closed(ClosedReason::AfterHours, "2024-12-31T14:30:00Z")),
        ("XETR", "1997-11-27T10:00:00Z", closed(ClosedReason::BeforeFirstSession, "1997-11-28T08:00:00Z")),
        ("XTKS", "2024-03-08T02:00:00Z", open("2024-03-08T02:30:00Z")),
        ("XTKS", "2024-03-08T03:00:00Z", on_break("2024-03-08T03:30:00Z")),
        ("XTKS", "2008-12-31T01:00:00Z", closed(holiday("Exchange holiday"), "2009-01-05T00:00:00Z")),
    ];
    for (mic, instant, expected) in cases {
        assert_eq!(calendar(mic).status(utc(instant)).unwrap(), expected, "{mic} at {instant}");
    }
}

#[test]
fn next_open_and_next_close_are_strictly_after_the_instant() {
    // (mic, at, next_open, next_close)
    let cases = [
        ("XNYS", "2024-03-11T13:30:00Z", "2024-03-12T13:30:00Z", "2024-03-11T20:00:00Z"),
        ("XNYS", "2024-03-11T20:00:00Z", "2024-03-12T13:30:00Z", "2024-03-12T20:00:00Z"),
        ("XNYS", "2024-03-08T22:00:00Z", "2024-03-11T13:30:00Z", "2024-03-11T20:00:00Z"),
        // Across the year boundary and the New Year holiday.
        ("XNYS", "2023-12-29T22:00:00Z", "2024-01-02T14:30:00Z", "2024-01-02T21:00:00Z"),
        // A lunch break's end is an open and its start a close.
        ("XTKS", "2024-03-08T01:00:00Z", "2024-03-08T03:30:00Z", "2024-03-08T02:30:00Z"),
        ("XTKS", "2024-03-08T03:00:00Z", "2024-03-08T03:30:00Z", "2024-03-08T06:00:00Z"),
    ];
    for (mic, at, next_open, next_close) in cases {
        let calendar = calendar(mic);
        assert_eq!(calendar.next_open(utc(at)).unwrap(), utc(next_open), "{mic} next_open after {at}");
        assert_eq!(calendar.next_close(utc(at)).unwrap(), utc(next_close), "{mic} next_close after {at}");
    }
}

// ---- ranges and errors ------------------------------------------------------------------

#[test]
fn years_outside_the_range_are_errors_not_guesses() {
    let new_york = new_york();
    let out_of_range = |year| CalendarError::YearOutOfRange { mic: "XNYS".into(), year, first: 2000, last: 2030 };
    assert_eq!(new_york.is_open(utc("2031-03-03T15:00:00Z")), Err(out_of_range(2031)));
    assert_eq!(new_york.is_open(utc("1995-03-03T15:00:00Z")), Err(out_of_range(1995)));
    assert_eq!(new_york.sessions(date("2030-12-01"), date("2031-01-10")), Err(out_of_range(2031)));
    assert_eq!(new_york.special_days(2031).map(|_| ()), Err(out_of_range(2031)));
    assert_eq!(new_york.explain(date("2031-01-02")), Err(out_of_range(2031)));
    assert_eq!(new_york.warm([2030, 2031]), Err(out_of_range(2031)));
    // The next open after the last session lies in 2031: unknown.
    assert_eq!(new_york.next_open(utc("2030-12-31T22:00:00Z")), Err(out_of_range(2031)));
    assert_eq!(new_york.next_close(utc("2030-12-31T22:00:00Z")), Err(out_of_range(2031)));
    // status still answers what it knows.
    assert_eq!(
        new_york.status(utc("2030-12-31T22:00:00Z")).unwrap(),
        Status::Closed { reason: ClosedReason::AfterHours, next_open: None }
    );
    // Late on Dec 31st in UTC is still the last year in New York.
    assert!(new_york.is_open(utc("2031-01-01T03:00:00Z")).is_ok());
}

#[test]
fn a_range_whose_start_is_after_its_end_is_an_error() {
    let new_york = new_york();
    assert!(matches!(
        new_york.sessions(date("2024-02-01"), date("2024-01-01")),
        Err(CalendarError::FromAfterTo { .. })
    ));
    assert!(matches!(
        windows(&[&new_york], utc("2024-02-01T00:00:00Z"), utc("2024-01-01T00:00:00Z")),
        Err(CalendarError::FromAfterTo { .. })
    ));
}

#[test]
fn each_year_is_loaded_once_and_cached_years_lists_them() {
    let calls = Arc::new(AtomicUsize::new(0));
    let new_york = new_york_with(calls.clone());
    assert!(new_york.cached_years().is_empty());
    for _ in 0..3 {
        new_york.is_open(utc("2024-03-11T14:00:00Z")).unwrap();
        new_york.sessions(date("2023-12-20"), date("2024-01-10")).unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(new_york.cached_years(), [2023, 2024]);

    // A new generation warms the same years before it is swapped in.
    let next_calls = Arc::new(AtomicUsize::new(0));
    let next_generation = new_york_with(next_calls.clone());
    next_generation.warm(new_york.cached_years()).unwrap();
    assert_eq!(next_generation.cached_years(), [2023, 2024]);
    assert_eq!(next_calls.load(Ordering::SeqCst), 2);
    next_generation.is_open(utc("2024-03-11T14:00:00Z")).unwrap();
    assert_eq!(next_calls.load(Ordering::SeqCst), 2);
}

#[test]
fn concurrent_first_queries_load_a_year_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let new_york = new_york_with(calls.clone());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| new_york.is_open(utc("2024-03-11T14:00:00Z")).unwrap());
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn plugin_failures_and_contract_breaches_are_plugin_errors() {
    let early = |hhmm: &str| DayKind::EarlyClose(time(hhmm));
    let late = |hhmm: &str| DayKind::LateOpen(time(hhmm));
    // (what, special days returned for 2024, expected words in the message)
    let cases: Vec<(&str, Vec<SpecialRow>, &str)> = vec![
        ("outside the year", vec![("2023-12-25", "Christmas", DayKind::Closed)], "was returned for year 2024"),
        ("unordered", vec![("2024-12-25", "b", DayKind::Closed), ("2024-07-04", "a", DayKind::Closed)], "not ordered"),
        ("duplicate", vec![("2024-07-04", "a", DayKind::Closed), ("2024-07-04", "b", DayKind::Closed)], "not ordered"),
        ("weekend", vec![("2024-03-09", "Saturday", DayKind::Closed)], "falls on a weekend"),
        ("early close after close", vec![("2024-07-03", "x", early("16:30"))], "early close at 16:30:00"),
        ("early close before open", vec![("2024-07-03", "x", early("09:00"))], "early close at 09:00:00"),
        ("late open before open", vec![("2024-07-03", "x", late("08:00"))], "late open at 08:00:00"),
    ];
    for (what, rows, expected) in cases {
        let rows: Vec<SpecialDay> = rows.iter().map(special).collect();
        let spec =
            spec("XNYS", chrono_tz::America::New_York, "1990-01-02", vec![hours("1990-01-01", "09:30", "16:00", None)]);
        let calendar = Calendar::new(spec, Box::new(move |_| Ok(rows.clone()))).unwrap();
        match calendar.is_open(utc("2024-03-11T14:00:00Z")) {
            Err(CalendarError::Plugin { mic, message }) => {
                assert_eq!(mic, "XNYS");
                assert!(message.contains(expected), "{what}: {message}");
            }
            other => panic!("{what}: expected a plugin error, got {other:?}"),
        }
        assert!(calendar.cached_years().is_empty(), "{what}: a failed year is not cached");
    }

    let failing_spec =
        spec("XNYS", chrono_tz::America::New_York, "1990-01-02", vec![hours("1990-01-01", "09:30", "16:00", None)]);
    let failing = Calendar::new(
        failing_spec,
        Box::new(|_| Err(CalendarError::Plugin { mic: "XNYS".into(), message: "trapped".into() })),
    )
    .unwrap();
    assert!(matches!(failing.next_open(utc("2024-03-11T14:00:00Z")), Err(CalendarError::Plugin { .. })));
}

/// Issue 11: a calendar that answers every year with every weekday closed must not be
/// searched to its last year.
#[test]
fn searches_give_up_after_ten_years_without_a_session() {
    let calls = Arc::new(AtomicUsize::new(0));
    let loader_calls = calls.clone();
    let never_open: YearLoader = Box::new(move |year| {
        loader_calls.fetch_add(1, Ordering::SeqCst);
        let days = NaiveDate::from_ymd_opt(year, 1, 1).unwrap().iter_days().take_while(|day| day.year() == year);
        Ok(days
            .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
            .map(|day| SpecialDay { date: day, ..special(&("2000-01-03", "Closed", DayKind::Closed)) })
            .collect())
    });
    let mut never = spec("XNVR", chrono_tz::UTC, "2000-01-03", vec![hours("2000-01-01", "09:00", "17:00", None)]);
    never.last_year = 2100;
    let calendar = Calendar::new(never, never_open).unwrap();
    let gave_up = CalendarError::NoSessionWithin { mic: "XNVR".into(), from_year: 2024, years: SEARCH_HORIZON_YEARS };
    assert_eq!(calendar.next_open(utc("2024-06-03T12:00:00Z")), Err(gave_up.clone()));
    assert_eq!(calendar.next_close(utc("2024-06-03T12:00:00Z")), Err(gave_up.clone()));
    assert_eq!(calendar.status(utc("2024-06-03T12:00:00Z")), Err(gave_up));
    assert_eq!(calls.load(Ordering::SeqCst), SEARCH_HORIZON_YEARS, "years asked of the loader");
    // A real calendar's search ends within a year, long before the horizon.
    assert!(new_york().next_open(utc("2024-12-31T22:00:00Z")).is_ok());
}

#[test]
fn invalid_specs_are_rejected_with_the_reason() {
    let base =
        || spec("XNYS", chrono_tz::America::New_York, "1990-01-02", vec![hours("1990-01-01", "09:30", "16:00", None)]);
    type Mutation = fn(&mut CalendarSpec);
    let cases: Vec<(Mutation, &str)> = vec![
        (|spec| spec.hours[0].close = time("09:00"), "is not before close"),
        (|spec| spec.hours[0].lunch_break = Some((time("12:00"), time("17:00"))), "is not inside the session"),
        (|spec| spec.hours[0].lunch_break = Some((time("13:00"), time("12:00"))), "is not inside the session"),
        (|spec| spec.hours.push(hours("1980-01-01", "09:30", "16:00", None)), "not ordered by effective date"),
        (|spec| spec.hours[0].effective_from = date("1995-01-01"), "after the first session"),
        (|spec| spec.hours.clear(), "no regular hours"),
        (|spec| spec.first_year = 2040, "is after last year"),
        (|spec| spec.first_session = date("2040-01-02"), "after the last year"),
        (
            |spec| {
                spec.weekend = vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ]
            },
            "every day of the week",
        ),
        (|spec| spec.mic = " ".into(), "MIC is empty"),
        // Issue 11: `last_year - first_year` must not wrap into a small span.
        (
            |spec| {
                spec.first_year = -1;
                spec.last_year = i32::MAX;
            },
            "is outside 1..=9999",
        ),
        (
            |spec| {
                spec.first_year = 1;
                spec.last_year = 9999;
            },
            "span more than 200 years",
        ),
        (|spec| spec.weekend = vec![Weekday::Sat; 8], "the weekend lists 8 days"),
    ];
    for (mutate, expected) in cases {
        let mut spec = base();
        mutate(&mut spec);
        match Calendar::new(spec, Box::new(|_| Ok(Vec::new()))) {
            Err(CalendarError::InvalidSpec { reason, .. }) => {
                assert!(reason.contains(expected), "{expected}: {reason}")
            }
            Err(other) => panic!("{expected}: wrong error {other}"),
            Ok(_) => panic!("{expected}: accepted"),
        }
    }
}

#[test]
fn explain_says_which_special_day_and_rule_apply() {
    let new_york = new_york();
    match new_york.explain(date("2021-12-24")).unwrap() {
        DayExplanation::Special { special, session: None, .. } => {
            assert_eq!(special.name, "Christmas Day");
            assert_eq!(special.observed_from, Some(date("2021-12-25")));
            assert_eq!(special.rule, "rule of Christmas Day");
        }
        other => panic!("2021-12-24: {other:?}"),
    }
    match new_york.explain(date("2024-11-29")).unwrap() {
        DayExplanation::Special { special, session: Some(session), hours } => {
            assert_eq!(special.kind, DayKind::EarlyClose(time("13:00")));
            assert_eq!(session.close, utc("2024-11-29T18:00:00Z"));
            assert_eq!(hours.close, time("16:00"));
        }
        other => panic!("2024-11-29: {other:?}"),
    }
    assert!(matches!(new_york.explain(date("2024-03-11")).unwrap(), DayExplanation::Regular { .. }));
    assert_eq!(
        new_york.explain(date("2024-03-09")).unwrap(),
        DayExplanation::Weekend { date: date("2024-03-09"), weekday: Weekday::Sat }
    );
    assert_eq!(new_york.special_days(2024).unwrap().len(), 7);
}

// ---- windows ----------------------------------------------------------------------------

#[test]
fn windows_follow_each_exchanges_dst_and_lunch_break() {
    let (new_york, london, tokyo) = (new_york(), london(), tokyo());
    let window = |start: &str, end: &str| Window { start: utc(start), end: utc(end) };
    // (calendars, from, to, expected windows)
    let cases: Vec<(Vec<&Calendar>, &str, &str, Vec<Window>)> = vec![
        // Both on standard time: London 08:00-16:30Z, New York 14:30-21:00Z.
        (
            vec![&new_york, &london],
            "2024-03-05T00:00:00Z",
            "2024-03-06T00:00:00Z",
            vec![
                window("2024-03-05T00:00:00Z", "2024-03-05T08:00:00Z"),
                window("2024-03-05T21:00:00Z", "2024-03-06T00:00:00Z"),
            ],
        ),
        // US on summer time, UK not yet: New York closes an hour earlier in UTC.
        (
            vec![&new_york, &london],
            "2024-03-12T00:00:00Z",
            "2024-03-13T00:00:00Z",
            vec![
                window("2024-03-12T00:00:00Z", "2024-03-12T08:00:00Z"),
                window("2024-03-12T20:00:00Z", "2024-03-13T00:00:00Z"),
            ],
        ),
        // With Tokyo (00:00-06:00Z, break 02:30-03:30Z): its lunch break is a window too.
        (
            vec![&new_york, &london, &tokyo],
            "2024-03-12T00:00:00Z",
            "2024-03-13T00:00:00Z",
            vec![
                window("2024-03-12T02:30:00Z", "2024-03-12T03:30:00Z"),
                window("2024-03-12T06:00:00Z", "2024-03-12T08:00:00Z"),
                window("2024-03-12T20:00:00Z", "2024-03-13T00:00:00Z"),
            ],
        ),
        // A weekend is one long window, Friday's close to Monday's first open.
        (
            vec![&new_york, &london, &tokyo],
            "2024-03-08T12:00:00Z",
            "2024-03-12T00:00:00Z",
            vec![
                window("2024-03-08T21:00:00Z", "2024-03-11T00:00:00Z"),
                window("2024-03-11T02:30:00Z", "2024-03-11T03:30:00Z"),
                window("2024-03-11T06:00:00Z", "2024-03-11T08:00:00Z"),
                window("2024-03-11T20:00:00Z", "2024-03-12T00:00:00Z"),
            ],
        ),
        (
            vec![],
            "2024-03-08T12:00:00Z",
            "2024-03-09T12:00:00Z",
            vec![window("2024-03-08T12:00:00Z", "2024-03-09T12:00:00Z")],
        ),
        (vec![&new_york], "2024-03-11T14:00:00Z", "2024-03-11T15:00:00Z", vec![]),
    ];
    for (calendars, from, to, expected) in cases {
        let mics: Vec<&str> = calendars.iter().map(|calendar| calendar.mic()).collect();
        assert_eq!(windows(&calendars, utc(from), utc(to)).unwrap(), expected, "{mics:?} {from}..{to}");
    }
}

#[test]
fn windows_that_run_past_the_last_year_are_errors() {
    let new_york = new_york();
    assert!(matches!(
        windows(&[&new_york], utc("2030-12-31T12:00:00Z"), utc("2031-01-05T00:00:00Z")),
        Err(CalendarError::YearOutOfRange { year: 2031, .. })
    ));
}

// ---- properties over pseudo-random calendars ---------------------------------------------

/// xorshift64*: deterministic, no dependency, good enough to spread test cases.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn minute_between(&mut self, low: NaiveTime, high: NaiveTime) -> NaiveTime {
        // Strictly between `low` and `high`, on a whole minute; the caller keeps them at
        // least two minutes apart.
        let span = (high - low).num_minutes() as u64;
        low + TimeDelta::minutes(1 + self.below(span - 1) as i64)
    }
}

/// Timezones with awkward offsets and DST rules: southern-hemisphere DST, half-hour
/// offsets, a DST change at midnight (Sao Paulo until 2019), and +13 (sessions that start
/// on the previous UTC day).
const PROPERTY_TIMEZONES: &[Tz] = &[
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Asia::Tokyo,
    chrono_tz::Australia::Sydney,
    chrono_tz::Pacific::Auckland,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Asia::Kolkata,
    chrono_tz::America::St_Johns,
    chrono_tz::Pacific::Tongatapu,
];

fn random_hours(random: &mut Random, effective_from: NaiveDate) -> RegularHours {
    let open = NaiveTime::from_hms_opt(random.below(11) as u32, 15 * random.below(4) as u32, 0).unwrap();
    let close = open + TimeDelta::minutes(120 + random.below(10 * 60) as i64);
    let close = close.min(time("23:59"));
    let lunch_break = (random.below(2) == 0).then(|| {
        let start = random.minute_between(open, close - TimeDelta::minutes(30));
        (start, random.minute_between(start, close))
    });
    RegularHours { effective_from, open, close, lunch_break }
}

fn random_calendar(seed: u64) -> Calendar {
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let timezone = PROPERTY_TIMEZONES[random.below(PROPERTY_TIMEZONES.len() as u64) as usize];
    let first_session = date("2010-01-01") + TimeDelta::days(random.below(300) as i64);
    let mut hours = vec![random_hours(&mut random, date("2009-06-01"))];
    if random.below(2) == 0 {
        let effective_from = date("2011-03-01") + TimeDelta::days(random.below(500) as i64);
        hours.push(random_hours(&mut random, effective_from));
    }
    let mut weekend = vec![Weekday::Sat, Weekday::Sun];
    if random.below(4) == 0 {
        weekend = vec![Weekday::Fri, Weekday::Sat];
    }
    let spec = CalendarSpec {
        mic: format!("RND{seed}"),
        exchange_name: "random".into(),
        timezone,
        weekend: weekend.clone(),
        first_session,
        first_year: 2009,
        last_year: 2013,
        published_through: 2012,
        hours: hours.clone(),
    };
    let loader_spec = spec.clone();
    let loader: YearLoader = Box::new(move |year| {
        let mut random = Random((seed ^ (year as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut ordinals: Vec<u32> = (0..25).map(|_| 1 + random.below(365) as u32).collect();
        ordinals.sort_unstable();
        ordinals.dedup();
        let mut special_days = Vec::new();
        for ordinal in ordinals {
            let day = NaiveDate::from_yo_opt(year, ordinal).unwrap();
            if loader_spec.weekend.contains(&day.weekday()) {
                continue;
            }
            let regular = hours_on(&loader_spec, day);
            let kind = match random.below(3) {
                0 => DayKind::Closed,
                1 => DayKind::EarlyClose(random.minute_between(regular.open, regular.close)),
                _ => DayKind::LateOpen(random.minute_between(regular.open, regular.close)),
            };
            special_days.push(SpecialDay {
                date: day,
                name: format!("special {day}"),
                kind,
                certainty: Certainty::Projected,
                rule: "random".into(),
                source: "test".into(),
                observed_from: None,
            });
        }
        Ok(special_days)
    });
    Calendar::new(spec, loader).unwrap()
}

/// Trading intervals `[start, end)` of a list of sessions, in order.
fn trading_intervals(sessions: &[Session]) -> Vec<(i64, i64)> {
    let mut intervals = Vec::new();
    for session in sessions {
        match session.lunch_break {
            Some((start, end)) => {
                intervals.push((session.open.timestamp(), start.timestamp()));
                intervals.push((end.timestamp(), session.close.timestamp()));
            }
            None => intervals.push((session.open.timestamp(), session.close.timestamp())),
        }
    }
    intervals
}

#[test]
fn every_query_agrees_with_the_plain_list_of_sessions_on_random_calendars() {
    for seed in 1..=40u64 {
        let calendar = random_calendar(seed);
        let spec = calendar.spec().clone();
        let sessions = calendar.sessions(date("2009-01-01"), date("2013-12-31")).unwrap();
        assert!(!sessions.is_empty(), "seed {seed}");
        for pair in sessions.windows(2) {
            assert!(
                pair[0].close < pair[1].open && pair[0].date < pair[1].date,
                "seed {seed}: {pair:?} overlap or out of order"
            );
        }
        for session in &sessions {
            assert!(session.date >= spec.first_session, "seed {seed}: {session:?} before the first session");
            assert!(!spec.weekend.contains(&session.date.weekday()), "seed {seed}: {session:?} on a weekend");
            assert_eq!(
                session.open.with_timezone(&spec.timezone).date_naive(),
                session.date,
                "seed {seed}: {session:?}"
            );
            assert!(session.open < session.close, "seed {seed}: {session:?}");
            if let Some((start, end)) = session.lunch_break {
                assert!(session.open < start && start < end && end < session.close, "seed {seed}: {session:?}");
            }
        }
        let intervals = trading_intervals(&sessions);

        let mut random = Random(seed | 1);
        let range_start = utc("2009-12-31T00:00:00Z").timestamp();
        let range_end = utc("2013-12-30T00:00:00Z").timestamp();
        let mut instants: Vec<i64> =
            (0..2000).map(|_| range_start + random.below((range_end - range_start) as u64) as i64).collect();
        // Exactly on the boundaries, and one second either side.
        for &(start, end) in intervals.iter().step_by(37) {
            instants.extend([start - 1, start, start + 1, end - 1, end, end + 1]);
        }
        for instant in instants {
            let at = DateTime::from_timestamp(instant, 0).unwrap();
            let inside = intervals.iter().any(|&(start, end)| start <= instant && instant < end);
            assert_eq!(calendar.is_open(at).unwrap(), inside, "seed {seed}: is_open at {at}");

            let expected_open = intervals.iter().map(|&(start, _)| start).find(|&start| start > instant);
            let expected_close = intervals.iter().map(|&(_, end)| end).find(|&end| end > instant);
            let next_open = calendar.next_open(at).ok().map(|next| next.timestamp());
            let next_close = calendar.next_close(at).ok().map(|next| next.timestamp());
            assert_eq!(next_open, expected_open, "seed {seed}: next_open after {at}");
            assert_eq!(next_close, expected_close, "seed {seed}: next_close after {at}");

            match calendar.status(at).unwrap() {
                Status::Open { until } => {
                    assert!(inside, "seed {seed}: status open at {at}");
                    assert_eq!(Some(until.timestamp()), expected_close, "seed {seed}: open until, at {at}");
                }
                Status::Break { until } => {
                    assert!(!inside, "seed {seed}: status break at {at}");
                    assert_eq!(Some(until.timestamp()), expected_open, "seed {seed}: break until, at {at}");
                    let session = sessions.iter().find(|session| session.open <= at && at < session.close);
                    assert!(session.is_some_and(|session| session.lunch_break.is_some()), "seed {seed}: break at {at}");
                }
                Status::Closed { reason, next_open } => {
                    assert!(!inside, "seed {seed}: status closed ({reason}) at {at}");
                    assert_eq!(
                        next_open.map(|next| next.timestamp()),
                        expected_open,
                        "seed {seed}: closed until, at {at}"
                    );
                }
            }
        }
    }
}

#[test]
fn windows_are_exactly_the_times_when_every_calendar_is_closed_on_random_calendars() {
    for seed in 1..=12u64 {
        let calendars = [random_calendar(seed), random_calendar(seed + 100), random_calendar(seed + 200)];
        let references: Vec<&Calendar> = calendars.iter().collect();
        let from = utc("2011-02-01T00:00:00Z");
        let to = utc("2011-03-15T07:30:00Z");
        let found = windows(&references, from, to).unwrap();
        let all_closed = |instant: i64| {
            let at = DateTime::from_timestamp(instant, 0).unwrap();
            references.iter().all(|calendar| !calendar.is_open(at).unwrap())
        };
        let mut previous_end = from.timestamp();
        for window in &found {
            let (start, end) = (window.start.timestamp(), window.end.timestamp());
            assert!(previous_end <= start && start < end, "seed {seed}: {window:?}");
            assert!(all_closed(start) && all_closed(end - 1), "seed {seed}: {window:?} not closed throughout");
            if end < to.timestamp() {
                assert!(!all_closed(end), "seed {seed}: {window:?} ends while all are closed");
            }
            if start > from.timestamp() {
                assert!(!all_closed(start - 1), "seed {seed}: {window:?} starts late");
            }
            previous_end = end;
        }
        // Sampled instants: inside a window exactly when all are closed.
        let mut random = Random(seed);
        for _ in 0..2000 {
            let instant = from.timestamp() + random.below((to - from).num_seconds() as u64) as i64;
            let in_window =
                found.iter().any(|window| window.start.timestamp() <= instant && instant < window.end.timestamp());
            assert_eq!(in_window, all_closed(instant), "seed {seed}: at {instant}");
        }
    }
}
