//! Shared test plumbing: where the built guests are, how to run the binary, and how to
//! reach the external services.
//!
//! Services are found through the environment: `TICKSTOCK_TEST_POSTGRES_URL` and
//! `TICKSTOCK_TEST_REDIS_URL` (`.ci/run` sets both). On a laptop without them a test that
//! needs one prints why and returns early; under `CI=true` a missing service fails the test.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Folder holding every guest built by host/build.rs, test fixtures included.
pub fn guest_dir() -> PathBuf {
    PathBuf::from(env!("TICKSTOCK_GUEST_DIR"))
}

/// Path of one built guest, e.g. `fixture_hostile_calendar.wasm`.
pub fn guest(file_name: &str) -> PathBuf {
    let path = guest_dir().join(file_name);
    assert!(path.exists(), "guest {} was not built", path.display());
    path
}

/// A `tickstock` command with its artifact cache in the given temp dir, so tests write
/// nothing outside temp dirs.
pub fn tickstock(cache_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command.env("TICKSTOCK_CACHE_DIR", cache_dir).env_remove("TICKSTOCK_DB");
    command
}

fn under_ci() -> bool {
    std::env::var("CI").map(|value| value == "true" || value == "1").unwrap_or(false)
}

/// The URL of a service from `variable`, or None (with a printed reason) when it is not
/// configured on a developer machine. Under CI a missing service is a test failure.
fn service_url(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if under_ci() => panic!("CI=true but {variable} is not set: {what} is required"),
        _ => {
            eprintln!("skipping: {variable} is not set, so this test has no {what} to run against");
            None
        }
    }
}

/// PostgreSQL URL for tests (`TICKSTOCK_TEST_POSTGRES_URL`).
pub fn postgres_url() -> Option<String> {
    service_url("TICKSTOCK_TEST_POSTGRES_URL", "PostgreSQL")
}

/// Redis URL for tests (`TICKSTOCK_TEST_REDIS_URL`).
pub fn redis_url() -> Option<String> {
    service_url("TICKSTOCK_TEST_REDIS_URL", "Redis")
}
