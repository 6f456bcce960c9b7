//! tickstock: loads historical market bars into a database, calendar-aware and resumable,
//! with exchange calendars, batch policies and refresh profiles as WebAssembly plugins.
//!
//! The binary (`src/main.rs`) is a thin clap front end over these modules; see
//! ARCHITECTURE.md for the map.

// The pure core is its own crate (`host/core`); its modules keep their paths here.
pub use tickstock_core::{bar, calendar, gaps, plan, schedule, text};

pub mod api;
pub mod bench;
pub mod cli;
pub mod diff;
pub mod exchanges;
pub mod load;
pub mod metrics;
pub mod plugin;
pub mod provider;
pub mod queue;
pub mod redact;
pub mod refresh;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod watch;
pub mod worker;
