-- Metadata of a development dataset (`tickstock refresh`): which profile built it, its
-- feature tags, its window, when it was refreshed. One row per key; values are text
-- (lists as JSON arrays) so any tool reading the database can use them without tickstock.
-- Unqualified name: it lands in the dataset's own schema (search_path), next to its bars.
-- A production store has the table too, empty: additive, and one schema for every store.
CREATE TABLE dataset_meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
