//! A small proleptic-Gregorian `Date` with the arithmetic the holiday rules need
//! (weekday, adding days, nth weekday of a month). Written here rather than pulling in
//! chrono so the rules crate has no dependencies at all.

use core::fmt;

/// A day of the week, Monday first (ISO 8601 order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Days after Monday: Monday 0 ... Sunday 6.
    pub fn days_from_monday(self) -> i64 {
        self as i64
    }

    fn from_days_from_monday(days: i64) -> Weekday {
        const ORDER: [Weekday; 7] = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ];
        ORDER[days.rem_euclid(7) as usize]
    }

    /// Saturday or Sunday: the weekend of all five exchanges here.
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// A calendar date. Field order (year, month, day) makes the derived ordering
/// chronological.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl fmt::Debug for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, formatter)
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => panic!("month {month} is not 1-12"),
    }
}

impl Date {
    /// A date; panics on an impossible one, because every date in the rule tables is a
    /// literal and a typo there should fail the tests loudly, not produce a wrong day.
    pub const fn new(year: i32, month: u8, day: u8) -> Date {
        assert!(month >= 1 && month <= 12, "month out of range");
        assert!(day >= 1 && day <= 31, "day out of range");
        Date { year, month, day }
    }

    /// Checked constructor for dates that come from outside (tests, parsing).
    pub fn try_new(year: i32, month: u8, day: u8) -> Option<Date> {
        if (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn day_number(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of `day_number` (Hinnant's `civil_from_days`).
    pub fn from_day_number(day_number: i64) -> Date {
        let shifted = day_number + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date { year: year as i32, month: month as u8, day: day as u8 }
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (3 days after Monday).
        Weekday::from_days_from_monday(self.day_number() + 3)
    }

    pub fn is_weekend(self) -> bool {
        self.weekday().is_weekend()
    }

    pub fn add_days(self, days: i64) -> Date {
        Date::from_day_number(self.day_number() + days)
    }

    pub fn next_day(self) -> Date {
        self.add_days(1)
    }

    pub fn previous_day(self) -> Date {
        self.add_days(-1)
    }

    /// The nth (1-based) `weekday` of a month, e.g. the fourth Thursday of November.
    pub fn nth_weekday(year: i32, month: u8, weekday: Weekday, nth: u8) -> Date {
        let first = Date::new(year, month, 1);
        let offset = (weekday.days_from_monday() - first.weekday().days_from_monday()).rem_euclid(7);
        let date = first.add_days(offset + 7 * (i64::from(nth) - 1));
        assert_eq!(date.month, month, "there is no {nth}th {weekday:?} in {year}-{month:02}");
        date
    }

    /// The last `weekday` of a month, e.g. the last Monday of May.
    pub fn last_weekday(year: i32, month: u8, weekday: Weekday) -> Date {
        let last = Date::new(year, month, days_in_month(year, month));
        let offset = (last.weekday().days_from_monday() - weekday.days_from_monday()).rem_euclid(7);
        last.add_days(-offset)
    }

    /// The closest weekday at or before this date.
    pub fn previous_weekday_or_same(self) -> Date {
        let mut date = self;
        while date.is_weekend() {
            date = date.previous_day();
        }
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_across_four_centuries() {
        for day_number in -200_000..200_000 {
            assert_eq!(Date::from_day_number(day_number).day_number(), day_number);
        }
        assert_eq!(Date::new(1970, 1, 1).day_number(), 0);
        assert_eq!(Date::new(2000, 3, 1).day_number(), 11_017);
    }

    #[test]
    fn weekdays_match_known_dates() {
        let cases = [
            (Date::new(1970, 1, 1), Weekday::Thursday),
            (Date::new(2000, 1, 1), Weekday::Saturday),
            (Date::new(2024, 2, 29), Weekday::Thursday),
            (Date::new(2026, 11, 30), Weekday::Monday),
            (Date::new(2099, 12, 31), Weekday::Thursday),
        ];
        for (date, weekday) in cases {
            assert_eq!(date.weekday(), weekday, "{date}");
        }
    }

    #[test]
    fn nth_and_last_weekdays_match_known_holidays() {
        assert_eq!(Date::nth_weekday(2024, 11, Weekday::Thursday, 4), Date::new(2024, 11, 28));
        assert_eq!(Date::nth_weekday(2026, 9, Weekday::Monday, 1), Date::new(2026, 9, 7));
        assert_eq!(Date::last_weekday(2024, 5, Weekday::Monday), Date::new(2024, 5, 27));
        assert_eq!(Date::last_weekday(2021, 5, Weekday::Monday), Date::new(2021, 5, 31));
    }

    #[test]
    fn checked_constructor_rejects_impossible_dates() {
        assert!(Date::try_new(2023, 2, 29).is_none());
        assert!(Date::try_new(2024, 2, 29).is_some());
        assert!(Date::try_new(2024, 13, 1).is_none());
    }
}
