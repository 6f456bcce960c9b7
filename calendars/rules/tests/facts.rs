//! Every fact in the shared calendar-facts reference, as a table run against the rule
//! sets directly (natively, no wasm), plus session counts per year. The host suite runs
//! the same kind of table through the real wasm plugins and the calendar engine.

use calendar_rules::xetr::Xetr;
use calendar_rules::xlon::Xlon;
use calendar_rules::xnas::Xnas;
use calendar_rules::xnys::Xnys;
use calendar_rules::xtks::Xtks;
use calendar_rules::xtse::Xtse;
use calendar_rules::{CalendarError, Certainty, Date, DayKind, ExchangeCalendar, LocalTime, SpecialDay};

/// What a date should be on an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Closed,
    Regular,
    /// Early close at local HH:MM.
    EarlyClose(u8, u8),
}
use Expect::{Closed, EarlyClose, Regular};

fn calendar(mic: &str) -> Box<dyn ExchangeCalendar> {
    match mic {
        "XNYS" => Box::new(Xnys),
        "XNAS" => Box::new(Xnas),
        "XTKS" => Box::new(Xtks),
        "XLON" => Box::new(Xlon),
        "XETR" => Box::new(Xetr),
        "XTSE" => Box::new(Xtse),
        other => panic!("no calendar {other}"),
    }
}

fn date(text: &str) -> Date {
    let parts: Vec<&str> = text.split('-').collect();
    Date::try_new(parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
        .unwrap_or_else(|| panic!("bad date {text}"))
}

fn special_day(mic: &str, on: Date) -> Option<SpecialDay> {
    let days = calendar(mic).special_days(on.year).expect("year in range");
    days.into_iter().find(|day| day.date == on)
}

fn observed(mic: &str, on: Date) -> Expect {
    assert!(!on.is_weekend(), "{mic} {on}: the table should hold weekdays only");
    match special_day(mic, on).map(|day| day.kind) {
        None => Regular,
        Some(DayKind::Closed) => Closed,
        Some(DayKind::EarlyClose(at)) => EarlyClose(at.hour, at.minute),
        Some(DayKind::LateOpen(at)) => panic!("{mic} {on}: unexpected late open at {at:?}"),
    }
}

/// (MIC, date, expectation, why). NYSE and Nasdaq rows are checked on both exchanges.
#[rustfmt::skip]
const US_FACTS: &[(&str, Expect, &str)] = &[
    ("2010-12-31", Regular, "New Year's Day on a Saturday is not made up on Friday"),
    ("2021-12-31", Regular, "New Year's Day on a Saturday is not made up on Friday"),
    ("2017-01-02", Closed, "New Year's Day on a Sunday moves to Monday"),
    ("2023-01-02", Closed, "New Year's Day on a Sunday moves to Monday"),
    ("2021-06-18", Regular, "no Juneteenth before 2022"),
    ("2022-06-20", Closed, "Juneteenth 2022 (Sunday) observed Monday"),
    ("2027-06-18", Closed, "Juneteenth 2027 (Saturday) observed Friday"),
    ("2026-07-03", Closed, "Independence Day 2026 (Saturday) observed Friday"),
    ("2027-12-24", Closed, "Christmas 2027 (Saturday) observed Friday"),
    ("2021-12-24", Closed, "Christmas 2021 (Saturday) observed Friday"),
    ("2019-07-03", EarlyClose(13, 0), "Wednesday July 3 closes early from 2013"),
    ("2024-07-03", EarlyClose(13, 0), "Wednesday July 3 closes early from 2013"),
    ("2023-07-03", EarlyClose(13, 0), "Monday July 3 closes early"),
    ("2018-07-03", EarlyClose(13, 0), "Tuesday July 3 closes early"),
    ("2025-07-03", EarlyClose(13, 0), "Thursday July 3 closes early"),
    ("2002-07-03", Regular, "Wednesday July 3 was a full day before 2013"),
    ("2002-07-05", EarlyClose(13, 0), "Friday after a Thursday July 4 closed early before 2013"),
    ("2022-07-01", Regular, "no early close before a Monday July 4"),
    ("2024-11-29", EarlyClose(13, 0), "day after Thanksgiving"),
    ("2026-11-27", EarlyClose(13, 0), "day after Thanksgiving"),
    ("2024-12-24", EarlyClose(13, 0), "Christmas Eve on a Tuesday"),
    ("2018-12-24", EarlyClose(13, 0), "Christmas Eve on a Monday"),
    ("2026-12-24", EarlyClose(13, 0), "Christmas Eve on a Thursday"),
    ("2001-09-11", Closed, "September 11 attacks"),
    ("2001-09-12", Closed, "September 11 attacks"),
    ("2001-09-13", Closed, "September 11 attacks"),
    ("2001-09-14", Closed, "September 11 attacks"),
    ("2001-09-17", Regular, "markets reopened on Monday"),
    ("2012-10-29", Closed, "Hurricane Sandy"),
    ("2012-10-30", Closed, "Hurricane Sandy"),
    ("2004-06-11", Closed, "national day of mourning, Reagan"),
    ("2007-01-02", Closed, "national day of mourning, Ford"),
    ("2018-12-05", Closed, "national day of mourning, G. H. W. Bush"),
    ("2025-01-09", Closed, "national day of mourning, Carter"),
    ("2024-03-29", Closed, "Good Friday"),
    ("2000-04-21", Closed, "Good Friday"),
    ("2000-01-17", Closed, "Martin Luther King Day (from 1998)"),
    ("2024-01-15", Closed, "Martin Luther King Day"),
    ("2024-05-27", Closed, "Memorial Day, last Monday of May"),
    ("2024-09-02", Closed, "Labor Day"),
    ("2024-11-28", Closed, "Thanksgiving, fourth Thursday of November"),
    ("2024-03-11", Regular, "a regular day after the US DST change"),
];

#[rustfmt::skip]
const XTKS_FACTS: &[(&str, Expect, &str)] = &[
    ("2024-01-02", Closed, "exchange holiday January 2"),
    ("2024-01-03", Closed, "exchange holiday January 3"),
    ("2024-12-31", Closed, "exchange holiday December 31"),
    ("2020-12-31", Closed, "exchange holiday December 31"),
    ("2025-01-01", Closed, "New Year's Day"),
    ("2024-01-04", Regular, "first trading day 2024, a full day"),
    ("2008-01-04", EarlyClose(11, 0), "first trading day until 2008: morning only"),
    ("2008-12-30", EarlyClose(11, 0), "last trading day until 2008: morning only"),
    ("2003-01-06", EarlyClose(11, 0), "first trading day 2003 (Jan 4-5 weekend): morning only"),
    ("2009-01-05", Regular, "first trading day from 2009: full day"),
    ("2009-12-30", Regular, "last trading day from 2009: full day"),
    ("2024-03-20", Closed, "vernal equinox by formula"),
    ("2025-03-20", Closed, "vernal equinox by formula"),
    ("2023-03-21", Closed, "vernal equinox by formula (21st)"),
    ("2016-03-21", Closed, "vernal equinox on Sunday 20th: substitute Monday"),
    ("2024-09-23", Closed, "autumnal equinox Sunday 22nd: substitute Monday"),
    ("2012-09-21", Regular, "autumnal equinox 2012 was Saturday 22nd"),
    ("2025-09-23", Closed, "autumnal equinox by formula"),
    ("2015-05-06", Closed, "Sunday May 3 from 2007: substitute Wednesday May 6"),
    ("2008-05-06", Closed, "Sunday May 4 (Greenery Day) 2008: substitute Tuesday May 6"),
    ("2003-11-24", Closed, "before 2007 a Sunday holiday moves to the Monday"),
    ("2001-12-24", Closed, "Emperor's Birthday on Sunday: substitute Monday"),
    ("2009-09-22", Closed, "citizens' holiday (Silver Week)"),
    ("2015-09-22", Closed, "citizens' holiday (Silver Week)"),
    ("2026-09-22", Closed, "citizens' holiday (Silver Week)"),
    ("2019-04-30", Closed, "imperial succession"),
    ("2019-05-01", Closed, "imperial succession"),
    ("2019-05-02", Closed, "imperial succession"),
    ("2019-10-22", Closed, "enthronement ceremony"),
    ("2020-07-23", Closed, "Olympics: Marine Day moved"),
    ("2020-07-24", Closed, "Olympics: Sports Day moved"),
    ("2020-08-10", Closed, "Olympics: Mountain Day moved"),
    ("2021-07-22", Closed, "Olympics: Marine Day moved"),
    ("2021-07-23", Closed, "Olympics: Sports Day moved"),
    ("2021-08-09", Closed, "Olympics: Mountain Day (Sunday Aug 8) substitute"),
    ("2020-07-20", Regular, "usual Marine Day 2020 was open"),
    ("2020-08-11", Regular, "usual Mountain Day 2020 was open"),
    ("2020-10-12", Regular, "usual Sports Day 2020 was open"),
    ("2021-07-19", Regular, "usual Marine Day 2021 was open"),
    ("2021-08-11", Regular, "usual Mountain Day 2021 was open"),
    ("2021-10-11", Regular, "usual Sports Day 2021 was open"),
    ("2020-10-01", Closed, "full-day system outage"),
    ("2018-12-24", Closed, "Emperor's Birthday Dec 23 (Sunday) 2018: substitute"),
    ("2015-12-23", Closed, "Emperor's Birthday Dec 23 until 2018"),
    ("2019-12-23", Regular, "no Emperor's Birthday in 2019"),
    ("2019-02-22", Regular, "no Emperor's Birthday in 2019"),
    ("2020-02-24", Closed, "Emperor's Birthday Feb 23 (Sunday) 2020: substitute"),
    ("2021-02-23", Closed, "Emperor's Birthday Feb 23 from 2020"),
    ("2000-01-10", Closed, "Coming of Age Day: second Monday from 2000"),
    ("2000-10-09", Closed, "Health and Sports Day: second Monday from 2000"),
    ("2001-07-20", Closed, "Marine Day July 20 until 2002"),
    ("2003-07-21", Closed, "Marine Day third Monday from 2003"),
    ("2003-07-18", Regular, "Friday before Marine Day 2003"),
    ("2002-09-16", Closed, "Respect for the Aged Day Sunday Sep 15 2002: substitute"),
    ("2003-09-15", Closed, "Respect for the Aged Day third Monday from 2003"),
    ("2006-04-28", Regular, "Greenery Day 2006 was Saturday Apr 29"),
    ("2007-04-30", Closed, "Showa Day (Sunday Apr 29) 2007: substitute"),
    ("2006-05-04", Closed, "May 4 citizens' holiday before 2007"),
    ("2016-08-11", Closed, "Mountain Day from 2016"),
    ("2015-08-11", Regular, "no Mountain Day before 2016"),
    ("2024-11-05", Regular, "first day with the 15:30 close"),
];

#[rustfmt::skip]
const XLON_FACTS: &[(&str, Expect, &str)] = &[
    ("2024-12-24", EarlyClose(12, 30), "Christmas Eve"),
    ("2024-12-31", EarlyClose(12, 30), "New Year's Eve"),
    ("2022-12-23", EarlyClose(12, 30), "Christmas Eve on Saturday: Friday before"),
    ("2022-12-30", EarlyClose(12, 30), "New Year's Eve on Saturday: Friday before"),
    ("2023-12-22", EarlyClose(12, 30), "Christmas Eve on Sunday: Friday before"),
    ("2023-12-29", EarlyClose(12, 30), "New Year's Eve on Sunday: Friday before"),
    ("2021-12-27", Closed, "Christmas on Saturday: Monday"),
    ("2021-12-28", Closed, "Boxing Day on Sunday: Tuesday"),
    ("2022-12-26", Closed, "Boxing Day"),
    ("2022-12-27", Closed, "Christmas on Sunday: Tuesday"),
    ("2020-12-28", Closed, "Boxing Day on Saturday: Monday"),
    ("2022-01-03", Closed, "New Year's Day on Saturday: Monday"),
    ("2020-05-08", Closed, "early May bank holiday moved to VE Day"),
    ("2020-05-04", Regular, "usual early May bank holiday 2020 was open"),
    ("2002-06-03", Closed, "Golden Jubilee"),
    ("2002-06-04", Closed, "spring bank holiday moved for the Golden Jubilee"),
    ("2002-05-27", Regular, "usual spring bank holiday 2002 was open"),
    ("2012-06-04", Closed, "spring bank holiday moved for the Diamond Jubilee"),
    ("2012-06-05", Closed, "Diamond Jubilee"),
    ("2012-05-28", Regular, "usual spring bank holiday 2012 was open"),
    ("2022-06-02", Closed, "spring bank holiday moved for the Platinum Jubilee"),
    ("2022-06-03", Closed, "Platinum Jubilee"),
    ("2022-05-30", Regular, "usual spring bank holiday 2022 was open"),
    ("2011-04-29", Closed, "royal wedding"),
    ("2022-09-19", Closed, "state funeral"),
    ("2023-05-08", Closed, "coronation"),
    ("2023-05-01", Closed, "early May bank holiday 2023"),
    ("2024-03-29", Closed, "Good Friday"),
    ("2024-04-01", Closed, "Easter Monday"),
    ("2024-08-26", Closed, "summer bank holiday"),
];

#[rustfmt::skip]
const XETR_FACTS: &[(&str, Expect, &str)] = &[
    ("2024-12-24", Closed, "Christmas Eve closed every year"),
    ("2024-12-31", Closed, "New Year's Eve closed every year"),
    ("1997-12-24", Closed, "Christmas Eve in Xetra's first year"),
    ("1999-12-31", Closed, "New Year's Eve"),
    ("2015-05-25", Closed, "Whit Monday closed 2015-2021"),
    ("2021-05-24", Closed, "Whit Monday closed 2015-2021"),
    ("2007-05-28", Closed, "Whit Monday 2007 one-off"),
    ("2008-05-12", Regular, "Whit Monday traded outside 2015-2021"),
    ("2014-06-09", Regular, "Whit Monday traded outside 2015-2021"),
    ("2022-06-06", Regular, "Whit Monday traded again from 2022"),
    ("2016-10-03", Closed, "German Unity Day closed 2015-2021"),
    ("2019-10-03", Closed, "German Unity Day closed 2015-2021"),
    ("2014-10-03", Regular, "German Unity Day traded before 2015"),
    ("2022-10-03", Regular, "German Unity Day traded again from 2022"),
    ("2017-10-31", Closed, "Reformation Day 500th anniversary"),
    ("2018-10-31", Regular, "Reformation Day only closed in 2017"),
    ("2024-05-01", Closed, "Labour Day"),
    ("2024-03-29", Closed, "Good Friday"),
    ("2024-04-01", Closed, "Easter Monday"),
    ("2024-12-25", Closed, "Christmas Day"),
    ("2024-12-26", Closed, "Boxing Day"),
    ("2025-01-01", Closed, "New Year's Day"),
    ("2024-05-09", Regular, "Ascension Day is a trading day"),
    ("2024-05-30", Regular, "Corpus Christi is a trading day"),
    ("2012-12-28", EarlyClose(14, 0), "last trading day before Dec 31"),
    ("2021-12-30", EarlyClose(14, 0), "last trading day before Dec 31"),
    ("2017-12-29", EarlyClose(14, 0), "last trading day before Dec 31 (Dec 30 Saturday)"),
    ("2024-12-30", EarlyClose(14, 0), "last trading day before Dec 31"),
    ("1997-11-28", Regular, "Xetra's first session"),
];

fn check_table(mic: &str, facts: &[(&str, Expect, &str)]) {
    let mut failures = Vec::new();
    for &(text, expected, why) in facts {
        let on = date(text);
        let actual = observed(mic, on);
        if actual != expected {
            failures.push(format!("{mic} {text}: expected {expected:?}, got {actual:?} ({why})"));
        }
    }
    assert!(failures.is_empty(), "{} facts failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn nyse_matches_every_reference_fact() {
    check_table("XNYS", US_FACTS);
}

#[test]
fn nasdaq_matches_every_reference_fact() {
    check_table("XNAS", US_FACTS);
}

#[test]
fn tokyo_matches_every_reference_fact() {
    check_table("XTKS", XTKS_FACTS);
}

#[test]
fn london_matches_every_reference_fact() {
    check_table("XLON", XLON_FACTS);
}

#[test]
fn xetra_matches_every_reference_fact() {
    check_table("XETR", XETR_FACTS);
}

/// (MIC, date, hours expected on that date: open, close, lunch break).
type HoursFact = (&'static str, &'static str, (u8, u8), (u8, u8), Option<((u8, u8), (u8, u8))>);
#[rustfmt::skip]
const HOURS_FACTS: &[HoursFact] = &[
    ("XNYS", "2024-03-11", (9, 30), (16, 0), None),
    ("XNAS", "2000-01-03", (9, 30), (16, 0), None),
    ("XTKS", "2011-11-18", (9, 0), (15, 0), Some(((11, 0), (12, 30)))),
    ("XTKS", "2011-11-21", (9, 0), (15, 0), Some(((11, 30), (12, 30)))),
    ("XTKS", "2024-11-01", (9, 0), (15, 0), Some(((11, 30), (12, 30)))),
    ("XTKS", "2024-11-05", (9, 0), (15, 30), Some(((11, 30), (12, 30)))),
    ("XLON", "2024-03-29", (8, 0), (16, 30), None),
    ("XETR", "1997-11-28", (8, 30), (17, 0), None),
    ("XETR", "2001-06-01", (9, 0), (20, 0), None),
    ("XETR", "2003-11-03", (9, 0), (17, 30), None),
    ("XETR", "2024-03-11", (9, 0), (17, 30), None),
];

#[test]
fn regular_hours_in_force_match_the_reference() {
    for &(mic, text, open, close, lunch_break) in HOURS_FACTS {
        let on = date(text);
        let info = calendar(mic).info();
        let hours = info
            .hours
            .iter()
            .rev()
            .find(|hours| hours.effective_from <= on)
            .unwrap_or_else(|| panic!("{mic} {text}: no hours in force"));
        let time = |(hour, minute): (u8, u8)| LocalTime::new(hour, minute);
        assert_eq!(hours.open, time(open), "{mic} {text} open");
        assert_eq!(hours.close, time(close), "{mic} {text} close");
        assert_eq!(hours.lunch_break, lunch_break.map(|(start, end)| (time(start), time(end))), "{mic} {text} break");
    }
}

#[test]
fn every_calendar_starts_its_hours_by_its_first_session() {
    for mic in ["XNYS", "XNAS", "XTKS", "XLON", "XETR", "XTSE"] {
        let info = calendar(mic).info();
        assert!(info.hours[0].effective_from <= info.first_session, "{mic}");
        assert!(info.hours.windows(2).all(|pair| pair[0].effective_from < pair[1].effective_from), "{mic}");
        assert_eq!(info.first_session.year, info.first_year, "{mic}");
        assert!(!info.first_session.is_weekend(), "{mic}");
        assert!(observed(mic, info.first_session) != Closed, "{mic} first session is closed");
    }
}

#[test]
fn xetra_starts_at_its_launch() {
    let info = Xetr.info();
    assert_eq!(info.first_session, Date::new(1997, 11, 28));
    assert_eq!(info.first_year, 1997);
    assert!(Xetr.special_days(1997).unwrap().iter().all(|day| day.date >= info.first_session));
}

#[test]
fn years_outside_the_range_are_refused() {
    let cases: &[(&str, i32)] = &[
        ("XNYS", 1999),
        ("XNYS", 2100),
        ("XNAS", 1999),
        ("XTKS", 1999),
        ("XTKS", 2100),
        // 1995-05-08 (VE Day 50th) and 1999-12-31 (millennium) are London facts from
        // before the supported range; the calendar refuses rather than guesses.
        ("XLON", 1995),
        ("XLON", 1999),
        ("XETR", 1996),
        // Toronto starts in 2010, the first year its Christmas Eve early close is
        // documented.
        ("XTSE", 2009),
        ("XTSE", 2100),
        ("XETR", 2100),
    ];
    for &(mic, year) in cases {
        assert_eq!(calendar(mic).special_days(year), Err(CalendarError::YearOutOfRange(year)), "{mic} {year}");
    }
}

#[test]
fn every_year_is_ordered_weekday_only_one_per_date_and_certain_up_to_publication() {
    for mic in ["XNYS", "XNAS", "XTKS", "XLON", "XETR", "XTSE"] {
        let exchange = calendar(mic);
        let info = exchange.info();
        for year in info.first_year..=info.last_year {
            let days = exchange.special_days(year).unwrap();
            assert!(days.windows(2).all(|pair| pair[0].date < pair[1].date), "{mic} {year} order");
            for day in &days {
                assert_eq!(day.date.year, year, "{mic} {}", day.date);
                assert!(!day.date.is_weekend(), "{mic} {} is a weekend", day.date);
                assert!(!day.name.is_empty() && !day.rule.is_empty() && !day.source.is_empty());
                let expected_certainty =
                    if year <= info.published_through { Certainty::Official } else { Certainty::Projected };
                assert_eq!(day.certainty, expected_certainty, "{mic} {}", day.date);
                if let DayKind::EarlyClose(at) = day.kind {
                    let hours = info.hours.iter().rev().find(|hours| hours.effective_from <= day.date).unwrap();
                    assert!(at > hours.open && at < hours.close, "{mic} {} early close {at:?}", day.date);
                }
            }
        }
    }
}

fn sessions_in_year(mic: &str, year: i32) -> usize {
    let closed: Vec<Date> = calendar(mic)
        .special_days(year)
        .unwrap()
        .into_iter()
        .filter(|day| day.kind == DayKind::Closed)
        .map(|day| day.date)
        .collect();
    let mut count = 0;
    let mut on = Date::new(year, 1, 1);
    while on.year == year {
        if !on.is_weekend() && !closed.contains(&on) {
            count += 1;
        }
        on = on.next_day();
    }
    count
}

/// Sessions per year, each justified from the exchange's published holiday list.
#[rustfmt::skip]
const SESSION_COUNTS: &[(&str, i32, usize, &str)] = &[
    // NYSE/Nasdaq: weekdays minus holidays.
    ("XNYS", 2012, 250, "261 weekdays - 9 holidays - 2 Sandy days"),
    ("XNYS", 2016, 252, "261 weekdays - 9 holidays"),
    ("XNYS", 2018, 251, "261 weekdays - 9 holidays - Bush mourning day"),
    ("XNYS", 2020, 253, "262 weekdays - 9 holidays"),
    ("XNYS", 2021, 252, "261 weekdays - 9 holidays (Dec 24 for Christmas)"),
    ("XNYS", 2022, 251, "260 weekdays - 9 holidays (New Year on Saturday not made up)"),
    ("XNYS", 2023, 250, "260 weekdays - 10 holidays"),
    ("XNYS", 2024, 252, "262 weekdays - 10 holidays"),
    ("XNYS", 2025, 250, "261 weekdays - 10 holidays - Carter mourning day"),
    ("XNYS", 2026, 251, "261 weekdays - 10 holidays"),
    ("XNAS", 2024, 252, "same days as the NYSE"),
    ("XNAS", 2025, 250, "same days as the NYSE"),
    // Tokyo: JPX's published trading-day counts.
    ("XTKS", 2019, 241, "ten-day Golden Week of the succession"),
    ("XTKS", 2023, 246, "JPX 2023"),
    ("XTKS", 2024, 245, "JPX 2024"),
    // London: weekdays minus the eight England and Wales bank holidays (New Year,
    // Good Friday, Easter Monday, early May, spring, summer, Christmas, Boxing Day, all
    // on weekdays once moved) and the one-offs of the year.
    ("XLON", 2020, 254, "262 weekdays - 8 bank holidays (early May on VE Day)"),
    ("XLON", 2022, 250, "260 weekdays - 8 bank holidays - jubilee day - state funeral"),
    ("XLON", 2023, 251, "260 weekdays - 8 bank holidays - coronation"),
    ("XLON", 2024, 254, "262 weekdays - 8 bank holidays"),
    // Xetra: weekdays minus its closing days.
    ("XETR", 2019, 251, "261 weekdays - 10 closing days (incl. Whit Monday, Oct 3)"),
    ("XETR", 2023, 255, "260 weekdays - 5 closing days (Jan 1, Dec 24, Dec 31 on Sundays)"),
    ("XETR", 2024, 254, "262 weekdays - 8 closing days"),
    ("XTSE", 2022, 250, "260 weekdays - 10 holidays (Jan 3, Dec 26 and 27 in lieu)"),
    ("XTSE", 2023, 250, "260 weekdays - 10 holidays (Jan 2 and Jul 3 in lieu)"),
    ("XTSE", 2024, 252, "262 weekdays - 10 holidays, all on weekdays"),
];

#[test]
fn session_counts_match_published_calendars() {
    let mut failures = Vec::new();
    for &(mic, year, expected, why) in SESSION_COUNTS {
        let actual = sessions_in_year(mic, year);
        if actual != expected {
            failures.push(format!("{mic} {year}: expected {expected} sessions, got {actual} ({why})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
