//! Maintenance windows: the intervals in which every one of a set of exchanges is closed,
//! across their timezones.

use chrono::{DateTime, Utc};

use super::year::utc_from_seconds;
use super::{Calendar, CalendarError, Edge, Window};

/// The maximal intervals inside `[from, to)` in which all `calendars` are closed (on a
/// lunch break counts as closed), in order. With no calendars the whole range is one
/// window. Windows are clipped to the range, so the first may start at `from` and the
/// last end at `to`.
pub fn windows(calendars: &[&Calendar], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Window>, CalendarError> {
    if from > to {
        return Err(CalendarError::FromAfterTo { from: from.to_rfc3339(), to: to.to_rfc3339() });
    }
    let end = to.timestamp();
    let mut cursor = from.timestamp();
    let mut found = Vec::new();
    while cursor < end {
        // Walk forward until nobody is trading: each open calendar moves the cursor to its
        // next close, which may land inside another calendar's session, hence the loop.
        let mut someone_open = true;
        while someone_open && cursor < end {
            someone_open = false;
            for calendar in calendars {
                if calendar.is_open_at(cursor)? {
                    someone_open = true;
                    cursor = calendar.next_edge(cursor, Edge::Close, end)?.map_or(end, |(close, _)| close);
                    if cursor >= end {
                        break;
                    }
                }
            }
        }
        if cursor >= end {
            break;
        }
        // Everyone is closed at the cursor: the window lasts until the first of them opens.
        let mut window_end = end;
        for calendar in calendars {
            if let Some((open, _)) = calendar.next_edge(cursor, Edge::Open, window_end)? {
                window_end = window_end.min(open);
            }
        }
        found.push(Window { start: utc_from_seconds(cursor), end: utc_from_seconds(window_end) });
        cursor = window_end;
    }
    Ok(found)
}
