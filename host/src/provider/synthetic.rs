//! The `synthetic` provider (the default): made-up bars, **not market data**.
//!
//! Deterministic: a bar depends only on the symbol and its session (and, for minute bars,
//! on the earlier minutes of the same session), never on the range asked for or on when,
//! so fetching a gap gives exactly the bars a full load would have written. Bars exist
//! only on the sessions passed in: minute bars inside open hours, none in lunch breaks.
//! Every bar satisfies `0 < low <= open, close <= high` and `volume > 0`.
//!
//! Bars are generated for sessions that have opened by `observed_at` only, and minute
//! bars only for minutes that have started, as a real source would; the daily bar of a
//! session still in progress is therefore stamped before its close, and stale.
//!
//! The randomness is a SplitMix64 hash of (symbol hash, day, minute) rather than a seeded
//! RNG stream: a stream would make each bar depend on everything generated before it in
//! the request, and so on the request's range.

use super::{FetchFuture, FetchRequest, Provider};
use crate::gaps::minute_bar_starts;
use crate::store::{Bar, Timeframe};

/// Generates synthetic bars; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyntheticProvider;

impl Provider for SyntheticProvider {
    fn name(&self) -> String {
        "synthetic".to_string()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        // Pure computation of a few microseconds per session: no need to leave the
        // calling task.
        Box::pin(async move { Ok(synthetic_bars(&request)) })
    }
}

/// The synthetic bars for `request`, synchronously.
pub fn synthetic_bars(request: &FetchRequest<'_>) -> Vec<Bar> {
    let symbol_seed = fnv1a(request.symbol.as_bytes());
    // Per symbol: a price level between 5 and 505 and a typical volume.
    let base_price = 5.0 + unit(splitmix(symbol_seed)) * 500.0;
    let base_volume = 10_000.0 + unit(splitmix(symbol_seed ^ 0x5eed)) * 5_000_000.0;
    let observed_at = request.observed_at;
    let mut bars = Vec::new();
    for session in request.sessions.iter().filter(|session| session.open <= observed_at) {
        let day_number = session.date.to_epoch_days() as u64;
        let day_seed = splitmix(symbol_seed ^ day_number.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let level = day_level(base_price, symbol_seed, day_number);
        let bar = |start, open: f64, close: f64, high_noise: f64, low_noise: f64, volume: f64| Bar {
            symbol: request.symbol.to_string(),
            exchange: request.exchange.to_string(),
            timeframe: request.timeframe,
            start,
            open,
            high: open.max(close) * (1.0 + high_noise),
            low: open.min(close) * (1.0 - low_noise),
            close,
            volume: volume.max(1.0) as i64,
            written_at: observed_at,
        };
        match request.timeframe {
            Timeframe::Daily => {
                let open = level * (1.0 + 0.01 * (unit(splitmix(day_seed ^ 1)) - 0.5));
                let close = level * (1.0 + 0.02 * (unit(splitmix(day_seed ^ 2)) - 0.5));
                bars.push(bar(
                    Timeframe::daily_bar_start(session.date),
                    open,
                    close,
                    0.01 * unit(splitmix(day_seed ^ 3)),
                    0.01 * unit(splitmix(day_seed ^ 4)),
                    base_volume * (0.5 + unit(splitmix(day_seed ^ 5))),
                ));
            }
            Timeframe::Minute => {
                let mut previous_close = level;
                for (minute_index, start) in minute_bar_starts(session).enumerate() {
                    if start >= observed_at {
                        break;
                    }
                    let minute_seed =
                        splitmix(day_seed ^ (minute_index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
                    let open = previous_close;
                    let close = open * (1.0 + 0.002 * (unit(splitmix(minute_seed ^ 1)) - 0.5));
                    bars.push(bar(
                        start,
                        open,
                        close,
                        0.001 * unit(splitmix(minute_seed ^ 2)),
                        0.001 * unit(splitmix(minute_seed ^ 3)),
                        base_volume / 390.0 * (0.2 + unit(splitmix(minute_seed ^ 4))),
                    ));
                    previous_close = close;
                }
            }
        }
    }
    bars
}

/// A slowly wandering price level for one day: the base price times a smooth function of
/// the day, so consecutive days look like a market rather than white noise.
fn day_level(base_price: f64, symbol_seed: u64, day_number: u64) -> f64 {
    let day = day_number as f64;
    let phase_slow = unit(splitmix(symbol_seed ^ 0xA)) * std::f64::consts::TAU;
    let phase_fast = unit(splitmix(symbol_seed ^ 0xB)) * std::f64::consts::TAU;
    let noise = unit(splitmix(symbol_seed ^ day_number.wrapping_mul(0xBF58_476D_1CE4_E5B9))) - 0.5;
    base_price * (0.35 * (day / 180.0 + phase_slow).sin() + 0.1 * (day / 17.0 + phase_fast).sin() + 0.02 * noise).exp()
}

/// FNV-1a: a stable hash of the symbol (std's `DefaultHasher` may change between Rust
/// releases, which would change every synthetic price).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ *byte as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash mapped to [0, 1).
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Session;
    use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

    fn utc(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
    }

    fn tokyo_sessions() -> Vec<Session> {
        (8..=12)
            .map(|day| {
                let date = NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
                Session {
                    date,
                    open: utc(date, 0, 0),
                    close: utc(date, 6, 0),
                    lunch_break: Some((utc(date, 2, 30), utc(date, 3, 30))),
                }
            })
            .collect()
    }

    fn request<'a>(timeframe: Timeframe, sessions: &'a [Session], observed_at: DateTime<Utc>) -> FetchRequest<'a> {
        FetchRequest { symbol: "7203", exchange: "XTKS", timeframe, sessions, observed_at }
    }

    #[test]
    fn bars_are_valid_and_only_on_open_minutes() {
        let sessions = tokyo_sessions();
        let later = utc(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(), 0, 0);
        for timeframe in [Timeframe::Daily, Timeframe::Minute] {
            let bars = synthetic_bars(&request(timeframe, &sessions, later));
            let expected = if timeframe == Timeframe::Daily { sessions.len() } else { sessions.len() * 300 };
            assert_eq!(bars.len(), expected);
            for bar in &bars {
                assert_eq!(bar.invalid_reason(), None, "{bar:?}");
                assert!(bar.volume > 0);
                assert!(super::super::session_index_of(timeframe, &sessions, bar.start).is_some(), "{bar:?}");
            }
        }
    }

    #[test]
    fn a_sub_range_yields_the_same_bars_as_the_full_range() {
        let sessions = tokyo_sessions();
        let later = utc(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(), 0, 0);
        for timeframe in [Timeframe::Daily, Timeframe::Minute] {
            let full = synthetic_bars(&request(timeframe, &sessions, later));
            let part = synthetic_bars(&request(timeframe, &sessions[2..4], later));
            let per_session = full.len() / sessions.len();
            assert_eq!(part, full[2 * per_session..4 * per_session]);
        }
    }

    #[test]
    fn nothing_is_generated_for_minutes_not_yet_started() {
        let sessions = tokyo_sessions();
        let during_last_session = sessions[4].open + Duration::minutes(10) + Duration::seconds(30);
        let minutes = synthetic_bars(&request(Timeframe::Minute, &sessions, during_last_session));
        assert_eq!(minutes.len(), 4 * 300 + 11);
        let days = synthetic_bars(&request(Timeframe::Daily, &sessions, during_last_session));
        assert_eq!(days.len(), 5);
        assert!(days[4].written_at < sessions[4].close, "the in-progress day is stamped stale");
    }
}
