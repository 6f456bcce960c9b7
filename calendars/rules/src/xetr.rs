//! Xetra (XETR), Deutsche Börse's electronic market: identity, hours and special days.
//! Xetra closes on a short list of days (not on every German public holiday: Ascension
//! and Corpus Christi are trading days), closed Whit Monday and German Unity Day only
//! 2015-2021 (and Whit Monday 2007), and closes early on the last trading day before
//! December 31.

use crate::observance::{easter_monday, good_friday, whit_monday};
use crate::{
    CalendarInfo, Date, DayKind, ExchangeCalendar, Identity, LocalTime, RegularHours, SpecialDay, SpecialDayList,
    saturday_sunday,
};

/// Deutsche Börse publishes the coming year's trading calendar; at the time of writing
/// (2026-11-30) through 2027.
pub const PUBLISHED_THROUGH: i32 = 2027;
/// Xetra's first session was 1997-11-28.
pub const FIRST_SESSION: Date = Date::new(1997, 11, 28);
pub const FIRST_YEAR: i32 = 1997;
pub const LAST_YEAR: i32 = 2099;

pub const EARLY_CLOSE: LocalTime = LocalTime::new(14, 0);
const TRADING_CALENDAR: &str = "Deutsche Börse Xetra trading calendar";

/// Regular hours over history. 08:30-17:00 at launch (the floor's hours); 09:00-17:30
/// from 1999-09-20 (European harmonisation with London); evening trading to 20:00 from
/// June 2000; back to 09:00-17:30 from 2003-11-03. The June 2000 change is dated in the
/// press by month; the 2 June start day is as reported, not checked against a notice.
pub fn regular_hours() -> Vec<RegularHours> {
    let hours = |effective_from: Date, open: LocalTime, close: LocalTime| RegularHours {
        effective_from,
        open,
        close,
        lunch_break: None,
    };
    vec![
        hours(FIRST_SESSION, LocalTime::new(8, 30), LocalTime::new(17, 0)),
        hours(Date::new(1999, 9, 20), LocalTime::new(9, 0), LocalTime::new(17, 30)),
        hours(Date::new(2000, 6, 2), LocalTime::new(9, 0), LocalTime::new(20, 0)),
        hours(Date::new(2003, 11, 3), LocalTime::new(9, 0), LocalTime::new(17, 30)),
    ]
}

/// The Xetra rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xetr;

impl ExchangeCalendar for Xetr {
    fn identity(&self) -> Identity {
        Identity {
            name: "XETR".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Xetra (Deutsche Börse) trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XETR".into(),
            exchange_name: "Xetra (Deutsche Börse)".into(),
            timezone: "Europe/Berlin".into(),
            weekend: saturday_sunday(),
            first_session: FIRST_SESSION,
            first_year: FIRST_YEAR,
            last_year: LAST_YEAR,
            published_through: PUBLISHED_THROUGH,
            hours: regular_hours(),
        }
    }

    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay> {
        let mut list = SpecialDayList::new(year, PUBLISHED_THROUGH);
        let source = TRADING_CALENDAR;
        let fixed = [
            (1, 1, "New Year's Day", "January 1"),
            (5, 1, "Labour Day", "May 1"),
            (12, 24, "Christmas Eve", "December 24"),
            (12, 25, "Christmas Day", "December 25"),
            (12, 26, "Boxing Day", "December 26"),
            (12, 31, "New Year's Eve", "December 31"),
        ];
        for (month, day, name, rule) in fixed {
            list.closed(Date::new(year, month, day), name, rule, source);
        }
        list.closed(good_friday(year), "Good Friday", "Friday before Easter Sunday", source);
        list.closed(easter_monday(year), "Easter Monday", "Monday after Easter Sunday", source);

        // Whit Monday and German Unity Day: trading days except 2015-2021, when Xetra
        // closed on both, and Whit Monday 2007 (a one-off). Xetra trades on them again
        // from 2022.
        if (2015..=2021).contains(&year) {
            list.closed(whit_monday(year), "Whit Monday", "Monday after Pentecost (closed 2015-2021)", source);
            list.closed(Date::new(year, 10, 3), "Day of German Unity", "October 3 (closed 2015-2021)", source);
        }
        if year == 2007 {
            list.closed(Date::new(2007, 5, 28), "Whit Monday", "one-off closure", source).one_off();
        }
        if year == 2017 {
            list.closed(
                Date::new(2017, 10, 31),
                "Reformation Day (500th anniversary)",
                "one-off national holiday",
                source,
            )
            .one_off();
        }

        // The last trading day before December 31 closes at 14:00. Documented from 2010
        // (reported to be older, but not confirmed, so not applied before 2010).
        if year >= 2010 {
            let mut last = Date::new(year, 12, 30);
            while !list.is_trading_day(last) {
                last = last.previous_day();
            }
            list.add(
                last,
                DayKind::EarlyClose(EARLY_CLOSE),
                "Last trading day of the year",
                "last trading day before December 31 closes at 14:00 (from 2010)",
                source,
            );
        }

        // Nothing before the first session: November 1997 starts on launch day.
        let mut days = list.finish();
        days.retain(|day| day.date >= FIRST_SESSION);
        days
    }
}
