//! Behavioural differences between two versions of a plugin: for calendars the special
//! days added, removed or changed over a date range; for batch policies the plans both
//! make for the same sample request; for refresh profiles the profiles added, removed or
//! changed. The folder watcher logs a calendar's changes before a new generation goes
//! live, and `tickstock plugins diff` prints them offline.
//!
//! The calendar comparison works on two `Calendar`s (the engine, not the plugin), so it
//! compares exactly what queries would see; it does no I/O of its own, though building a
//! year the calendars have not built yet calls their plugin through their `YearLoader`.
//!
//! Depends on `calendar`, `plan` and `plugin`; never on the store, queue or edges.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError, DayKind, SpecialDay};
use crate::plan::{PlanRequest, PlannedJob};
use crate::plugin::profile::Profile;

/// A special day as the difference shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecialDaySummary {
    pub name: String,
    /// `closed`, `early close 13:00`, `late open 10:30`.
    pub kind: String,
}

impl SpecialDaySummary {
    fn of(day: &SpecialDay) -> SpecialDaySummary {
        let kind = match day.kind {
            DayKind::Closed => "closed".to_string(),
            DayKind::EarlyClose(at) => format!("early close {}", at.format("%H:%M")),
            DayKind::LateOpen(at) => format!("late open {}", at.format("%H:%M")),
        };
        SpecialDaySummary { name: day.name.clone(), kind }
    }
}

/// One date whose special day differs between two calendars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum SpecialDayChange {
    Added { date: NaiveDate, after: SpecialDaySummary },
    Removed { date: NaiveDate, before: SpecialDaySummary },
    Changed { date: NaiveDate, before: SpecialDaySummary, after: SpecialDaySummary },
}

impl SpecialDayChange {
    pub fn date(&self) -> NaiveDate {
        match self {
            SpecialDayChange::Added { date, .. }
            | SpecialDayChange::Removed { date, .. }
            | SpecialDayChange::Changed { date, .. } => *date,
        }
    }
}

impl std::fmt::Display for SpecialDayChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecialDayChange::Added { date, after } => write!(f, "+ {date} {} ({})", after.name, after.kind),
            SpecialDayChange::Removed { date, before } => write!(f, "- {date} {} ({})", before.name, before.kind),
            SpecialDayChange::Changed { date, before, after } => {
                write!(f, "~ {date} {} ({}) -> {} ({})", before.name, before.kind, after.name, after.kind)
            }
        }
    }
}

/// Special days that differ between `old` and `new` on dates `from..=to`, by date. Only
/// the name and the kind count: a new `source` or `rule` text changes no session. A year
/// one calendar does not cover counts as having no special days there.
pub fn special_day_changes(
    old: &Calendar,
    new: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SpecialDayChange>, CalendarError> {
    if from > to {
        return Err(CalendarError::FromAfterTo { from: from.to_string(), to: to.to_string() });
    }
    let mut changes = Vec::new();
    for year in from.year()..=to.year() {
        let before = days_by_date(old, year, from, to)?;
        let after = days_by_date(new, year, from, to)?;
        let dates: std::collections::BTreeSet<NaiveDate> = before.keys().chain(after.keys()).copied().collect();
        for date in dates {
            match (before.get(&date), after.get(&date)) {
                (None, Some(after)) => changes.push(SpecialDayChange::Added { date, after: after.clone() }),
                (Some(before), None) => changes.push(SpecialDayChange::Removed { date, before: before.clone() }),
                (Some(before), Some(after)) if before != after => {
                    changes.push(SpecialDayChange::Changed { date, before: before.clone(), after: after.clone() })
                }
                _ => {}
            }
        }
    }
    Ok(changes)
}

fn days_by_date(
    calendar: &Calendar,
    year: i32,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, SpecialDaySummary>, CalendarError> {
    let spec = calendar.spec();
    if !(spec.first_year..=spec.last_year).contains(&year) {
        return Ok(BTreeMap::new());
    }
    Ok(calendar
        .special_days(year)?
        .iter()
        .filter(|day| (from..=to).contains(&day.date))
        .map(|day| (day.date, SpecialDaySummary::of(day)))
        .collect())
}

/// `from` plus `months` calendar months (clamped to the month's last day).
pub fn months_after(from: NaiveDate, months: u32) -> NaiveDate {
    from.checked_add_months(chrono::Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// One job of a plan, with its gaps spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSummary {
    pub tier: String,
    /// `SYMBOL start..end` per gap, in the job's order.
    pub gaps: Vec<String>,
}

/// The plans two policies make for the same request.
#[derive(Debug, Clone, Serialize)]
pub struct PlanDifference {
    pub old_jobs: Vec<JobSummary>,
    pub new_jobs: Vec<JobSummary>,
    /// Jobs (as sets of gaps and a tier) only the old plan has.
    pub only_old: Vec<JobSummary>,
    /// Jobs only the new plan has.
    pub only_new: Vec<JobSummary>,
}

impl PlanDifference {
    pub fn is_empty(&self) -> bool {
        self.only_old.is_empty() && self.only_new.is_empty()
    }
}

pub fn plan_difference(request: &PlanRequest, old: &[PlannedJob], new: &[PlannedJob]) -> PlanDifference {
    let summarise = |jobs: &[PlannedJob]| -> Vec<JobSummary> {
        jobs.iter()
            .map(|job| JobSummary {
                tier: job.tier.as_str().to_string(),
                gaps: job
                    .gaps
                    .iter()
                    .map(|&index| match request.gaps.get(index as usize) {
                        Some(gap) => format!("{} {}..{}", gap.symbol, gap.start, gap.end),
                        None => format!("gap #{index} (out of range)"),
                    })
                    .collect(),
            })
            .collect()
    };
    let old_jobs = summarise(old);
    let new_jobs = summarise(new);
    // Jobs compare as (tier, sorted gaps): the order a policy lists jobs in, or gaps in a
    // job, changes nothing the workers do.
    let key = |job: &JobSummary| {
        let mut gaps = job.gaps.clone();
        gaps.sort();
        (job.tier.clone(), gaps)
    };
    let old_keys: Vec<_> = old_jobs.iter().map(key).collect();
    let new_keys: Vec<_> = new_jobs.iter().map(key).collect();
    let only_old = old_jobs.iter().filter(|job| !new_keys.contains(&key(job))).cloned().collect();
    let only_new = new_jobs.iter().filter(|job| !old_keys.contains(&key(job))).cloned().collect();
    PlanDifference { old_jobs, new_jobs, only_old, only_new }
}

/// Profiles that differ between two refresh-profile plugins, by name.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileDifference {
    pub added: Vec<Profile>,
    pub removed: Vec<Profile>,
    pub changed: Vec<(Profile, Profile)>,
}

impl ProfileDifference {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

pub fn profile_difference(old: &[Profile], new: &[Profile]) -> ProfileDifference {
    let by_name = |profiles: &[Profile]| -> BTreeMap<String, Profile> {
        profiles.iter().map(|profile| (profile.name.clone(), profile.clone())).collect()
    };
    let (old, new) = (by_name(old), by_name(new));
    ProfileDifference {
        added: new.iter().filter(|(name, _)| !old.contains_key(*name)).map(|(_, p)| p.clone()).collect(),
        removed: old.iter().filter(|(name, _)| !new.contains_key(*name)).map(|(_, p)| p.clone()).collect(),
        changed: old
            .iter()
            .filter_map(|(name, before)| {
                let after = new.get(name)?;
                (after != before).then(|| (before.clone(), after.clone()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarSpec, Certainty, RegularHours};
    use chrono::{NaiveTime, Weekday};

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// A UTC calendar whose special days are the given (date, name, kind) rows.
    fn calendar(days: Vec<(&'static str, &'static str, DayKind)>) -> Calendar {
        let spec = CalendarSpec {
            mic: "ZZTEST".into(),
            exchange_name: "test".into(),
            timezone: chrono_tz::UTC,
            weekend: vec![Weekday::Sat, Weekday::Sun],
            first_session: date("2020-01-01"),
            first_year: 2020,
            last_year: 2030,
            published_through: 2030,
            hours: vec![RegularHours {
                effective_from: date("2020-01-01"),
                open: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                close: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
                lunch_break: None,
            }],
        };
        let loader = Box::new(move |year: i32| {
            Ok(days
                .iter()
                .filter(|(text, _, _)| date(text).year() == year)
                .map(|(text, name, kind)| SpecialDay {
                    date: date(text),
                    name: name.to_string(),
                    kind: *kind,
                    certainty: Certainty::Official,
                    rule: String::new(),
                    source: String::new(),
                    observed_from: None,
                })
                .collect())
        });
        Calendar::new(spec, loader).unwrap()
    }

    #[test]
    fn special_day_changes_list_added_removed_and_changed_days_in_range_only() {
        let early = DayKind::EarlyClose(NaiveTime::from_hms_opt(13, 0, 0).unwrap());
        let old = calendar(vec![
            ("2024-01-01", "New Year", DayKind::Closed),
            ("2024-07-03", "Eve", DayKind::Closed),
            ("2024-12-24", "Christmas Eve", DayKind::Closed),
            ("2026-01-01", "New Year", DayKind::Closed),
        ]);
        let new = calendar(vec![
            ("2024-01-01", "New Year", DayKind::Closed),
            ("2024-07-03", "Eve", early),
            ("2025-03-03", "Storm", DayKind::Closed),
        ]);
        let changes = special_day_changes(&old, &new, date("2024-06-01"), date("2025-12-31")).unwrap();
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "~ 2024-07-03 Eve (closed) -> Eve (early close 13:00)",
                "- 2024-12-24 Christmas Eve (closed)",
                "+ 2025-03-03 Storm (closed)",
            ]
        );
    }

    #[test]
    fn identical_calendars_have_no_changes() {
        let days = vec![("2024-01-01", "New Year", DayKind::Closed)];
        let changes =
            special_day_changes(&calendar(days.clone()), &calendar(days), date("2024-01-01"), date("2025-12-31"));
        assert_eq!(changes.unwrap(), vec![]);
    }
}
