//! Why the calendar engine could not answer. Every variant names the exchange, so a message
//! that reaches a log or the command line on its own still says which calendar refused.

/// An error from building or querying a `Calendar`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The question falls in a year the calendar does not cover. The engine never guesses
    /// a year the plugin did not answer for.
    #[error("{mic}: year {year} is outside the calendar's range {first}..={last}")]
    YearOutOfRange { mic: String, year: i32, first: i32, last: i32 },

    /// The plugin failed to answer, or answered something the engine cannot use (a special
    /// day outside the year asked for, two entries for one date, an early close after the
    /// regular close...).
    #[error("{mic}: calendar plugin: {message}")]
    Plugin { mic: String, message: String },

    /// The static facts are unusable: hours out of order, an open after its close, a lunch
    /// break outside the session, an empty year range.
    #[error("{mic}: invalid calendar spec: {reason}")]
    InvalidSpec { mic: String, reason: String },

    /// A search for the next open or close found none in `years` years from `from_year`
    /// on (a calendar that never trades): it gives up rather than ask the plugin for every
    /// year it covers.
    #[error("{mic}: no trading in the {years} years from {from_year} on; the search gives up there")]
    NoSessionWithin { mic: String, from_year: i32, years: usize },

    /// A range query whose start lies after its end.
    #[error("the range starts at {from}, after its end at {to}")]
    FromAfterTo { from: String, to: String },
}
