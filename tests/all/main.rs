//! The integration suite, one binary (as wasmtime's tests/all): every module below tests a
//! part of tickstock against real boundaries (wasm components built from this repository,
//! SQLite files, the local PostgreSQL and Redis, the `tickstock` binary).

mod calendar_facts;
mod support;
mod plugin_runtime;
mod store;
mod providers;
mod plugins_cli;
mod policies;
mod queue;
mod serve;
mod load;
mod refresh;
mod plugins_new;
mod calendar_swap;
mod guides;
