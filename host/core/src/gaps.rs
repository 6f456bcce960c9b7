//! Gap detection's pure half: given the expected sessions and the stamps (start,
//! written_at) of the bars a store holds, which sessions lack final data, coalesced into
//! the fewest runs. No I/O; the store runs one query per symbol batch and calls these.
//!
//! Gaps are counted in sessions, not calendar days: the input is the calendar's session
//! list, so a weekend or holiday is simply absent from it and can neither be a gap nor
//! split one. A half day is a session like any other.
//!
//! For minute bars a session is present only when every expected minute of it (open to
//! close, lunch break excluded) has a final bar. The rejected alternative, minute-level
//! gaps, would hand the planner thousands of one-minute ranges for a patchy symbol when
//! every provider fetches minute data by the day anyway.
//!
//! Depends on `calendar` and `plan`; never on any adapter (the core crate has none).

use std::ops::Range;

use chrono::{DateTime, Duration, Utc};

use crate::calendar::Session;
use crate::plan::Timeframe;

/// What gap detection needs of one stored bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarStamp {
    pub start: DateTime<Utc>,
    pub written_at: DateTime<Utc>,
}

const ONE_MINUTE: Duration = Duration::minutes(1);

/// The starts of the minute bars a session is expected to have: every minute from the
/// open up to the close, skipping the lunch break.
pub fn minute_bar_starts(session: &Session) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    let minute_count = ((session.close - session.open).num_seconds().max(0) as u64).div_ceil(60) as i64;
    (0..minute_count).map(move |minute| session.open + Duration::minutes(minute)).filter(move |start| {
        !session.lunch_break.is_some_and(|(break_start, break_end)| break_start <= *start && *start < break_end)
    })
}

/// For each session (in order), whether the stamps cover it with final data.
///
/// `sessions` must be sorted by date and not overlap (as the calendar returns them).
/// Stamps that match no expected bar (a bar on a holiday, a pre-market minute) are
/// ignored: they neither fill nor cause a gap.
pub fn sessions_with_final_bars(timeframe: Timeframe, sessions: &[Session], stamps: &[BarStamp]) -> Vec<bool> {
    match timeframe {
        Timeframe::Daily => {
            let mut present = vec![false; sessions.len()];
            for stamp in stamps {
                let date = stamp.start.date_naive();
                if let Ok(index) = sessions.binary_search_by_key(&date, |session| session.date)
                    && stamp.start == Timeframe::daily_bar_start(date)
                    && stamp.written_at >= sessions[index].close
                {
                    present[index] = true;
                }
            }
            present
        }
        Timeframe::Minute => {
            let mut final_minutes = vec![0usize; sessions.len()];
            for stamp in stamps {
                let after = sessions.partition_point(|session| session.open <= stamp.start);
                let Some(index) = after.checked_sub(1) else { continue };
                let session = &sessions[index];
                let offset_seconds = (stamp.start - session.open).num_seconds();
                let on_a_session_minute = stamp.start < session.close
                    && offset_seconds % 60 == 0
                    && !session.lunch_break.is_some_and(|(start, end)| start <= stamp.start && stamp.start < end);
                if on_a_session_minute && stamp.written_at >= stamp.start + ONE_MINUTE {
                    final_minutes[index] += 1;
                }
            }
            sessions
                .iter()
                .zip(final_minutes)
                .map(|(session, final_count)| final_count >= minute_bar_starts(session).count())
                .collect()
        }
    }
}

/// Index ranges of maximal runs of `false` in `present`: the fewest ranges that cover
/// every missing session and nothing else.
pub fn coalesce_missing(present: &[bool]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut run_start = None;
    for (index, &is_present) in present.iter().enumerate() {
        match (is_present, run_start) {
            (false, None) => run_start = Some(index),
            (true, Some(start)) => {
                ranges.push(start..index);
                run_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = run_start {
        ranges.push(start..present.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn instant(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
    }

    /// A 14:30-21:00 UTC session (New York in winter), or a Tokyo-like one with a break.
    fn session(day: u32, lunch_break: bool) -> Session {
        let date = NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
        if lunch_break {
            Session {
                date,
                open: instant(date, 0, 0),
                close: instant(date, 6, 0),
                lunch_break: Some((instant(date, 2, 30), instant(date, 3, 30))),
            }
        } else {
            Session { date, open: instant(date, 14, 30), close: instant(date, 21, 0), lunch_break: None }
        }
    }

    fn daily_stamp(session: &Session, written_at: DateTime<Utc>) -> BarStamp {
        BarStamp { start: Timeframe::daily_bar_start(session.date), written_at }
    }

    // A table of expected runs: `&[0..3]` is one run of three sessions, not a range meant
    // to be collected, which is what the lint suspects.
    #[allow(clippy::single_range_in_vec_init)]
    #[test]
    fn coalescing_yields_maximal_runs_of_missing_sessions() {
        let cases: &[(&[bool], &[Range<usize>])] = &[
            (&[], &[]),
            (&[true, true], &[]),
            (&[false, false, false], &[0..3]),
            (&[false, true, false, false, true], &[0..1, 2..4]),
            (&[true, false, true, false], &[1..2, 3..4]),
        ];
        for (present, expected) in cases {
            assert_eq!(coalesce_missing(present), *expected, "present = {present:?}");
        }
    }

    #[test]
    fn daily_bar_written_before_the_close_is_stale_and_after_it_final() {
        let sessions = [session(2, false), session(3, false), session(4, false)];
        let stamps = [
            daily_stamp(&sessions[0], sessions[0].close),
            daily_stamp(&sessions[1], sessions[1].close - Duration::seconds(1)),
            daily_stamp(&sessions[2], sessions[2].close + Duration::hours(3)),
        ];
        assert_eq!(sessions_with_final_bars(Timeframe::Daily, &sessions, &stamps), vec![true, false, true]);
    }

    #[test]
    fn daily_bars_on_days_that_are_not_sessions_are_ignored() {
        // Jan 2 and Jan 4 are sessions; a bar dated Jan 3 (say a holiday) fills neither.
        let sessions = [session(2, false), session(4, false)];
        let holiday = session(3, false);
        let stamps = [daily_stamp(&holiday, holiday.close)];
        assert_eq!(sessions_with_final_bars(Timeframe::Daily, &sessions, &stamps), vec![false, false]);
    }

    #[test]
    fn minute_bars_skip_the_lunch_break_and_need_every_minute_final() {
        let with_break = session(5, true);
        let starts: Vec<_> = minute_bar_starts(&with_break).collect();
        assert_eq!(starts.len(), 5 * 60, "6 hours minus a 1 hour break");
        assert!(
            starts
                .iter()
                .all(|start| !(with_break.lunch_break.unwrap().0 <= *start
                    && *start < with_break.lunch_break.unwrap().1))
        );

        let sessions = [with_break];
        let all_final: Vec<_> =
            starts.iter().map(|&start| BarStamp { start, written_at: start + ONE_MINUTE }).collect();
        assert_eq!(sessions_with_final_bars(Timeframe::Minute, &sessions, &all_final), vec![true]);

        let mut last_minute_stale = all_final.clone();
        last_minute_stale.last_mut().unwrap().written_at = with_break.close - Duration::seconds(30);
        assert_eq!(sessions_with_final_bars(Timeframe::Minute, &sessions, &last_minute_stale), vec![false]);

        let mut one_missing = all_final.clone();
        one_missing.remove(17);
        assert_eq!(sessions_with_final_bars(Timeframe::Minute, &sessions, &one_missing), vec![false]);
    }

    #[test]
    fn minute_bars_inside_the_break_do_not_make_up_for_missing_ones() {
        let with_break = session(5, true);
        let (break_start, _) = with_break.lunch_break.unwrap();
        let mut stamps: Vec<_> =
            minute_bar_starts(&with_break).map(|start| BarStamp { start, written_at: with_break.close }).collect();
        stamps.remove(0);
        stamps.push(BarStamp { start: break_start, written_at: with_break.close });
        assert_eq!(sessions_with_final_bars(Timeframe::Minute, &[with_break], &stamps), vec![false]);
    }
}
