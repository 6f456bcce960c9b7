//! The plugin runtime: one wasmtime engine, sandboxed calls with deadlines and memory caps,
//! a precompiled-artifact cache, and a registry of named plugins whose generations swap
//! atomically.
//!
//! The path of a plugin from bytes to live: `load::prepare` checks the bytes, compiles
//! them (or reuses a cached artifact), type-checks them against their world, calls
//! `describe` and the kind's own checks (a calendar must answer `info` and build its
//! current years), and only then does `Registry` publish the result as a new generation.
//! A call runs in an instance of the generation that is kept between calls only while its
//! calls end cleanly (`pool.rs`): a trap, a deadline, the memory cap, an invalid answer,
//! output or growth drops it, so one call's trouble never reaches the next
//! (`sandbox.rs`).
//!
//! Depends on the core (`calendar`, `plan`) and wasmtime; never on the store, queue,
//! provider or edges.

pub mod artifact_cache;
pub mod bindings;
pub mod builtin;
pub mod calendar;
pub mod call_stats;
pub mod error;
pub mod kind;
pub mod limits;
pub mod load;
pub mod policy;
pub mod pool;
pub mod profile;
pub mod registry;
pub mod runtime;
pub mod sandbox;
pub mod state;

pub use call_stats::{CallSummary, RecentCallError};
pub use error::{CallError, CallFailure, PluginId, PluginLoadError};
pub use load::{Generation, Identity, PluginKind, PluginSource};
pub use registry::{PluginEntry, Registry};
pub use runtime::{CallObserver, CallRecord, Limits, Runtime, RuntimeOptions};
