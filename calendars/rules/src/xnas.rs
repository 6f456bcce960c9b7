//! Nasdaq (XNAS): identity, hours and special days. Nasdaq closes and closes early on
//! the same days as the NYSE (see `us`); only the sources differ.

use crate::{CalendarInfo, Date, ExchangeCalendar, Identity, SpecialDay, SpecialDayList, saturday_sunday, us};

/// Nasdaq publishes its holiday schedule about three years ahead, like the NYSE; at the
/// time of writing (2026-11-30) through 2028. Later years are projections.
pub const PUBLISHED_THROUGH: i32 = 2028;

pub const SOURCES: us::UsSources = us::UsSources {
    schedule: "Nasdaq Trader holiday schedule",
    september_11: "Nasdaq closure after the September 11 attacks (SEC / Nasdaq notices 2001-09)",
    hurricane_sandy: "Nasdaq notice (Hurricane Sandy closure, 2012-10)",
    mourning: mourning_source,
};

fn mourning_source(_date: Date) -> &'static str {
    "presidential proclamation (national day of mourning) / Nasdaq notice"
}

/// The Nasdaq rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xnas;

impl ExchangeCalendar for Xnas {
    fn identity(&self) -> Identity {
        Identity {
            name: "XNAS".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Nasdaq Stock Market trading calendar".into(),
        }
    }

    fn info(&self) -> CalendarInfo {
        CalendarInfo {
            mic: "XNAS".into(),
            exchange_name: "Nasdaq Stock Market".into(),
            timezone: "America/New_York".into(),
            weekend: saturday_sunday(),
            // The first session this calendar describes; see `xnys`.
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
