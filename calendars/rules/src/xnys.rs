//! New York Stock Exchange (XNYS): identity, hours and special days.

use crate::{CalendarInfo, Date, ExchangeCalendar, Identity, SpecialDay, SpecialDayList, saturday_sunday, us};

/// NYSE publishes its holidays and early closes about three years ahead; at the time of
/// writing (2026-11-30) its schedule runs through 2028. Later years are projections.
pub const PUBLISHED_THROUGH: i32 = 2028;

pub const SOURCES: us::UsSources = us::UsSources {
    schedule: "NYSE Rule 7.2 holiday schedule",
    september_11: "NYSE closure after the September 11 attacks (SEC / NYSE notices 2001-09)",
    hurricane_sandy: "NYSE notice (Hurricane Sandy closure, 2012-10)",
    mourning: mourning_source,
};

fn mourning_source(date: Date) -> &'static str {
    if date == Date::new(2018, 12, 5) {
        "presidential proclamation / NYSE notice 2018-12-01"
    } else {
        "presidential proclamation (national day of mourning) / NYSE notice"
    }
}

/// The NYSE rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xnys;

impl ExchangeCalendar for Xnys {
    fn identity(&self) -> Identity {
        Identity {
            name: "XNYS".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "New York Stock Exchange trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XNYS".into(),
            exchange_name: "New York Stock Exchange".into(),
            timezone: "America/New_York".into(),
            weekend: saturday_sunday(),
            // The first session this calendar describes (2000-01-03); earlier years are
            // refused as out of range rather than described wrongly.
            first_session: Date::new(2000, 1, 3),
            first_year: us::FIRST_YEAR,
            last_year: us::LAST_YEAR,
            published_through: PUBLISHED_THROUGH,
            hours: us::regular_hours(),
        }
    }

    fn special_days_in_range(&self, year: i32) -> Vec<SpecialDay> {
        let mut list = SpecialDayList::new(year, PUBLISHED_THROUGH);
        us::special_days(&mut list, &SOURCES);
        list.finish()
    }
}
