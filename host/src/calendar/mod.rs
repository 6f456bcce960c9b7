//! The calendar engine: trading sessions in UTC built from a calendar plugin's answers.
//! Pure: it never touches wasm, files or the network. Special days come through a
//! `YearLoader` that the plugin adapter supplies.
//!
//! (Being written: see the calendar issue. The spec types below are the contract with
//! the plugin runtime.)

pub mod spec;

pub use spec::{CalendarSpec, Certainty, DayKind, RegularHours, SpecialDay};
