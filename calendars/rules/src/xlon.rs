//! London Stock Exchange (XLON): identity, hours and special days. The exchange closes
//! on the England and Wales bank holidays (with their weekend substitutes) and on dated
//! royal and state one-offs, and closes early at 12:30 on Christmas Eve and New Year's
//! Eve (the Friday before when those fall on a weekend).
//!
//! Supported years start at 2000: the 08:00 open dates from 1999 (moved from 09:00 to
//! align with Frankfurt) and we cannot vouch for the exact day it changed, so 1995
//! (VE Day 50th) and 1999-12-31 (millennium) are outside the range rather than guessed.

use crate::observance::{easter_monday, following_monday_if_weekend, good_friday, uk_christmas_and_boxing_day};
use crate::{
    CalendarInfo, Date, DayKind, ExchangeCalendar, Identity, LocalTime, RegularHours, SpecialDay, SpecialDayList,
    Weekday, saturday_sunday,
};

/// LSEG publishes business days for the coming year; at the time of writing
/// (2026-11-30) through 2027.
pub const PUBLISHED_THROUGH: i32 = 2027;
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

pub const EARLY_CLOSE: LocalTime = LocalTime::new(12, 30);
const LSEG_NOTICE: &str = "LSEG business days notice";
const BANK_HOLIDAYS: &str = "LSEG business days notice (England and Wales bank holidays)";
const PROCLAMATION: &str = "royal proclamation of a bank holiday / LSEG notice";

/// 08:00-16:30 Europe/London throughout the supported years.
pub fn regular_hours() -> Vec<RegularHours> {
    vec![RegularHours {
        effective_from: Date::new(2000, 1, 4),
        open: LocalTime::new(8, 0),
        close: LocalTime::new(16, 30),
        lunch_break: None,
    }]
}

/// Bank holidays moved off their usual Monday by proclamation: (year, usual, moved,
/// reason). The usual dates were trading days.
const MOVED_BANK_HOLIDAYS: &[(i32, &str, Date, &str)] = &[
    (2002, "Spring bank holiday", Date::new(2002, 6, 4), "moved for the Golden Jubilee"),
    (2012, "Spring bank holiday", Date::new(2012, 6, 4), "moved for the Diamond Jubilee"),
    (2020, "Early May bank holiday", Date::new(2020, 5, 8), "moved to VE Day (75th anniversary)"),
    (2022, "Spring bank holiday", Date::new(2022, 6, 2), "moved for the Platinum Jubilee"),
];

/// Extra one-off bank holidays and closures.
const ONE_OFF_CLOSURES: &[(Date, &str)] = &[
    (Date::new(2002, 6, 3), "Golden Jubilee bank holiday"),
    (Date::new(2011, 4, 29), "Royal wedding bank holiday"),
    (Date::new(2012, 6, 5), "Diamond Jubilee bank holiday"),
    (Date::new(2022, 6, 3), "Platinum Jubilee bank holiday"),
    (Date::new(2022, 9, 19), "State funeral of Queen Elizabeth II"),
    (Date::new(2023, 5, 8), "Coronation of King Charles III bank holiday"),
];

/// The London rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xlon;

impl ExchangeCalendar for Xlon {
    fn identity(&self) -> Identity {
        Identity {
            name: "XLON".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "London Stock Exchange trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XLON".into(),
            exchange_name: "London Stock Exchange".into(),
            timezone: "Europe/London".into(),
            weekend: saturday_sunday(),
            // The first session this calendar describes (2000-01-03 was the New Year
            // bank holiday).
            first_session: Date::new(2000, 1, 4),
            first_year: FIRST_YEAR,
            last_year: LAST_YEAR,
            published_through: PUBLISHED_THROUGH,
            hours: regular_hours(),
        }
    }

    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay> {
        let mut list = SpecialDayList::new(year, PUBLISHED_THROUGH);

        let new_year = Date::new(year, 1, 1);
        list.closed(
            following_monday_if_weekend(new_year),
            "New Year's Day",
            "January 1; a weekend moves to the following Monday",
            BANK_HOLIDAYS,
        )
        .observed_from(new_year);
        list.closed(good_friday(year), "Good Friday", "Friday before Easter Sunday", BANK_HOLIDAYS);
        list.closed(easter_monday(year), "Easter Monday", "Monday after Easter Sunday", BANK_HOLIDAYS);

        let bank_holidays = [
            ("Early May bank holiday", "first Monday of May", Date::nth_weekday(year, 5, Weekday::Monday, 1)),
            ("Spring bank holiday", "last Monday of May", Date::last_weekday(year, 5, Weekday::Monday)),
            ("Summer bank holiday", "last Monday of August", Date::last_weekday(year, 8, Weekday::Monday)),
        ];
        for (name, rule, usual) in bank_holidays {
            let moved = MOVED_BANK_HOLIDAYS
                .iter()
                .find(|(moved_year, moved_name, _, _)| *moved_year == year && *moved_name == name);
            match moved {
                Some(&(_, _, moved_date, reason)) => {
                    list.closed(moved_date, name, format!("{rule}, {reason}"), PROCLAMATION)
                        .observed_from(usual)
                        .one_off();
                }
                None => {
                    list.closed(usual, name, rule, BANK_HOLIDAYS);
                }
            }
        }

        let (christmas_observed, boxing_day_observed) = uk_christmas_and_boxing_day(year);
        list.closed(
            christmas_observed,
            "Christmas Day",
            "December 25; a Saturday or Sunday Christmas is observed on December 27",
            BANK_HOLIDAYS,
        )
        .observed_from(Date::new(year, 12, 25));
        list.closed(
            boxing_day_observed,
            "Boxing Day",
            "December 26; a Saturday or Sunday Boxing Day is observed on December 28",
            BANK_HOLIDAYS,
        )
        .observed_from(Date::new(year, 12, 26));

        for &(date, name) in ONE_OFF_CLOSURES {
            list.closed(date, name, "one-off closure", PROCLAMATION).one_off();
        }

        let early = DayKind::EarlyClose(EARLY_CLOSE);
        let christmas_eve = Date::new(year, 12, 24);
        list.add(
            christmas_eve.previous_weekday_or_same(),
            early,
            "Christmas Eve",
            "December 24, or the Friday before when on a weekend",
            LSEG_NOTICE,
        )
        .observed_from(christmas_eve);
        let new_years_eve = Date::new(year, 12, 31);
        list.add(
            new_years_eve.previous_weekday_or_same(),
            early,
            "New Year's Eve",
            "December 31, or the Friday before when on a weekend",
            LSEG_NOTICE,
        )
        .observed_from(new_years_eve);
        list.finish()
    }
}
