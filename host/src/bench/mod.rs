//! Benchmark harnesses behind `tickstock bench` and `cargo bench`: they measure the
//! library from outside, as a user's load would, and report figures as JSON or text.
//! Depends on the library's adapters and `server`; never on `cli`, which only parses
//! `tickstock bench`'s flags and calls in here. Nothing in the library depends on it.

pub mod calendar;
pub mod load;
pub mod plan;
pub mod plugins;
pub mod queue;
pub mod serve;
pub mod store;
