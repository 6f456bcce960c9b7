//! The integration suite, one binary (as wasmtime's tests/all): every module below tests a
//! part of tickstock against real boundaries (wasm components built from this repository,
//! SQLite files, the local PostgreSQL and Redis, the `tickstock` binary).

mod architecture;
mod bench;
mod calendar_cli;
mod calendar_facts;
mod calendar_swap;
mod cli;
mod config_file;
mod console;
mod exit_codes;
mod guides;
mod ledger;
mod load;
mod openapi;
mod ops_logs;
mod parsers;
mod plugin_answers;
mod plugin_folder;
mod plugin_runtime;
mod plugins_cli;
mod plugins_new;
mod policies;
mod providers;
mod queue;
mod refresh;
mod remote;
mod security;
mod serve;
mod store;
mod support;
mod worker;
