//! Japan's national holidays under the Act on National Holidays, as amended, for
//! 2000-2099: the named holidays (with the Happy Monday moves of 2000 and 2003, Showa
//! Day 2007, Mountain Day 2016, the 2019 succession and the 2020/2021 Olympic moves),
//! substitute holidays and citizens' holidays. Exchange-specific closures (Tokyo's
//! year-end break) live in `xtks`.

use crate::{Date, Weekday};

/// The law these holidays come from.
pub const HOLIDAY_LAW: &str = "Act on National Holidays (Japan)";
const SUCCESSION_LAW: &str = "Act on the 2019 enthronement holidays (Japan)";
const OLYMPIC_LAW: &str = "Tokyo 2020 Olympic and Paralympic Special Measures Act (holiday moves)";

/// How a day became a holiday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolidayClass {
    /// A named national holiday (国民の祝日).
    Named,
    /// The day after a Sunday named holiday (振替休日).
    Substitute,
    /// A weekday between two named holidays (国民の休日).
    Citizens,
}

/// One national holiday.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalHoliday {
    pub date: Date,
    pub name: String,
    pub rule: String,
    pub source: &'static str,
    pub class: HolidayClass,
    /// The usual or underlying date when the holiday was moved or is a substitute.
    pub observed_from: Option<Date>,
}

/// Day of March of the vernal equinox day, by the standard approximation formula
/// floor(20.8431 + 0.242194 (Y - 1980) - floor((Y - 1980) / 4)), valid 1980-2099. The
/// official day is announced each February for the next year; the formula has matched
/// every announcement in that range. Computed in millionths of a day to stay exact.
pub fn vernal_equinox_day(year: i32) -> Date {
    Date::new(year, 3, equinox_day_of_month(20_843_100, year))
}

/// Day of September of the autumnal equinox day:
/// floor(23.2488 + 0.242194 (Y - 1980) - floor((Y - 1980) / 4)), valid 1980-2099.
pub fn autumnal_equinox_day(year: i32) -> Date {
    Date::new(year, 9, equinox_day_of_month(23_248_800, year))
}

fn equinox_day_of_month(base_micro_days: i64, year: i32) -> u8 {
    assert!((1980..=2099).contains(&year), "the equinox formula is valid for 1980-2099, not {year}");
    let years_since_1980 = i64::from(year) - 1980;
    let day = (base_micro_days + 242_194 * years_since_1980) / 1_000_000 - years_since_1980 / 4;
    day as u8
}

fn named(date: Date, name: &str, rule: &str) -> NationalHoliday {
    NationalHoliday {
        date,
        name: name.into(),
        rule: rule.into(),
        source: HOLIDAY_LAW,
        class: HolidayClass::Named,
        observed_from: None,
    }
}

fn moved(date: Date, usual: Date, name: &str, rule: &str, source: &'static str) -> NationalHoliday {
    NationalHoliday { observed_from: Some(usual), source, ..named(date, name, rule) }
}

/// The named national holidays of `year` (2000-2099), in no particular order.
pub fn named_holidays(year: i32) -> Vec<NationalHoliday> {
    use Weekday::Monday;
    let mut holidays = vec![
        named(Date::new(year, 1, 1), "New Year's Day", "January 1"),
        named(
            Date::nth_weekday(year, 1, Monday, 2),
            "Coming of Age Day",
            "second Monday of January (from 2000; January 15 before)",
        ),
        named(Date::new(year, 2, 11), "National Foundation Day", "February 11"),
        named(vernal_equinox_day(year), "Vernal Equinox Day", "vernal equinox (approximation formula, 1980-2099)"),
        named(Date::new(year, 5, 3), "Constitution Memorial Day", "May 3"),
        named(Date::new(year, 5, 5), "Children's Day", "May 5"),
        named(
            autumnal_equinox_day(year),
            "Autumnal Equinox Day",
            "autumnal equinox (approximation formula, 1980-2099)",
        ),
        named(Date::new(year, 11, 3), "Culture Day", "November 3"),
        named(Date::new(year, 11, 23), "Labour Thanksgiving Day", "November 23"),
    ];

    // April 29 was Greenery Day until 2006 and is Showa Day from 2007, when Greenery Day
    // moved to May 4 (before 2007 May 4 was a citizens' holiday between May 3 and 5).
    if year >= 2007 {
        holidays.push(named(Date::new(year, 4, 29), "Showa Day", "April 29 (from 2007)"));
        holidays.push(named(Date::new(year, 5, 4), "Greenery Day", "May 4 (from 2007)"));
    } else {
        holidays.push(named(Date::new(year, 4, 29), "Greenery Day", "April 29 (until 2006)"));
    }

    // The Emperor's Birthday follows the reigning emperor: December 23 (Akihito) until
    // 2018, none in 2019 (Naruhito acceded on May 1, after February 23), February 23
    // from 2020.
    if year <= 2018 {
        holidays.push(named(Date::new(year, 12, 23), "Emperor's Birthday", "December 23 (1989-2018)"));
    } else if year >= 2020 {
        holidays.push(named(Date::new(year, 2, 23), "Emperor's Birthday", "February 23 (from 2020)"));
    }

    // Marine Day: July 20 until 2002, third Monday of July from 2003 (Happy Monday).
    // Respect for the Aged Day likewise: September 15, then third Monday of September.
    let marine_day_rule = "third Monday of July (from 2003; July 20 before)";
    let usual_marine_day = if year <= 2002 { Date::new(year, 7, 20) } else { Date::nth_weekday(year, 7, Monday, 3) };
    if year <= 2002 {
        holidays.push(named(Date::new(year, 9, 15), "Respect for the Aged Day", "September 15 (until 2002)"));
    } else {
        holidays.push(named(
            Date::nth_weekday(year, 9, Monday, 3),
            "Respect for the Aged Day",
            "third Monday of September (from 2003)",
        ));
    }

    // Sports Day: second Monday of October from 2000, named "Health and Sports Day"
    // until 2019 and "Sports Day" from 2020.
    let sports_day_name = if year >= 2020 { "Sports Day" } else { "Health and Sports Day" };
    let sports_day_rule = "second Monday of October (from 2000)";
    let usual_sports_day = Date::nth_weekday(year, 10, Monday, 2);

    // Mountain Day: August 11 from 2016.
    let mountain_day_rule = "August 11 (from 2016)";
    let usual_mountain_day = Date::new(year, 8, 11);

    // The Tokyo Olympics moved Marine Day, Sports Day and Mountain Day in 2020 and,
    // after the postponement, again in 2021; their usual dates were trading days.
    let olympic_moves = match year {
        2020 => Some((Date::new(2020, 7, 23), Date::new(2020, 7, 24), Date::new(2020, 8, 10))),
        2021 => Some((Date::new(2021, 7, 22), Date::new(2021, 7, 23), Date::new(2021, 8, 8))),
        _ => None,
    };
    if let Some((marine_day, sports_day, mountain_day)) = olympic_moves {
        let rule = "moved for the Tokyo Olympics (special measures act)";
        holidays.push(moved(marine_day, usual_marine_day, "Marine Day", rule, OLYMPIC_LAW));
        holidays.push(moved(sports_day, usual_sports_day, sports_day_name, rule, OLYMPIC_LAW));
        holidays.push(moved(mountain_day, usual_mountain_day, "Mountain Day", rule, OLYMPIC_LAW));
    } else {
        holidays.push(named(usual_marine_day, "Marine Day", marine_day_rule));
        holidays.push(named(usual_sports_day, sports_day_name, sports_day_rule));
        if year >= 2016 {
            holidays.push(named(usual_mountain_day, "Mountain Day", mountain_day_rule));
        }
    }

    // The 2019 imperial succession: two one-off named holidays. April 30 and May 2 then
    // became citizens' holidays by the sandwich rule, computed in `rest_days`.
    if year == 2019 {
        let mut enthronement =
            named(Date::new(2019, 5, 1), "Enthronement Day", "one-off holiday (imperial succession)");
        enthronement.source = SUCCESSION_LAW;
        holidays.push(enthronement);
        let mut ceremony =
            named(Date::new(2019, 10, 22), "Enthronement Ceremony Day", "one-off holiday (imperial succession)");
        ceremony.source = SUCCESSION_LAW;
        holidays.push(ceremony);
    }
    holidays
}

/// Every national holiday of `year` (2000-2099): named holidays, substitute holidays
/// and citizens' holidays, ordered by date.
pub fn rest_days(year: i32) -> Vec<NationalHoliday> {
    let named_days = named_holidays(year);
    let is_named = |date: Date| named_days.iter().any(|holiday| holiday.date == date);
    let mut days = named_days.clone();

    for holiday in named_days.iter().filter(|holiday| holiday.date.weekday() == Weekday::Sunday) {
        let substitute = if year >= 2007 {
            // From 2007: the first following day that is not itself a named holiday
            // (a Sunday May 3 gives Wednesday May 6).
            let mut date = holiday.date.next_day();
            while is_named(date) {
                date = date.next_day();
            }
            Some(date)
        } else {
            // 1973-2006: only the Monday, and only if it is not a holiday already.
            let monday = holiday.date.next_day();
            (!is_named(monday)).then_some(monday)
        };
        if let Some(date) = substitute {
            days.push(NationalHoliday {
                date,
                name: format!("Substitute holiday for {}", holiday.name),
                rule: if year >= 2007 {
                    "named holiday on a Sunday moves to the next non-holiday day (from 2007)".into()
                } else {
                    "named holiday on a Sunday moves to the Monday (until 2006)".into()
                },
                source: HOLIDAY_LAW,
                class: HolidayClass::Substitute,
                observed_from: Some(holiday.date),
            });
        }
    }

    // Citizens' holiday: a day that is not a named holiday (nor a Sunday) between two
    // named holidays, e.g. Silver Week's Tuesday (2009-09-22, 2015-09-22, 2026-09-22).
    for before in &named_days {
        let between = before.date.next_day();
        let Some(after) = named_days.iter().find(|holiday| holiday.date == between.next_day()) else {
            continue;
        };
        if is_named(between) || between.weekday() == Weekday::Sunday {
            continue;
        }
        if days.iter().any(|day| day.date == between) {
            continue;
        }
        days.push(NationalHoliday {
            date: between,
            name: "Citizens' holiday".into(),
            rule: format!("weekday between two national holidays ({} and {})", before.name, after.name),
            source: if year == 2019 { SUCCESSION_LAW } else { HOLIDAY_LAW },
            class: HolidayClass::Citizens,
            observed_from: None,
        });
    }
    days.sort_by_key(|day| day.date);
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equinox_formula_matches_announced_days() {
        // Announced vernal/autumnal equinox days (National Astronomical Observatory of
        // Japan, published in the Official Gazette each February).
        let cases = [
            (2000, 20, 23),
            (2012, 20, 22),
            (2016, 20, 22),
            (2020, 20, 22),
            (2023, 21, 23),
            (2024, 20, 22),
            (2025, 20, 23),
            (2026, 20, 23),
            (2027, 21, 23),
        ];
        for (year, vernal_day, autumnal_day) in cases {
            assert_eq!(vernal_equinox_day(year), Date::new(year, 3, vernal_day), "vernal {year}");
            assert_eq!(autumnal_equinox_day(year), Date::new(year, 9, autumnal_day), "autumnal {year}");
        }
    }

    #[test]
    fn sunday_may_3_substitute_falls_on_wednesday_from_2015() {
        let days = rest_days(2015);
        let substitute = days.iter().find(|day| day.class == HolidayClass::Substitute).unwrap();
        assert_eq!(substitute.date, Date::new(2015, 5, 6));
        assert_eq!(substitute.observed_from, Some(Date::new(2015, 5, 3)));
    }

    #[test]
    fn silver_week_tuesday_is_a_citizens_holiday() {
        for year in [2009, 2015, 2026] {
            let days = rest_days(year);
            let tuesday = Date::new(year, 9, 22);
            let day = days.iter().find(|day| day.date == tuesday).expect("holiday");
            assert_eq!(day.class, HolidayClass::Citizens, "{year}");
        }
    }
}
