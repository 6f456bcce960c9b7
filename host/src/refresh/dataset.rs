//! Where a profile's dataset lives: its own SQLite file (`<data dir>/<profile>.db`) or its
//! own PostgreSQL schema (`dev_<profile>`), so refreshing one dataset never touches another
//! or the production tables. One database per dataset instead of a `dataset` column in a
//! shared table: `--full` is then a file delete or `DROP SCHEMA`, and a bug in a refresh
//! cannot reach rows it was never connected to.

use std::path::PathBuf;

use super::RefreshError;
use crate::plugin::limits::dataset_key;
use crate::store::{Store, StoreError};

/// Where datasets go: a folder of SQLite files, or one PostgreSQL database.
#[derive(Debug, Clone)]
pub enum DatasetHome {
    Folder(PathBuf),
    Postgres { url: String },
}

/// One profile's dataset.
#[derive(Debug, Clone)]
pub enum Dataset {
    SqliteFile(PathBuf),
    PostgresSchema { url: String, schema: String },
}

impl Dataset {
    /// The dataset of `profile_name` under `home`. Files and schemas are named by the
    /// folded name (`limits::dataset_key`: lower case, `-` as `_`), so names that fold
    /// alike share one dataset on either backend, and the load gate (no two live profiles
    /// fold alike) and `dataset_meta` (the profile recorded inside) keep them apart.
    pub fn of_profile(home: &DatasetHome, profile_name: &str) -> Dataset {
        match home {
            DatasetHome::Folder(folder) => {
                Dataset::SqliteFile(folder.join(format!("{}.db", dataset_key(profile_name))))
            }
            DatasetHome::Postgres { url } => {
                Dataset::PostgresSchema { url: url.clone(), schema: schema_name(profile_name) }
            }
        }
    }

    /// Opens the dataset, creating its folder, file or schema (and tables) if missing.
    pub async fn open(&self) -> Result<Store, RefreshError> {
        match self {
            Dataset::SqliteFile(path) => {
                if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder)
                        .map_err(|source| RefreshError::DataFolder { path: folder.to_path_buf(), source })?;
                }
                Ok(Store::open(&path.display().to_string()).await?)
            }
            Dataset::PostgresSchema { url, schema } => Ok(Store::open_schema(url, schema).await?),
        }
    }

    /// Deletes the dataset (file with its WAL and shared-memory files, or schema). A
    /// dataset that does not exist is not an error.
    pub async fn discard(&self) -> Result<(), RefreshError> {
        match self {
            Dataset::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(RefreshError::Discard { path: file, source }),
                    }
                }
                Ok(())
            }
            Dataset::PostgresSchema { url, schema } => Ok(Store::drop_schema(url, schema).await?),
        }
    }

    /// Where the dataset is, for messages and the report.
    pub fn location(&self) -> String {
        match self {
            Dataset::SqliteFile(path) => path.display().to_string(),
            // The URL may carry a password; the store redacts it once opened.
            Dataset::PostgresSchema { schema, .. } => format!("PostgreSQL schema {schema}"),
        }
    }
}

/// `dev_<profile>`: profile names allow `-` and upper case, schema names neither.
pub fn schema_name(profile_name: &str) -> String {
    format!("dev_{}", dataset_key(profile_name))
}

impl From<StoreError> for RefreshError {
    fn from(error: StoreError) -> RefreshError {
        RefreshError::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn each_profile_gets_its_own_file_or_schema() {
        let folder = DatasetHome::Folder(PathBuf::from("data"));
        assert!(
            matches!(Dataset::of_profile(&folder, "Ui-Testing"), Dataset::SqliteFile(path) if path == Path::new("data/ui_testing.db"))
        );
        let postgres = DatasetHome::Postgres { url: "postgres://localhost/dev".into() };
        assert!(
            matches!(Dataset::of_profile(&postgres, "ui-Testing"), Dataset::PostgresSchema { schema, .. } if schema == "dev_ui_testing")
        );
    }
}
