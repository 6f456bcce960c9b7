//! The typed requests and answers both edges speak: the `tickstock` command line (`cli`)
//! and the admin API (`server`) parse their input into these types and print or serve
//! these rows, so the two can never disagree about what an input means.
//!
//! Every parser here treats its input as hostile: sizes are bounded before anything is
//! built from them, numbers are checked, and an error names the field without copying a
//! long input whole. Depends on the core (`calendar`, `plan`), on `load` for the request
//! it builds, and on `queue` and `store` for the dead letters it shows; never on `cli` or
//! `server`.

pub mod calendar;
pub mod jobs;
pub mod load;

/// An input that was refused, with a one-line reason fit for a CLI error or a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl InvalidInput {
    pub fn new(reason: impl Into<String>) -> InvalidInput {
        InvalidInput(reason.into())
    }
}

pub use crate::text::quoted_prefix;
