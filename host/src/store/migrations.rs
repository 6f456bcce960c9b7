//! The store's schema migrations, embedded in the binary so a store is created and
//! upgraded on first use with no files beside the binary.
//!
//! sqlx's own `Migrator` applies them (version table `_sqlx_migrations`, checksums that
//! refuse an edited migration, an advisory lock on PostgreSQL so parallel workers opening
//! one database migrate it once). We feed it from `include_str!` instead of the
//! `sqlx::migrate!` macro, which would pull in sqlx's `macros` feature and its proc-macro
//! build for a handful of files.
//!
//! Rule: a migration that has shipped is never edited (its checksum is stored); add a new
//! numbered file instead, in both folders.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL) for SQLite, oldest first.
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "bars", include_str!("../../migrations/sqlite/0001_bars.sql")),
    (2, "dataset meta", include_str!("../../migrations/sqlite/0002_dataset_meta.sql")),
    (3, "load ledger", include_str!("../../migrations/sqlite/0003_load_ledger.sql")),
    (4, "complete sessions", include_str!("../../migrations/sqlite/0004_complete_sessions.sql")),
];

/// (version, description, SQL) for PostgreSQL, oldest first.
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "bars", include_str!("../../migrations/postgres/0001_bars.sql")),
    (2, "dataset meta", include_str!("../../migrations/postgres/0002_dataset_meta.sql")),
    (3, "load ledger", include_str!("../../migrations/postgres/0003_load_ledger.sql")),
    (4, "complete sessions", include_str!("../../migrations/postgres/0004_complete_sessions.sql")),
];

#[derive(Debug, Clone, Copy)]
struct EmbeddedMigrations(&'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(super) async fn sqlite_migrator() -> Migrator {
    Migrator::new(EmbeddedMigrations(SQLITE)).await.expect("embedded migrations always resolve")
}

pub(super) async fn postgres_migrator() -> Migrator {
    Migrator::new(EmbeddedMigrations(POSTGRES)).await.expect("embedded migrations always resolve")
}
