//! `SpecialDayList`: how an exchange's rules assemble one year. Rules add days in any
//! order; the list drops weekend dates and dates of other years, sorts, and merges days
//! that two rules put on the same date, so every calendar keeps the contract "ordered,
//! non-weekend, at most one per date" without each rule set re-implementing it.

use crate::{Certainty, Date, DayKind, SpecialDay};

/// How specific a rule is, to choose the name when two rules hit the same date and
/// their kinds agree (a closure always beats an early close, whatever the names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    /// A blanket exchange rule, e.g. Tokyo's "closed December 31 and January 1-3".
    ExchangeWide,
    /// A named holiday computed by rule.
    Holiday,
    /// A dated one-off event (a funeral, a storm, a jubilee).
    OneOff,
}

/// One day being added, with its merge priority.
#[derive(Clone, Debug)]
pub struct ListEntry {
    day: SpecialDay,
    specificity: Specificity,
}

impl ListEntry {
    /// Marks the day as the observance of a holiday that falls on `underlying`.
    pub fn observed_from(&mut self, underlying: Date) -> &mut ListEntry {
        if underlying != self.day.date {
            self.day.observed_from = Some(underlying);
        }
        self
    }

    pub fn specificity(&mut self, specificity: Specificity) -> &mut ListEntry {
        self.specificity = specificity;
        self
    }

    /// A dated one-off event, official whatever the year.
    pub fn one_off(&mut self) -> &mut ListEntry {
        self.day.certainty = Certainty::Official;
        self.specificity(Specificity::OneOff)
    }
}

/// The special days of one year, under construction.
#[derive(Clone, Debug)]
pub struct SpecialDayList {
    year: i32,
    certainty: Certainty,
    entries: Vec<ListEntry>,
}

impl SpecialDayList {
    /// An empty year. Days are official when `year <= published_through`, projected
    /// by rule after.
    pub fn new(year: i32, published_through: i32) -> SpecialDayList {
        let certainty = if year <= published_through { Certainty::Official } else { Certainty::Projected };
        SpecialDayList { year, certainty, entries: Vec::new() }
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    /// Adds a day; chain `.observed_from(..)`, `.one_off()` or `.specificity(..)` on the
    /// result. Rules may add dates on weekends or in other years: `finish` drops them.
    pub fn add(
        &mut self,
        date: Date,
        kind: DayKind,
        name: impl Into<String>,
        rule: impl Into<String>,
        source: &str,
    ) -> &mut ListEntry {
        self.entries.push(ListEntry {
            day: SpecialDay {
                date,
                name: name.into(),
                kind,
                certainty: self.certainty,
                rule: rule.into(),
                source: source.to_owned(),
                observed_from: None,
            },
            specificity: Specificity::Holiday,
        });
        self.entries.last_mut().expect("just pushed")
    }

    pub fn closed(
        &mut self,
        date: Date,
        name: impl Into<String>,
        rule: impl Into<String>,
        source: &str,
    ) -> &mut ListEntry {
        self.add(date, DayKind::Closed, name, rule, source)
    }

    /// Whether some rule already closes the exchange on `date` (for rules defined
    /// relative to trading days, such as "the last trading day of the year").
    pub fn is_closed(&self, date: Date) -> bool {
        self.entries.iter().any(|entry| entry.day.date == date && entry.day.kind == DayKind::Closed)
    }

    /// Whether `date` is a weekday that no rule closes.
    pub fn is_trading_day(&self, date: Date) -> bool {
        !date.is_weekend() && !self.is_closed(date)
    }

    /// The year's days: only this year's weekdays, ordered, one per date. When two
    /// rules hit one date a closure beats an early close or late open, then the more
    /// specific rule wins, then the one added first.
    pub fn finish(self) -> Vec<SpecialDay> {
        let year = self.year;
        let mut entries: Vec<ListEntry> = self
            .entries
            .into_iter()
            .filter(|entry| entry.day.date.year == year && !entry.day.date.is_weekend())
            .collect();
        // Stable sort: among equal dates the order of addition is kept for the tie-break.
        entries.sort_by_key(|entry| entry.day.date);
        let mut merged: Vec<ListEntry> = Vec::with_capacity(entries.len());
        for entry in entries {
            match merged.last_mut() {
                Some(kept) if kept.day.date == entry.day.date => {
                    if outranks(&entry, kept) {
                        *kept = entry;
                    }
                }
                _ => merged.push(entry),
            }
        }
        merged.into_iter().map(|entry| entry.day).collect()
    }
}

fn outranks(challenger: &ListEntry, kept: &ListEntry) -> bool {
    let challenger_closed = challenger.day.kind == DayKind::Closed;
    let kept_closed = kept.day.kind == DayKind::Closed;
    if challenger_closed != kept_closed {
        return challenger_closed;
    }
    challenger.specificity > kept.specificity
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalTime;

    #[test]
    fn closure_beats_early_close_on_the_same_date() {
        let mut list = SpecialDayList::new(2024, 2030);
        let date = Date::new(2024, 12, 24);
        list.add(date, DayKind::EarlyClose(LocalTime::new(13, 0)), "Christmas Eve", "r", "s").one_off();
        list.closed(date, "Storm", "r", "s");
        let days = list.finish();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].kind, DayKind::Closed);
        assert_eq!(days[0].name, "Storm");
    }

    #[test]
    fn more_specific_name_wins_between_two_closures() {
        let mut list = SpecialDayList::new(2023, 2030);
        let date = Date::new(2023, 1, 2);
        list.closed(date, "New Year market holiday", "r", "s").specificity(Specificity::ExchangeWide);
        list.closed(date, "Substitute holiday", "r", "s");
        let days = list.finish();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].name, "Substitute holiday");
    }

    #[test]
    fn weekends_and_other_years_are_dropped_and_the_rest_sorted() {
        let mut list = SpecialDayList::new(2024, 2030);
        list.closed(Date::new(2024, 12, 25), "b", "r", "s");
        list.closed(Date::new(2024, 7, 6), "saturday", "r", "s");
        list.closed(Date::new(2025, 1, 1), "next year", "r", "s");
        list.closed(Date::new(2024, 1, 1), "a", "r", "s");
        let dates: Vec<Date> = list.finish().iter().map(|day| day.date).collect();
        assert_eq!(dates, vec![Date::new(2024, 1, 1), Date::new(2024, 12, 25)]);
    }

    #[test]
    fn days_after_published_through_are_projected() {
        let mut published = SpecialDayList::new(2027, 2027);
        published.closed(Date::new(2027, 1, 1), "a", "r", "s");
        assert_eq!(published.finish()[0].certainty, Certainty::Official);
        let mut projected = SpecialDayList::new(2028, 2027);
        projected.closed(Date::new(2028, 1, 3), "a", "r", "s");
        assert_eq!(projected.finish()[0].certainty, Certainty::Projected);
    }
}
