//! The plugin runtime: one wasmtime engine, sandboxed calls with deadlines and memory caps,
//! a precompiled-artifact cache, and a registry of named plugins whose generations swap
//! atomically. (Being written: see the foundation issue.)

pub mod builtin;
