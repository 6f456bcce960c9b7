//! Bars: one OHLCV observation of a symbol on an exchange, the unit the store keeps and
//! providers return. Depends on `plan` (for `Timeframe`); never on any adapter.

use chrono::{DateTime, Utc};

use crate::plan::Timeframe;

/// One OHLCV bar as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bar {
    pub symbol: String,
    /// ISO 10383 MIC, e.g. `XNYS`.
    pub exchange: String,
    pub timeframe: Timeframe,
    /// Daily: session date at 00:00 UTC ([`Timeframe::daily_bar_start`]); minute: the
    /// minute's first instant.
    pub start: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: i64,
    /// When the data was observed; decides final versus stale (see the module docs).
    pub written_at: DateTime<Utc>,
}

impl Bar {
    /// Why this bar must not be stored, if it must not: prices finite and positive,
    /// `low <= open, close <= high`, volume not negative, a daily start at midnight UTC
    /// and a minute start on a whole minute.
    pub fn invalid_reason(&self) -> Option<String> {
        let prices = [self.open, self.high, self.low, self.close];
        if prices.iter().any(|price| !price.is_finite() || *price <= 0.0) {
            return Some(format!("prices must be finite and positive, got {prices:?}"));
        }
        if !(self.low <= self.open && self.low <= self.close && self.open <= self.high && self.close <= self.high) {
            return Some(format!(
                "needs low <= open, close <= high; got open {} high {} low {} close {}",
                self.open, self.high, self.low, self.close
            ));
        }
        if self.volume < 0 {
            return Some(format!("volume must not be negative, got {}", self.volume));
        }
        let seconds = self.start.timestamp();
        match self.timeframe {
            Timeframe::Daily if seconds.rem_euclid(86_400) != 0 || self.start.timestamp_subsec_nanos() != 0 => {
                Some(format!("a daily bar starts at its session date's midnight UTC, got {}", self.start))
            }
            Timeframe::Minute if seconds.rem_euclid(60) != 0 || self.start.timestamp_subsec_nanos() != 0 => {
                Some(format!("a minute bar starts on a whole minute, got {}", self.start))
            }
            _ => None,
        }
    }
}
