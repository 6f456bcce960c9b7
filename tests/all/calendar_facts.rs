//! Every fact of the shared calendar-facts reference, checked end to end: the built-in
//! wasm calendar plugins (calendars/*), loaded by the real plugin runtime, turned into
//! UTC sessions by the calendar engine, and read back in exchange-local time. Plus the
//! number of sessions per year, each justified from the exchange's holiday list.

use std::sync::LazyLock;

use chrono::NaiveDate;
use tickstock::calendar::{Calendar, CalendarError, Certainty, DayExplanation, Session};
use tickstock::exchanges::Exchanges;

/// Loading the built-ins compiles every plugin; do it once for the whole module.
static EXCHANGES: LazyLock<Exchanges> = LazyLock::new(|| Exchanges::builtin().expect("the built-in plugins load"));

fn calendar(mic: &str) -> std::sync::Arc<Calendar> {
    EXCHANGES.calendar(mic).unwrap_or_else(|error| panic!("{mic}: {error:#}"))
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| panic!("bad date {text}"))
}

/// What the exchange does on a date, in exchange-local wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Closed,
    Session { open: &'static str, close: &'static str, lunch_break: Option<(&'static str, &'static str)> },
}
use Expect::Closed;

const fn open(open: &'static str, close: &'static str) -> Expect {
    Expect::Session { open, close, lunch_break: None }
}

const fn with_break(open: &'static str, close: &'static str, start: &'static str, end: &'static str) -> Expect {
    Expect::Session { open, close, lunch_break: Some((start, end)) }
}

const NEW_YORK: Expect = open("09:30", "16:00");
const NEW_YORK_EARLY: Expect = open("09:30", "13:00");
const TOKYO_UNTIL_2011: Expect = with_break("09:00", "15:00", "11:00", "12:30");
const TOKYO_FROM_2011: Expect = with_break("09:00", "15:00", "11:30", "12:30");
const TOKYO_FROM_2024: Expect = with_break("09:00", "15:30", "11:30", "12:30");
/// Morning session only: the host drops the afternoon and the break.
const TOKYO_MORNING_ONLY: Expect = open("09:00", "11:00");
const LONDON: Expect = open("08:00", "16:30");
const LONDON_EARLY: Expect = open("08:00", "12:30");
const XETRA: Expect = open("09:00", "17:30");
const XETRA_EARLY: Expect = open("09:00", "14:00");
const XETRA_AT_LAUNCH: Expect = open("08:30", "17:00");
const XETRA_EVENING_HOURS: Expect = open("09:00", "20:00");
const TORONTO: Expect = open("09:30", "16:00");
const TORONTO_EARLY: Expect = open("09:30", "13:00");

/// "US" rows are checked on both XNYS and XNAS, which share a holiday calendar.
#[rustfmt::skip]
const FACTS: &[(&str, &str, Expect, &str)] = &[
    // NYSE and Nasdaq.
    ("US", "2024-03-11", NEW_YORK, "regular hours 09:30-16:00"),
    ("US", "2010-12-31", NEW_YORK, "New Year's Day on Saturday is not made up on Friday"),
    ("US", "2021-12-31", NEW_YORK, "New Year's Day on Saturday is not made up on Friday"),
    ("US", "2017-01-02", Closed, "New Year's Day on Sunday moves to Monday"),
    ("US", "2023-01-02", Closed, "New Year's Day on Sunday moves to Monday"),
    ("US", "2021-06-18", NEW_YORK, "no Juneteenth before 2022"),
    ("US", "2022-06-20", Closed, "Juneteenth (Sunday) observed Monday"),
    ("US", "2027-06-18", Closed, "Juneteenth (Saturday) observed Friday"),
    ("US", "2026-07-03", Closed, "Independence Day (Saturday) observed Friday"),
    ("US", "2027-12-24", Closed, "Christmas (Saturday) observed Friday"),
    ("US", "2019-07-03", NEW_YORK_EARLY, "Wednesday July 3 closes early from 2013"),
    ("US", "2024-07-03", NEW_YORK_EARLY, "Wednesday July 3 closes early from 2013"),
    ("US", "2023-07-03", NEW_YORK_EARLY, "Monday July 3 closes early"),
    ("US", "2018-07-03", NEW_YORK_EARLY, "Tuesday July 3 closes early"),
    ("US", "2025-07-03", NEW_YORK_EARLY, "Thursday July 3 closes early"),
    ("US", "2002-07-03", NEW_YORK, "Wednesday July 3 was a full day before 2013"),
    ("US", "2002-07-05", NEW_YORK_EARLY, "Friday after a Thursday July 4, before 2013"),
    ("US", "2024-11-29", NEW_YORK_EARLY, "day after Thanksgiving"),
    ("US", "2024-12-24", NEW_YORK_EARLY, "Christmas Eve on a Tuesday"),
    ("US", "2018-12-24", NEW_YORK_EARLY, "Christmas Eve on a Monday"),
    ("US", "2026-12-24", NEW_YORK_EARLY, "Christmas Eve on a Thursday"),
    ("US", "2001-09-11", Closed, "September 11 attacks"),
    ("US", "2001-09-12", Closed, "September 11 attacks"),
    ("US", "2001-09-13", Closed, "September 11 attacks"),
    ("US", "2001-09-14", Closed, "September 11 attacks"),
    ("US", "2012-10-29", Closed, "Hurricane Sandy"),
    ("US", "2012-10-30", Closed, "Hurricane Sandy"),
    ("US", "2004-06-11", Closed, "national day of mourning, Reagan"),
    ("US", "2007-01-02", Closed, "national day of mourning, Ford"),
    ("US", "2018-12-05", Closed, "national day of mourning, G. H. W. Bush"),
    ("US", "2025-01-09", Closed, "national day of mourning, Carter"),
    ("US", "2024-03-29", Closed, "Good Friday"),
    ("US", "2000-01-17", Closed, "Martin Luther King Day"),
    // Tokyo.
    ("XTKS", "2011-11-18", TOKYO_UNTIL_2011, "morning session until 11:00"),
    ("XTKS", "2011-11-21", TOKYO_FROM_2011, "break 11:30-12:30 from 2011-11-21"),
    ("XTKS", "2024-11-01", TOKYO_FROM_2011, "close 15:00 before 2024-11-05"),
    ("XTKS", "2024-11-05", TOKYO_FROM_2024, "close 15:30 from 2024-11-05"),
    ("XTKS", "2024-01-02", Closed, "January 2 exchange holiday"),
    ("XTKS", "2024-01-03", Closed, "January 3 exchange holiday"),
    ("XTKS", "2024-12-31", Closed, "December 31 exchange holiday"),
    ("XTKS", "2025-01-01", Closed, "New Year's Day"),
    ("XTKS", "2024-01-04", TOKYO_FROM_2011, "first trading day from 2009: full day"),
    ("XTKS", "2008-01-04", TOKYO_MORNING_ONLY, "first trading day until 2008: morning only"),
    ("XTKS", "2008-12-30", TOKYO_MORNING_ONLY, "last trading day until 2008: morning only"),
    ("XTKS", "2009-12-30", TOKYO_UNTIL_2011, "last trading day from 2009: full day"),
    ("XTKS", "2024-03-20", Closed, "vernal equinox by formula"),
    ("XTKS", "2023-03-21", Closed, "vernal equinox by formula"),
    ("XTKS", "2024-09-23", Closed, "autumnal equinox (Sunday 22nd): substitute Monday"),
    ("XTKS", "2025-09-23", Closed, "autumnal equinox by formula"),
    ("XTKS", "2015-05-06", Closed, "Sunday May 3: substitute Wednesday May 6 (from 2007)"),
    ("XTKS", "2003-11-24", Closed, "before 2007 a Sunday holiday moves to the Monday"),
    ("XTKS", "2009-09-22", Closed, "citizens' holiday"),
    ("XTKS", "2015-09-22", Closed, "citizens' holiday"),
    ("XTKS", "2026-09-22", Closed, "citizens' holiday"),
    ("XTKS", "2019-04-30", Closed, "imperial succession"),
    ("XTKS", "2019-05-01", Closed, "imperial succession"),
    ("XTKS", "2019-05-02", Closed, "imperial succession"),
    ("XTKS", "2019-10-22", Closed, "enthronement ceremony"),
    ("XTKS", "2020-07-23", Closed, "Olympics: Marine Day moved"),
    ("XTKS", "2020-07-24", Closed, "Olympics: Sports Day moved"),
    ("XTKS", "2020-08-10", Closed, "Olympics: Mountain Day moved"),
    ("XTKS", "2021-07-22", Closed, "Olympics: Marine Day moved"),
    ("XTKS", "2021-07-23", Closed, "Olympics: Sports Day moved"),
    ("XTKS", "2021-08-09", Closed, "Olympics: Mountain Day (Sunday) substitute"),
    ("XTKS", "2020-07-20", TOKYO_FROM_2011, "usual Marine Day 2020 was open"),
    ("XTKS", "2020-08-11", TOKYO_FROM_2011, "usual Mountain Day 2020 was open"),
    ("XTKS", "2020-10-12", TOKYO_FROM_2011, "usual Sports Day 2020 was open"),
    ("XTKS", "2021-07-19", TOKYO_FROM_2011, "usual Marine Day 2021 was open"),
    ("XTKS", "2021-08-11", TOKYO_FROM_2011, "usual Mountain Day 2021 was open"),
    ("XTKS", "2021-10-11", TOKYO_FROM_2011, "usual Sports Day 2021 was open"),
    ("XTKS", "2020-10-01", Closed, "full-day system outage"),
    ("XTKS", "2015-12-23", Closed, "Emperor's Birthday December 23 until 2018"),
    ("XTKS", "2018-12-24", Closed, "Emperor's Birthday (Sunday) 2018: substitute"),
    ("XTKS", "2019-12-23", TOKYO_FROM_2011, "no Emperor's Birthday in 2019"),
    ("XTKS", "2021-02-23", Closed, "Emperor's Birthday February 23 from 2020"),
    ("XTKS", "2000-01-10", Closed, "Coming of Age Day: second Monday from 2000"),
    ("XTKS", "2003-07-21", Closed, "Marine Day: third Monday from 2003"),
    ("XTKS", "2007-04-30", Closed, "Showa Day (Sunday) 2007: substitute"),
    ("XTKS", "2016-08-11", Closed, "Mountain Day from 2016"),
    ("XTKS", "2015-08-11", TOKYO_FROM_2011, "no Mountain Day before 2016"),
    // London.
    ("XLON", "2024-03-28", LONDON, "regular hours 08:00-16:30"),
    ("XLON", "2024-12-24", LONDON_EARLY, "Christmas Eve"),
    ("XLON", "2024-12-31", LONDON_EARLY, "New Year's Eve"),
    ("XLON", "2022-12-23", LONDON_EARLY, "Christmas Eve on Saturday: Friday before"),
    ("XLON", "2022-12-30", LONDON_EARLY, "New Year's Eve on Saturday: Friday before"),
    ("XLON", "2021-12-27", Closed, "Christmas on Saturday: Monday"),
    ("XLON", "2021-12-28", Closed, "Boxing Day on Sunday: Tuesday"),
    ("XLON", "2020-05-08", Closed, "early May bank holiday moved to VE Day"),
    ("XLON", "2020-05-04", LONDON, "usual early May bank holiday 2020 was open"),
    ("XLON", "2002-06-03", Closed, "Golden Jubilee"),
    ("XLON", "2002-06-04", Closed, "Golden Jubilee"),
    ("XLON", "2012-06-04", Closed, "Diamond Jubilee"),
    ("XLON", "2012-06-05", Closed, "Diamond Jubilee"),
    ("XLON", "2022-06-02", Closed, "Platinum Jubilee"),
    ("XLON", "2022-06-03", Closed, "Platinum Jubilee"),
    ("XLON", "2022-05-30", LONDON, "usual spring bank holiday 2022 was open"),
    ("XLON", "2011-04-29", Closed, "royal wedding"),
    ("XLON", "2022-09-19", Closed, "state funeral"),
    ("XLON", "2023-05-08", Closed, "coronation"),
    // Xetra.
    ("XETR", "1997-11-28", XETRA_AT_LAUNCH, "Xetra's first session, 08:30-17:00"),
    ("XETR", "2001-06-01", XETRA_EVENING_HOURS, "evening trading to 20:00, 2000-2003"),
    ("XETR", "2003-11-03", XETRA, "09:00-17:30 from 2003-11-03"),
    ("XETR", "2024-03-11", XETRA, "regular hours 09:00-17:30"),
    ("XETR", "2024-12-24", Closed, "Christmas Eve closed every year"),
    ("XETR", "2024-12-31", Closed, "New Year's Eve closed every year"),
    ("XETR", "2015-05-25", Closed, "Whit Monday closed 2015-2021"),
    ("XETR", "2021-05-24", Closed, "Whit Monday closed 2015-2021"),
    ("XETR", "2007-05-28", Closed, "Whit Monday 2007"),
    ("XETR", "2022-06-06", XETRA, "Whit Monday traded from 2022"),
    ("XETR", "2014-06-09", XETRA, "Whit Monday traded before 2015"),
    ("XETR", "2016-10-03", Closed, "German Unity Day closed 2015-2021"),
    ("XETR", "2022-10-03", XETRA, "German Unity Day traded from 2022"),
    ("XETR", "2017-10-31", Closed, "Reformation Day 2017"),
    ("XETR", "2024-05-01", Closed, "Labour Day"),
    ("XETR", "2024-03-29", Closed, "Good Friday"),
    ("XETR", "2024-04-01", Closed, "Easter Monday"),
    ("XETR", "2024-12-25", Closed, "Christmas Day"),
    ("XETR", "2024-12-26", Closed, "Boxing Day"),
    ("XETR", "2025-01-01", Closed, "New Year's Day"),
    ("XETR", "2024-05-09", XETRA, "Ascension Day is a trading day"),
    ("XETR", "2012-12-28", XETRA_EARLY, "last trading day before December 31"),
    ("XETR", "2021-12-30", XETRA_EARLY, "last trading day before December 31"),
    // Toronto. Sources: TMX Group's trading calendar and its December "Holiday Operating
    // Schedule" notices (2020, 2021, 2023, 2024, 2025).
    ("XTSE", "2024-03-11", TORONTO, "regular hours 09:30-16:00"),
    ("XTSE", "2022-01-03", Closed, "New Year's Day on Saturday: Monday (TMX notice 2021-11-30)"),
    ("XTSE", "2021-12-31", TORONTO, "New Year's Eve is a full day, not made up on Friday"),
    ("XTSE", "2024-12-31", TORONTO, "New Year's Eve is a full day (TMX notice 2024-12-02)"),
    ("XTSE", "2023-01-02", Closed, "New Year's Day on Sunday: Monday"),
    ("XTSE", "2024-02-19", Closed, "Family Day, third Monday of February"),
    ("XTSE", "2024-02-20", TORONTO, "the day after Family Day"),
    ("XTSE", "2024-03-29", Closed, "Good Friday"),
    ("XTSE", "2024-04-01", TORONTO, "Easter Monday is a trading day"),
    ("XTSE", "2024-05-20", Closed, "Victoria Day, Monday before May 25"),
    ("XTSE", "2021-05-24", Closed, "Victoria Day on May 24 itself"),
    ("XTSE", "2024-07-01", Closed, "Canada Day"),
    ("XTSE", "2023-07-03", Closed, "Canada Day on Saturday: Monday"),
    ("XTSE", "2018-07-02", Closed, "Canada Day on Sunday: Monday"),
    ("XTSE", "2024-08-05", Closed, "Civic Holiday, first Monday of August"),
    ("XTSE", "2024-09-02", Closed, "Labour Day"),
    ("XTSE", "2024-09-30", TORONTO, "National Day for Truth and Reconciliation is not a TSX holiday"),
    ("XTSE", "2024-10-14", Closed, "Thanksgiving, second Monday of October"),
    ("XTSE", "2024-11-11", TORONTO, "Remembrance Day: equities trade"),
    ("XTSE", "2022-09-19", TORONTO, "Queen Elizabeth II's funeral: federal holiday, TSX traded"),
    ("XTSE", "2024-12-24", TORONTO_EARLY, "Christmas Eve on a weekday: open until 13:00"),
    ("XTSE", "2020-12-24", TORONTO_EARLY, "Christmas Eve (TMX notice 2020-11-24)"),
    ("XTSE", "2023-12-22", TORONTO, "Christmas Eve on Sunday: no early close on Friday"),
    ("XTSE", "2020-12-28", Closed, "Boxing Day on Saturday: Monday (TMX notice 2020-11-24)"),
    ("XTSE", "2021-12-27", Closed, "Christmas on Saturday: Monday (TMX notice 2021-11-30)"),
    ("XTSE", "2021-12-28", Closed, "Boxing Day on Sunday: Tuesday (TMX notice 2021-11-30)"),
    ("XTSE", "2022-12-26", Closed, "Boxing Day"),
    ("XTSE", "2022-12-27", Closed, "Christmas on Sunday: Tuesday"),
    ("XTSE", "2025-12-26", Closed, "Boxing Day (TMX notice 2025-12-03)"),
];

fn local(calendar: &Calendar, instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.with_timezone(&calendar.spec().timezone).format("%H:%M").to_string()
}

impl Expect {
    /// A readable form, compared with what the engine answers.
    fn describe(self) -> String {
        match self {
            Closed => "closed".into(),
            Expect::Session { open, close, lunch_break: None } => format!("{open}-{close}"),
            Expect::Session { open, close, lunch_break: Some((start, end)) } => {
                format!("{open}-{close} break {start}-{end}")
            }
        }
    }
}

/// The engine's answer in the same form as `Expect::describe`, in exchange-local time.
fn describe_session(calendar: &Calendar, session: Option<Session>) -> String {
    let Some(session) = session else {
        return "closed".into();
    };
    let hours = format!("{}-{}", local(calendar, session.open), local(calendar, session.close));
    match session.lunch_break {
        None => hours,
        Some((start, end)) => format!("{hours} break {}-{}", local(calendar, start), local(calendar, end)),
    }
}

#[test]
fn builtin_calendars_match_every_reference_fact() {
    let mut failures = Vec::new();
    for &(market, text, expected, why) in FACTS {
        let mics: &[&str] = if market == "US" { &["XNYS", "XNAS"] } else { &[market] };
        for mic in mics {
            let calendar = calendar(mic);
            let actual = match calendar.session_on(date(text)) {
                Ok(session) => describe_session(&calendar, session),
                Err(error) => {
                    failures.push(format!("{mic} {text}: {error} ({why})"));
                    continue;
                }
            };
            if actual != expected.describe() {
                failures.push(format!("{mic} {text}: expected {}, got {actual} ({why})", expected.describe()));
            }
        }
    }
    assert!(failures.is_empty(), "{} facts failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn dst_changes_move_the_utc_open_but_not_the_local_one() {
    // (MIC, date, UTC open): the US changed on 2024-03-10, Europe on 2024-03-31.
    let cases = [
        ("XNYS", "2024-03-08", "14:30"),
        ("XNYS", "2024-03-11", "13:30"),
        ("XLON", "2024-03-28", "08:00"),
        ("XLON", "2024-04-02", "07:00"),
        ("XETR", "2024-03-28", "08:00"),
        ("XETR", "2024-04-02", "07:00"),
        // Toronto follows the US DST dates.
        ("XTSE", "2024-03-08", "14:30"),
        ("XTSE", "2024-03-11", "13:30"),
        // Tokyo has no DST.
        ("XTKS", "2024-03-08", "00:00"),
    ];
    for (mic, text, utc_open) in cases {
        let session = calendar(mic).session_on(date(text)).unwrap().expect("a session");
        assert_eq!(session.open.format("%H:%M").to_string(), utc_open, "{mic} {text}");
    }
}

#[test]
fn years_after_a_calendar_ends_are_refused_not_guessed() {
    for (mic, text) in [("XNYS", "2100-01-04"), ("XTKS", "2100-01-04"), ("XETR", "2100-01-04"), ("XTSE", "2100-01-04")]
    {
        match calendar(mic).session_on(date(text)) {
            Err(CalendarError::YearOutOfRange { .. }) => {}
            other => panic!("{mic} {text}: expected year out of range, got {other:?}"),
        }
    }
}

#[test]
fn dates_before_a_calendar_begins_never_get_a_session_or_a_holiday() {
    // The London, New York and Tokyo calendars start in 2000 (London's 08:00 open dates
    // from an unconfirmed day in 1999), so the London facts 1995-05-08 (VE Day 50th) and
    // 1999-12-31 (millennium) predate them. The engine answers dates before a calendar's
    // `first-session` as "before the first session" and years before `first-year` as out
    // of range; either way nothing is made up.
    for (mic, text) in [
        ("XLON", "1995-05-08"),
        ("XLON", "1999-12-31"),
        ("XNYS", "1999-12-31"),
        ("XETR", "1997-11-27"),
        // Toronto starts in 2010, the first year its Christmas Eve early close is
        // documented.
        ("XTSE", "2009-12-24"),
    ] {
        match calendar(mic).explain(date(text)) {
            Ok(DayExplanation::BeforeFirstSession { .. }) | Err(CalendarError::YearOutOfRange { .. }) => {}
            other => panic!("{mic} {text}: expected no answer from the calendar, got {other:?}"),
        }
    }
}

#[test]
fn special_days_carry_names_sources_and_certainty() {
    // (MIC, date, part of the name, certainty, observed-from).
    let cases = [
        ("XNYS", "2026-07-03", "Independence Day", Certainty::Official, Some("2026-07-04")),
        ("XNYS", "2029-07-04", "Independence Day", Certainty::Projected, None),
        ("XNYS", "2025-01-09", "Carter", Certainty::Official, None),
        ("XNAS", "2027-12-24", "Christmas", Certainty::Official, Some("2027-12-25")),
        ("XTKS", "2020-07-24", "Sports Day", Certainty::Official, Some("2020-10-12")),
        ("XTKS", "2019-10-22", "Enthronement", Certainty::Official, None),
        ("XTKS", "2015-05-06", "Substitute holiday", Certainty::Official, Some("2015-05-03")),
        ("XTKS", "2028-01-03", "New Year", Certainty::Projected, None),
        ("XLON", "2023-05-08", "Coronation", Certainty::Official, None),
        ("XLON", "2020-05-08", "Early May", Certainty::Official, Some("2020-05-04")),
        ("XETR", "2017-10-31", "Reformation", Certainty::Official, None),
        ("XTSE", "2023-07-03", "Canada Day", Certainty::Official, Some("2023-07-01")),
        ("XTSE", "2027-07-01", "Canada Day", Certainty::Projected, None),
    ];
    for (mic, text, name, certainty, observed_from) in cases {
        let explanation = calendar(mic).explain(date(text)).unwrap();
        let DayExplanation::Special { special, .. } = explanation else {
            panic!("{mic} {text}: expected a special day, got {explanation:?}");
        };
        assert!(special.name.contains(name), "{mic} {text}: name {:?}", special.name);
        assert!(!special.source.is_empty() && !special.rule.is_empty(), "{mic} {text}");
        assert_eq!(special.certainty, certainty, "{mic} {text}");
        assert_eq!(special.observed_from, observed_from.map(date), "{mic} {text}");
    }
}

/// Sessions per calendar year, each justified from the exchange's holiday list.
#[rustfmt::skip]
const SESSION_COUNTS: &[(&str, i32, usize, &str)] = &[
    ("XNYS", 2012, 250, "261 weekdays - 9 holidays - 2 Hurricane Sandy days"),
    ("XNYS", 2016, 252, "261 weekdays - 9 holidays"),
    ("XNYS", 2018, 251, "261 weekdays - 9 holidays - Bush day of mourning"),
    ("XNYS", 2020, 253, "262 weekdays - 9 holidays"),
    ("XNYS", 2022, 251, "260 weekdays - 9 holidays (New Year 2022 on Saturday, not made up)"),
    ("XNYS", 2023, 250, "260 weekdays - 10 holidays"),
    ("XNYS", 2024, 252, "262 weekdays - 10 holidays"),
    ("XNYS", 2025, 250, "261 weekdays - 10 holidays - Carter day of mourning"),
    ("XNYS", 2026, 251, "261 weekdays - 10 holidays"),
    ("XNAS", 2024, 252, "same days as the NYSE"),
    ("XNAS", 2030, 251, "261 weekdays (2030) - 10 holidays, projected"),
    ("XTKS", 2019, 241, "JPX 2019: the ten-day Golden Week of the succession"),
    ("XTKS", 2023, 246, "JPX 2023"),
    ("XTKS", 2024, 245, "JPX 2024"),
    ("XLON", 2020, 254, "262 weekdays - 8 bank holidays"),
    ("XLON", 2022, 250, "260 weekdays - 8 bank holidays - jubilee day - state funeral"),
    ("XLON", 2023, 251, "260 weekdays - 8 bank holidays - coronation"),
    ("XLON", 2024, 254, "262 weekdays - 8 bank holidays"),
    ("XETR", 2019, 251, "261 weekdays - 10 closing days (Whit Monday and Oct 3 included)"),
    ("XETR", 2023, 255, "260 weekdays - 5 closing days (Jan 1, Dec 24, Dec 31 on Sundays)"),
    ("XETR", 2024, 254, "262 weekdays - 8 closing days"),
    // TSX closes on ten weekdays in each of these years (January 1 or its Monday,
    // Family Day, Good Friday, Victoria Day, Canada Day or its Monday, Civic Holiday,
    // Labour Day, Thanksgiving, Christmas and Boxing Day or their Monday/Tuesday).
    ("XTSE", 2022, 250, "260 weekdays - 10 holidays (Jan 3, Dec 26 and 27 in lieu)"),
    ("XTSE", 2023, 250, "260 weekdays - 10 holidays (Jan 2 and Jul 3 in lieu)"),
    ("XTSE", 2024, 252, "262 weekdays - 10 holidays, all on weekdays"),
    ("XTSE", 2025, 251, "261 weekdays - 10 holidays, all on weekdays"),
];

#[test]
fn session_counts_per_year_match_the_published_calendars() {
    let mut failures = Vec::new();
    for &(mic, year, expected, why) in SESSION_COUNTS {
        let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
        let actual = calendar(mic).session_count(from, to).unwrap();
        if actual != expected {
            failures.push(format!("{mic} {year}: expected {expected}, got {actual} ({why})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
