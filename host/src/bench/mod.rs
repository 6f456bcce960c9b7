//! Benchmark harnesses behind `tickstock bench` and `cargo bench`: they measure the
//! library from outside, as a user's load would, and report figures as JSON or text.
//! Depends on the library's adapters; nothing in the library depends on it.

pub mod store;
