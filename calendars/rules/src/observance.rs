//! Rule helpers shared by the exchanges: Easter, and the observance rules that move a
//! holiday off a weekend (US nearest weekday, UK following Monday/Tuesday).

use crate::{Date, Weekday};

/// Easter Sunday of the Gregorian calendar (the anonymous Gregorian algorithm, also
/// known as Meeus/Jones/Butcher), valid for every Gregorian year.
pub fn easter_sunday(year: i32) -> Date {
    let golden = year % 19;
    let century = year / 100;
    let year_of_century = year % 100;
    let skipped_leap = century / 4;
    let century_leap = century % 4;
    let lunar_correction = (century + 8) / 25;
    let solar_correction = (century - lunar_correction + 1) / 3;
    let epact = (19 * golden + century - skipped_leap - solar_correction + 15) % 30;
    let year_leap = year_of_century / 4;
    let year_leap_remainder = year_of_century % 4;
    let weekday_offset = (32 + 2 * century_leap + 2 * year_leap - epact - year_leap_remainder) % 7;
    let correction = (golden + 11 * epact + 22 * weekday_offset) / 451;
    let month = (epact + weekday_offset - 7 * correction + 114) / 31;
    let day = (epact + weekday_offset - 7 * correction + 114) % 31 + 1;
    Date::new(year, month as u8, day as u8)
}

pub fn good_friday(year: i32) -> Date {
    easter_sunday(year).add_days(-2)
}

pub fn easter_monday(year: i32) -> Date {
    easter_sunday(year).add_days(1)
}

/// Whit Monday: the day after Pentecost, 50 days after Easter Sunday.
pub fn whit_monday(year: i32) -> Date {
    easter_sunday(year).add_days(50)
}

/// US rule (NYSE Rule 7.2): a Saturday holiday is observed on the Friday before, a
/// Sunday holiday on the Monday after.
pub fn nearest_weekday(date: Date) -> Date {
    match date.weekday() {
        Weekday::Saturday => date.add_days(-1),
        Weekday::Sunday => date.add_days(1),
        _ => date,
    }
}

/// A weekend date moves to the following Monday (UK New Year's Day, NYSE's New Year's
/// Day when it is a Sunday).
pub fn following_monday_if_weekend(date: Date) -> Date {
    match date.weekday() {
        Weekday::Saturday => date.add_days(2),
        Weekday::Sunday => date.add_days(1),
        _ => date,
    }
}

/// UK Christmas and Boxing Day as observed: a weekend Christmas or Boxing Day moves to
/// the next weekday not already taken by the other, so a Saturday Christmas gives
/// Monday 27 and Tuesday 28, a Sunday Christmas gives Monday 26 (Boxing Day) and
/// Tuesday 27 (Christmas), a Friday Christmas gives Monday 28 for Boxing Day.
/// Returns (Christmas observed, Boxing Day observed).
pub fn uk_christmas_and_boxing_day(year: i32) -> (Date, Date) {
    let christmas = Date::new(year, 12, 25);
    let boxing_day = Date::new(year, 12, 26);
    let christmas_observed = if christmas.is_weekend() { Date::new(year, 12, 27) } else { christmas };
    let boxing_day_observed = if boxing_day.is_weekend() { Date::new(year, 12, 28) } else { boxing_day };
    (christmas_observed, boxing_day_observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_matches_published_dates() {
        // Well-known Easter Sundays, including the earliest (March 22) and latest
        // (April 25) possible dates within the supported range.
        let cases = [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2038, 4, 25),
            (2285, 3, 22),
        ];
        for (year, month, day) in cases {
            assert_eq!(easter_sunday(year), Date::new(year, month, day), "{year}");
        }
    }

    #[test]
    fn uk_weekend_christmas_moves_to_monday_and_tuesday() {
        let cases = [
            // Christmas on a Saturday.
            (2021, (27, 28)),
            // Christmas on a Sunday.
            (2022, (27, 26)),
            // Christmas on a Friday: Boxing Day (Saturday) to Monday 28.
            (2020, (25, 28)),
            // A weekday Christmas and Boxing Day stay put.
            (2024, (25, 26)),
        ];
        for (year, (christmas_day, boxing_day)) in cases {
            assert_eq!(
                uk_christmas_and_boxing_day(year),
                (Date::new(year, 12, christmas_day), Date::new(year, 12, boxing_day)),
                "{year}"
            );
        }
    }

    #[test]
    fn us_nearest_weekday_moves_saturday_back_and_sunday_forward() {
        assert_eq!(nearest_weekday(Date::new(2026, 7, 4)), Date::new(2026, 7, 3));
        assert_eq!(nearest_weekday(Date::new(2027, 6, 19)), Date::new(2027, 6, 18));
        assert_eq!(nearest_weekday(Date::new(2022, 6, 19)), Date::new(2022, 6, 20));
        assert_eq!(nearest_weekday(Date::new(2024, 7, 4)), Date::new(2024, 7, 4));
    }
}
