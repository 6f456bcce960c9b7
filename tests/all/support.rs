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

/// Runtime options for tests that are not about the call deadline: the default 100 ms is
/// a production limit, and on a loaded 2-core machine running the suite in parallel a
/// policy's `plan` or a calendar year can take longer, which would fail a test of what the
/// plugin answers for a reason it does not test. The deadline tests set their own.
pub fn patient_runtime_options() -> tickstock::plugin::RuntimeOptions {
    let limits = tickstock::plugin::Limits {
        deadline: std::time::Duration::from_secs(10),
        ..tickstock::plugin::Limits::default()
    };
    tickstock::plugin::RuntimeOptions { limits, ..tickstock::plugin::RuntimeOptions::default() }
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

/// A fresh PostgreSQL database for one test, dropped (with everything in it) when the
/// guard goes. `admin_url` names any database the test user may connect to.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create(admin_url: &str) -> TestDatabase {
        let name = format!(
            "tickstock_test_{}_{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros()
        );
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(admin_url).await.expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await.unwrap();
        });
        let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(admin_url);
        TestDatabase { admin_url: admin_url.to_string(), url: format!("{base}/{name}"), name }
    }

    /// The first column of the first row of `sql` as an integer (a count).
    pub fn count(&self, sql: &str) -> i64 {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut connection).await.unwrap_or_else(|error| panic!("{sql}: {error}"))
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use sqlx::Connection as _;
            if let Ok(mut connection) = sqlx::PgConnection::connect(&self.admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut connection)
                    .await;
            }
        });
    }
}
