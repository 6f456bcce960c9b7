//! Toronto Stock Exchange (XTSE): identity, hours and special days. TSX closes on the
//! Ontario statutory holidays it has always observed (New Year's Day, Family Day, Good
//! Friday, Victoria Day, Canada Day, the Civic Holiday, Labour Day, Thanksgiving,
//! Christmas and Boxing Day), moving a weekend holiday to the following weekday, and
//! closes early at 13:00 on Christmas Eve when it is a weekday.
//!
//! Not TSX holidays, although they are holidays for someone: Remembrance Day (the bond
//! market closes, equities trade), the National Day for Truth and Reconciliation
//! (September 30, a federal holiday from 2021; TSX trades) and the federal day of
//! mourning for Queen Elizabeth II (2022-09-19; TSX traded). New Year's Eve is a full
//! day for TSX: TMX's December notices give an early close on December 31 only to
//! Montréal Exchange interest-rate derivatives.
//!
//! Supported years start at 2010: the Christmas Eve early close is documented from then
//! (TMX notices; exchange_calendars and pandas_market_calendars date it "2010 onwards")
//! and we cannot vouch for the years before, so they are refused rather than guessed.

use crate::observance::{following_monday_if_weekend, good_friday, uk_christmas_and_boxing_day};
use crate::{
    CalendarInfo, Date, DayKind, ExchangeCalendar, Identity, LocalTime, RegularHours, SpecialDay, SpecialDayList,
    Weekday, saturday_sunday,
};

/// TMX publishes the coming year's market holidays in the autumn; at the time of writing
/// (2026-11-30) we have checked its notices only through the current year, so 2027 on is
/// marked projected until someone checks the published list and moves this forward.
pub const PUBLISHED_THROUGH: i32 = 2026;
pub const FIRST_YEAR: i32 = 2010;
pub const LAST_YEAR: i32 = 2099;

pub const EARLY_CLOSE: LocalTime = LocalTime::new(13, 0);

const TMX_CALENDAR: &str = "TMX Group trading calendar (tsx.com, calendars and trading hours)";
const TMX_HOLIDAY_NOTICE: &str = "TMX Group Holiday Operating Schedule (December notice)";

/// 09:30-16:00 America/Toronto throughout the supported years.
pub fn regular_hours() -> Vec<RegularHours> {
    vec![RegularHours {
        effective_from: Date::new(2010, 1, 4),
        open: LocalTime::new(9, 30),
        close: LocalTime::new(16, 0),
        lunch_break: None,
    }]
}

/// Victoria Day: the last Monday before May 25 (so May 18-24).
pub fn victoria_day(year: i32) -> Date {
    let may_24 = Date::new(year, 5, 24);
    may_24.add_days(-may_24.weekday().days_from_monday())
}

/// The Toronto rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xtse;

impl ExchangeCalendar for Xtse {
    fn identity(&self) -> Identity {
        Identity {
            name: "XTSE".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Toronto Stock Exchange trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XTSE".into(),
            exchange_name: "Toronto Stock Exchange".into(),
            timezone: "America/Toronto".into(),
            weekend: saturday_sunday(),
            // The first session this calendar describes (2010-01-01 was New Year's Day).
            first_session: Date::new(2010, 1, 4),
            first_year: FIRST_YEAR,
            last_year: LAST_YEAR,
            published_through: PUBLISHED_THROUGH,
            hours: regular_hours(),
        }
    }

    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay> {
        let mut list = SpecialDayList::new(year, PUBLISHED_THROUGH);

        // Unlike the NYSE, a Saturday New Year's Day is made up on the Monday after
        // (2022-01-03 was closed "in lieu of New Year's Day"), never on the Friday before.
        let new_year = Date::new(year, 1, 1);
        list.closed(
            following_monday_if_weekend(new_year),
            "New Year's Day",
            "January 1; a weekend moves to the following Monday",
            TMX_CALENDAR,
        )
        .observed_from(new_year);
        // Ontario's Family Day exists from 2008, before the supported years; the
        // condition keeps the rule true if FIRST_YEAR ever moves back.
        if year >= 2008 {
            list.closed(
                Date::nth_weekday(year, 2, Weekday::Monday, 3),
                "Family Day",
                "third Monday of February (Ontario, from 2008)",
                TMX_CALENDAR,
            );
        }
        list.closed(good_friday(year), "Good Friday", "Friday before Easter Sunday", TMX_CALENDAR);
        list.closed(victoria_day(year), "Victoria Day", "Monday before May 25", TMX_CALENDAR);
        let canada_day = Date::new(year, 7, 1);
        list.closed(
            following_monday_if_weekend(canada_day),
            "Canada Day",
            "July 1; a weekend moves to the following Monday",
            TMX_CALENDAR,
        )
        .observed_from(canada_day);
        let first_mondays =
            [("Civic Holiday", "first Monday of August", 8), ("Labour Day", "first Monday of September", 9)];
        for (name, rule, month) in first_mondays {
            list.closed(Date::nth_weekday(year, month, Weekday::Monday, 1), name, rule, TMX_CALENDAR);
        }
        list.closed(
            Date::nth_weekday(year, 10, Weekday::Monday, 2),
            "Thanksgiving Day",
            "second Monday of October",
            TMX_CALENDAR,
        );

        // The same weekend moves as London's bank holidays: 2021 (Saturday Christmas)
        // closed Monday 27 and Tuesday 28, 2022 (Sunday Christmas) Monday 26 and
        // Tuesday 27, 2020 (Saturday Boxing Day) Monday 28.
        let (christmas_observed, boxing_day_observed) = uk_christmas_and_boxing_day(year);
        list.closed(
            christmas_observed,
            "Christmas Day",
            "December 25; a Saturday or Sunday Christmas is observed on December 27",
            TMX_HOLIDAY_NOTICE,
        )
        .observed_from(Date::new(year, 12, 25));
        list.closed(
            boxing_day_observed,
            "Boxing Day",
            "December 26; a Saturday or Sunday Boxing Day is observed on December 28",
            TMX_HOLIDAY_NOTICE,
        )
        .observed_from(Date::new(year, 12, 26));

        // A weekend Christmas Eve has no early close on the Friday before (the 2023
        // notice lists none for 2023-12-22): `SpecialDayList` drops weekend dates.
        list.add(
            Date::new(year, 12, 24),
            DayKind::EarlyClose(EARLY_CLOSE),
            "Christmas Eve",
            "December 24 when a weekday: open until 13:00",
            TMX_HOLIDAY_NOTICE,
        );
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn victoria_day_is_the_monday_before_may_25() {
        // 2021-05-24 was itself a Monday; 2025's May 24 was a Saturday.
        let cases = [(2021, 24), (2022, 23), (2024, 20), (2025, 19), (2027, 24)];
        for (year, day) in cases {
            assert_eq!(victoria_day(year), Date::new(year, 5, day), "{year}");
        }
    }
}
