//! The US equity holiday calendar shared by NYSE (XNYS) and Nasdaq (XNAS): the two
//! exchanges close and close early on the same days; only the sources differ.
//!
//! Supported years start at 2000. Earlier years need the pre-1998 calendar without
//! Martin Luther King Day and the 14:00 early closes before 1993, and a longer table
//! of one-off closures than we can vouch for, so the calendars refuse them.

use crate::observance::{easter_sunday, following_monday_if_weekend, nearest_weekday};
use crate::{Date, DayKind, LocalTime, RegularHours, SpecialDayList, Weekday};

/// Early closes are at 13:00 (14:00 before 1993, outside the supported years).
pub const EARLY_CLOSE: LocalTime = LocalTime::new(13, 0);

pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// 09:30-16:00, in force since 1985-09-30, when the NYSE moved its open from 10:00 to
/// 09:30; Nasdaq's regular session has the same hours.
pub fn regular_hours() -> Vec<RegularHours> {
    vec![RegularHours {
        effective_from: Date::new(1985, 9, 30),
        open: LocalTime::new(9, 30),
        close: LocalTime::new(16, 0),
        lunch_break: None,
    }]
}

/// Where each kind of fact comes from, per exchange.
pub struct UsSources {
    /// The exchange's published holiday and early-close schedule.
    pub schedule: &'static str,
    /// Closures after the September 11 attacks.
    pub september_11: &'static str,
    /// Closures for Hurricane Sandy.
    pub hurricane_sandy: &'static str,
    /// National days of mourning, one per date, e.g. "presidential proclamation /
    /// NYSE notice 2018-12-01".
    pub mourning: fn(Date) -> &'static str,
}

/// National days of mourning for former presidents on which both exchanges closed.
const DAYS_OF_MOURNING: &[(Date, &str)] = &[
    (Date::new(2004, 6, 11), "National Day of Mourning for President Ronald Reagan"),
    (Date::new(2007, 1, 2), "National Day of Mourning for President Gerald R. Ford"),
    (Date::new(2018, 12, 5), "National Day of Mourning for President George H. W. Bush"),
    (Date::new(2025, 1, 9), "National Day of Mourning for President Jimmy Carter"),
];

/// Every special day of `year` (already checked to be in range).
pub fn special_days(list: &mut SpecialDayList, sources: &UsSources) {
    let year = list.year();
    let source = sources.schedule;

    // New Year's Day: a Sunday moves to Monday, but a Saturday is NOT made up on the
    // Friday before (it would be the last trading day of the previous year; NYSE Rule
    // 7.2 leaves it open): 2010-12-31 and 2021-12-31 were full days.
    let new_year = Date::new(year, 1, 1);
    if new_year.weekday() != Weekday::Saturday {
        list.closed(
            following_monday_if_weekend(new_year),
            "New Year's Day",
            "January 1; a Sunday moves to Monday, a Saturday is not made up",
            source,
        )
        .observed_from(new_year);
    }

    list.closed(
        Date::nth_weekday(year, 1, Weekday::Monday, 3),
        "Martin Luther King, Jr. Day",
        "third Monday of January (observed since 1998)",
        source,
    );
    list.closed(
        Date::nth_weekday(year, 2, Weekday::Monday, 3),
        "Washington's Birthday",
        "third Monday of February",
        source,
    );
    list.closed(easter_sunday(year).add_days(-2), "Good Friday", "Friday before Easter Sunday", source);
    list.closed(Date::last_weekday(year, 5, Weekday::Monday), "Memorial Day", "last Monday of May", source);
    if year >= 2022 {
        let juneteenth = Date::new(year, 6, 19);
        list.closed(
            nearest_weekday(juneteenth),
            "Juneteenth National Independence Day",
            "June 19, nearest weekday (from 2022)",
            source,
        )
        .observed_from(juneteenth);
    }
    let independence_day = Date::new(year, 7, 4);
    list.closed(nearest_weekday(independence_day), "Independence Day", "July 4, nearest weekday", source)
        .observed_from(independence_day);
    list.closed(Date::nth_weekday(year, 9, Weekday::Monday, 1), "Labor Day", "first Monday of September", source);
    let thanksgiving = Date::nth_weekday(year, 11, Weekday::Thursday, 4);
    list.closed(thanksgiving, "Thanksgiving Day", "fourth Thursday of November", source);
    let christmas = Date::new(year, 12, 25);
    list.closed(nearest_weekday(christmas), "Christmas Day", "December 25, nearest weekday", source)
        .observed_from(christmas);

    // Early closes at 13:00.
    let early = DayKind::EarlyClose(EARLY_CLOSE);
    let july_3 = Date::new(year, 7, 3);
    let july_3_closes_early = match july_3.weekday() {
        Weekday::Monday | Weekday::Tuesday | Weekday::Thursday => true,
        // A Wednesday July 3 was a full day until 2012 (the early close was on Friday
        // July 5 instead, below); from 2013 it closes early (2019-07-03, 2024-07-03).
        Weekday::Wednesday => year >= 2013,
        // Friday July 3 is the observed Independence Day; weekends have no session.
        _ => false,
    };
    if july_3_closes_early {
        list.add(
            july_3,
            early,
            "Independence Day Eve",
            "July 3 when a Monday, Tuesday or Thursday, or a Wednesday from 2013",
            source,
        );
    }
    let july_5 = Date::new(year, 7, 5);
    if year < 2013 && july_5.weekday() == Weekday::Friday {
        list.add(
            july_5,
            early,
            "Day after Independence Day",
            "July 5 when a Friday after a Thursday Independence Day (until 2012)",
            source,
        );
    }
    list.add(
        thanksgiving.add_days(1),
        early,
        "Day after Thanksgiving",
        "Friday after the fourth Thursday of November",
        source,
    );
    let christmas_eve = Date::new(year, 12, 24);
    if !matches!(christmas_eve.weekday(), Weekday::Friday | Weekday::Saturday | Weekday::Sunday) {
        list.add(christmas_eve, early, "Christmas Eve", "December 24 when Monday to Thursday", source);
    }

    // One-off early closes.
    if year == 2003 {
        // Friday after a Thursday Christmas: a one-off 13:00 close announced by the
        // exchanges for 2003 (exchange_calendars agrees).
        list.add(Date::new(2003, 12, 26), early, "Day after Christmas", "one-off early close", source).one_off();
    }

    // One-off closures.
    for day in 11..=14 {
        list.closed(
            Date::new(2001, 9, day),
            "Closed after the September 11 attacks",
            "one-off closure",
            sources.september_11,
        )
        .one_off();
    }
    for day in [29, 30] {
        list.closed(Date::new(2012, 10, day), "Closed for Hurricane Sandy", "one-off closure", sources.hurricane_sandy)
            .one_off();
    }
    for &(date, name) in DAYS_OF_MOURNING {
        list.closed(date, name, "national day of mourning", (sources.mourning)(date)).one_off();
    }
}
