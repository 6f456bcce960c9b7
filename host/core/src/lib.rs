//! tickstock's core: the domain types (bars, timeframes, tiers, listings, gaps), the
//! calendar engine, plan checking, gap coalescing and the workers' scheduling decisions.
//!
//! Pure: no wasm, no database, no queue, no async runtime, no command line. Data and clocks
//! come in as parameters. Its `Cargo.toml` lists only chrono, chrono-tz, serde and
//! thiserror, so the compiler keeps it that way; the `tickstock` crate's adapters (plugin
//! runtime, store, queue, providers) and its two edges (`cli`, `server`) sit around it.

pub mod bar;
pub mod calendar;
pub mod gaps;
pub mod plan;
pub mod schedule;
pub mod text;
