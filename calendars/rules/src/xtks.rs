//! Tokyo Stock Exchange (XTKS): identity, hours (with the lunch break) and special days.
//! The exchange closes on Japan's national holidays (`japan`), on December 31 and
//! January 1-3, and on a few dated one-offs; until 2008 its first and last trading days
//! of the year were morning-only sessions.

use crate::japan::{HOLIDAY_LAW, rest_days};
use crate::{
    CalendarInfo, Date, DayKind, ExchangeCalendar, Identity, LocalTime, RegularHours, SpecialDay, SpecialDayList,
    Specificity, saturday_sunday,
};

/// JPX publishes next year's market holidays once the equinox days are announced (each
/// February); at the time of writing (2026-11-30) its list runs through 2027.
pub const PUBLISHED_THROUGH: i32 = 2027;
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

const JPX_HOLIDAYS: &str = "JPX market holidays";

/// The morning session's close before 2011-11-21. A morning-only session is modelled
/// as an early close at this time, which the host reads as "no afternoon session".
pub const MORNING_CLOSE_UNTIL_2011: LocalTime = LocalTime::new(11, 0);

/// Regular hours: 09:00-15:00 with a lunch break. The morning session ended at 11:00
/// until 2011-11-18 and at 11:30 from 2011-11-21 (arrowhead lunch-break shortening);
/// the close moved to 15:30 on 2024-11-05 (arrowhead renewal). The first entry starts on
/// the calendar's first session; earlier hours are outside the supported years.
pub fn regular_hours() -> Vec<RegularHours> {
    vec![
        RegularHours {
            effective_from: Date::new(2000, 1, 4),
            open: LocalTime::new(9, 0),
            close: LocalTime::new(15, 0),
            lunch_break: Some((MORNING_CLOSE_UNTIL_2011, LocalTime::new(12, 30))),
        },
        RegularHours {
            effective_from: Date::new(2011, 11, 21),
            open: LocalTime::new(9, 0),
            close: LocalTime::new(15, 0),
            lunch_break: Some((LocalTime::new(11, 30), LocalTime::new(12, 30))),
        },
        RegularHours {
            effective_from: Date::new(2024, 11, 5),
            open: LocalTime::new(9, 0),
            close: LocalTime::new(15, 30),
            lunch_break: Some((LocalTime::new(11, 30), LocalTime::new(12, 30))),
        },
    ]
}

/// The Tokyo rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xtks;

impl ExchangeCalendar for Xtks {
    fn identity(&self) -> Identity {
        Identity {
            name: "XTKS".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Tokyo Stock Exchange trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XTKS".into(),
            exchange_name: "Tokyo Stock Exchange".into(),
            timezone: "Asia/Tokyo".into(),
            weekend: saturday_sunday(),
            // The first session this calendar describes (January 1-3 2000 were closed).
            first_session: Date::new(2000, 1, 4),
            first_year: FIRST_YEAR,
            last_year: LAST_YEAR,
            published_through: PUBLISHED_THROUGH,
            hours: regular_hours(),
        }
    }

    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay> {
        let mut list = SpecialDayList::new(year, PUBLISHED_THROUGH);

        for holiday in rest_days(year) {
            let rule = holiday.rule.clone();
            let entry = list.closed(holiday.date, holiday.name, rule, holiday.source);
            if let Some(underlying) = holiday.observed_from {
                entry.observed_from(underlying);
            }
            if holiday.source != HOLIDAY_LAW {
                // Succession and Olympic holidays (and the citizens' holidays the
                // succession created) are dated one-offs, not rules.
                entry.one_off();
            }
        }

        // The exchange's own year-end break, national holiday or not. A national holiday
        // on the same date keeps its more specific name.
        let year_end_rule = "December 31 and January 1-3, every year";
        for date in [Date::new(year, 1, 1), Date::new(year, 1, 2), Date::new(year, 1, 3)] {
            list.closed(date, "New Year market holiday", year_end_rule, JPX_HOLIDAYS)
                .specificity(Specificity::ExchangeWide);
        }
        list.closed(Date::new(year, 12, 31), "Year-end market holiday", year_end_rule, JPX_HOLIDAYS)
            .specificity(Specificity::ExchangeWide);

        if year == 2020 {
            list.closed(
                Date::new(2020, 10, 1),
                "Full-day trading halt (arrowhead system failure)",
                "one-off closure",
                "JPX notice 2020-10-01 (arrowhead equipment failure)",
            )
            .one_off();
        }

        // Until the end of 2008 the first (dai-hakkai) and last (dai-nokai) trading days of
        // the year had a morning session only; from 2009 they are full days.
        if year <= 2008 {
            let half_day_source = "TSE half-day sessions on the first and last trading days until 2008 (reported)";
            let mut first = Date::new(year, 1, 4);
            while !list.is_trading_day(first) {
                first = first.next_day();
            }
            let mut last = Date::new(year, 12, 30);
            while !list.is_trading_day(last) {
                last = last.previous_day();
            }
            let morning_only = DayKind::EarlyClose(MORNING_CLOSE_UNTIL_2011);
            list.add(
                first,
                morning_only,
                "First trading day of the year (morning session only)",
                "first trading day of the year, morning session only (until 2008)",
                half_day_source,
            )
            .specificity(Specificity::ExchangeWide);
            list.add(
                last,
                morning_only,
                "Last trading day of the year (morning session only)",
                "last trading day of the year, morning session only (until 2008)",
                half_day_source,
            )
            .specificity(Specificity::ExchangeWide);
        }
        list.finish()
    }
}
