//! SQL both backends share: the statements whose text is the same on SQLite and
//! PostgreSQL, and the `WHERE` clause of a [`BarSelection`]. What differs stays in each
//! backend: placeholders in fixed statements (`?` against `$1`), how an instant is stored
//! (Unix seconds in SQLite, `timestamptz` in PostgreSQL) and the bulk write paths.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::BarSelection;

/// Every column of a bar, in `bar_from_row`'s order.
pub(super) const SELECT_BARS: &str =
    "SELECT symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at FROM bars";

/// The order bars are read in: the key's.
pub(super) const ORDER_BARS: &str = " ORDER BY symbol, exchange, timeframe, bar_start";

pub(super) const COUNT_BARS: &str = "SELECT COUNT(*) FROM bars";

pub(super) const SELECT_DATASET_META: &str = "SELECT key, value FROM dataset_meta";

pub(super) const DELETE_DATASET_META: &str = "DELETE FROM dataset_meta";

/// Appends `WHERE ...` for the selection's conditions (nothing when it selects every
/// bar). `stamp` turns an instant into the backend's stored form.
pub(super) fn push_selection<'args, DB, Stamp>(
    builder: &mut QueryBuilder<'args, DB>,
    selection: &BarSelection,
    stamp: impl Fn(DateTime<Utc>) -> Stamp,
) where
    DB: Database,
    String: 'args + Encode<'args, DB> + Type<DB>,
    &'static str: 'args + Encode<'args, DB> + Type<DB>,
    Stamp: 'args + Encode<'args, DB> + Type<DB>,
{
    let mut keyword = " WHERE ";
    let mut next = |builder: &mut QueryBuilder<'args, DB>, condition: &str| {
        builder.push(keyword).push(condition);
        keyword = " AND ";
    };
    if let Some(symbol) = &selection.symbol {
        next(builder, "symbol = ");
        builder.push_bind(symbol.clone());
    }
    if let Some(exchange) = &selection.exchange {
        next(builder, "exchange = ");
        builder.push_bind(exchange.clone());
    }
    if let Some(timeframe) = selection.timeframe {
        next(builder, "timeframe = ");
        builder.push_bind(timeframe.as_str());
    }
    if let Some(start_from) = selection.start_from {
        next(builder, "bar_start >= ");
        builder.push_bind(stamp(start_from));
    }
    if let Some(start_before) = selection.start_before {
        next(builder, "bar_start < ");
        builder.push_bind(stamp(start_before));
    }
}
