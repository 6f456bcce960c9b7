//! What to load, as the command line and `POST /loads` both state it: [`LoadSpec`], and
//! the checked conversion into the engine's [`LoadRequest`].
//!
//! A spec never names a file, a database or a queue: those belong to the process that
//! runs the load (`--db`, `--queue`), never to a request. The CLI reads `--symbols @file`
//! itself (bounded, regular files only) and hands the lines over as a list.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{InvalidInput, quoted_prefix};
use crate::load::LoadRequest;
use crate::plan::{Listing, PlanLimits, Tier, Timeframe};

pub use crate::plan::MAX_SYMBOL_CHARS;

/// Most years one request may span.
pub const MAX_YEARS: u32 = 100;

/// Most symbols in one job a request may ask for.
pub const MAX_SYMBOLS_PER_JOB: u32 = 100_000;

/// Limits the process running the request puts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Most symbols (listings) in one request.
    pub max_symbols: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits { max_symbols: 100_000 }
    }
}

/// The symbols of a request: a count of generated names (`SYN0001`.., for synthetic
/// data), or a list of `SYMBOL` / `SYMBOL,MIC` strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SymbolsSpec {
    Count(u64),
    List(Vec<String>),
}

/// A load request as its sender states it. Missing fields take the defaults of
/// `tickstock load`; unknown fields are an error, so a typo is never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// Required: a count, or a list of `SYMBOL` / `SYMBOL,MIC`.
    pub symbols: SymbolsSpec,
    /// Exchange (MIC) of symbols given without one [default: XNYS].
    #[serde(default)]
    pub exchange: Option<String>,
    /// First exchange-local date, inclusive [default: `years` before `to`].
    #[serde(default)]
    pub from: Option<String>,
    /// Last exchange-local date, inclusive [default: yesterday, UTC].
    #[serde(default)]
    pub to: Option<String>,
    /// Years back from `to` when `from` is not given, 1..=100 [default: 1].
    #[serde(default)]
    pub years: Option<u32>,
    /// `1d` or `1m` [default: 1d].
    #[serde(default)]
    pub timeframe: Option<String>,
    /// `critical`, `high`, `normal` or `low` [default: normal].
    #[serde(default)]
    pub tier: Option<String>,
    /// A loaded batch-policy plugin [default: fixed].
    #[serde(default)]
    pub policy: Option<String>,
    /// Most symbols in one job, 1..=100000 [default: the plan limits' default].
    #[serde(default)]
    pub max_symbols_per_job: Option<u32>,
}

pub const DEFAULT_EXCHANGE: &str = "XNYS";
pub const DEFAULT_POLICY: &str = "fixed";

impl LoadSpec {
    /// The checked request. `today` is the caller's clock (the default `to` is the day
    /// before it). Nothing here touches a file, a store or a plugin.
    pub fn to_request(&self, today: NaiveDate, limits: &RequestLimits) -> Result<LoadRequest, InvalidInput> {
        let exchange = parse_mic(self.exchange.as_deref().unwrap_or(DEFAULT_EXCHANGE), "exchange")?;
        let timeframe: Timeframe = match &self.timeframe {
            Some(text) => text.trim().parse().map_err(|_| {
                InvalidInput(format!("unknown timeframe {}: expected 1d or 1m", quoted_prefix(text, 16)))
            })?,
            None => Timeframe::Daily,
        };
        let tier: Tier = match &self.tier {
            Some(text) => text.trim().to_ascii_lowercase().parse().map_err(|_| {
                InvalidInput(format!("tier {} is not one of critical, high, normal, low", quoted_prefix(text, 16)))
            })?,
            None => Tier::Normal,
        };
        let policy = match &self.policy {
            Some(name) => parse_plugin_name(name, "policy")?,
            None => DEFAULT_POLICY.to_string(),
        };
        let max_symbols_per_job = match self.max_symbols_per_job {
            Some(count) if count == 0 || count > MAX_SYMBOLS_PER_JOB => {
                return Err(InvalidInput(format!(
                    "max_symbols_per_job {count} is out of range 1..={MAX_SYMBOLS_PER_JOB}"
                )));
            }
            Some(count) => count,
            None => PlanLimits::default().max_symbols_per_job,
        };
        let (from, to) = self.date_range(today)?;
        let listings = self.listings(&exchange, limits)?;
        Ok(LoadRequest {
            listings,
            from,
            to,
            timeframe,
            tier,
            policy,
            limits: PlanLimits { max_symbols_per_job, ..PlanLimits::default() },
            stats: None,
        })
    }

    fn date_range(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), InvalidInput> {
        let years = self.years.unwrap_or(1);
        if !(1..=MAX_YEARS).contains(&years) {
            return Err(InvalidInput(format!("years {years} is out of range 1..={MAX_YEARS}")));
        }
        let to = match &self.to {
            Some(text) => super::calendar::parse_date(text, "to")?,
            None => today.pred_opt().ok_or_else(|| InvalidInput::new("today has no yesterday"))?,
        };
        let from = match &self.from {
            Some(text) => super::calendar::parse_date(text, "from")?,
            None => to
                .checked_sub_months(Months::new(years * 12))
                .and_then(|back| back.succ_opt())
                .ok_or_else(|| InvalidInput(format!("years {years} before {to} is before the first date there is")))?,
        };
        if from > to {
            return Err(InvalidInput(format!("from {from} is after to {to}")));
        }
        // A range longer than MAX_YEARS is refused whether it came as years or as dates:
        // every later step (sessions, gaps, jobs) grows with it.
        if i64::from(to.year()) - i64::from(from.year()) > i64::from(MAX_YEARS) {
            return Err(InvalidInput(format!("from {from} to {to} spans more than {MAX_YEARS} years")));
        }
        Ok((from, to))
    }

    fn listings(&self, default_exchange: &str, limits: &RequestLimits) -> Result<Vec<Listing>, InvalidInput> {
        match &self.symbols {
            SymbolsSpec::Count(0) => Err(InvalidInput::new("symbols 0: nothing to load")),
            SymbolsSpec::Count(count) => {
                let count =
                    usize::try_from(*count).ok().filter(|count| *count <= limits.max_symbols).ok_or_else(|| {
                        InvalidInput(format!("symbols {count} is over the limit of {} per request", limits.max_symbols))
                    })?;
                Ok((1..=count)
                    .map(|index| Listing { symbol: format!("SYN{index:04}"), exchange: default_exchange.to_string() })
                    .collect())
            }
            SymbolsSpec::List(items) => {
                if items.is_empty() {
                    return Err(InvalidInput::new("symbols is empty: name at least one symbol"));
                }
                if items.len() > limits.max_symbols {
                    return Err(InvalidInput(format!(
                        "{} symbols is over the limit of {} per request",
                        items.len(),
                        limits.max_symbols
                    )));
                }
                items.iter().map(|item| parse_listing(item, default_exchange)).collect()
            }
        }
    }
}

/// `SYMBOL` or `SYMBOL,MIC` into a listing, upper-cased.
pub fn parse_listing(text: &str, default_exchange: &str) -> Result<Listing, InvalidInput> {
    let (symbol, exchange) = match text.split_once(',') {
        Some((symbol, exchange)) => (symbol, parse_mic(exchange, "exchange")?),
        None => (text, default_exchange.to_string()),
    };
    Ok(Listing { symbol: parse_symbol(symbol)?, exchange })
}

/// A ticker (see [`crate::plan::parse_symbol`]), upper-cased.
pub fn parse_symbol(text: &str) -> Result<String, InvalidInput> {
    crate::plan::parse_symbol(text).map_err(InvalidInput)
}

/// An exchange code: four ASCII letters or digits (ISO 10383 MIC), upper-cased.
pub fn parse_mic(text: &str, what: &str) -> Result<String, InvalidInput> {
    crate::plan::parse_mic(text, what).map_err(InvalidInput)
}

/// A plugin name as a request may give it: 1..=64 of `a-z A-Z 0-9 - _ .`.
pub fn parse_plugin_name(text: &str, what: &str) -> Result<String, InvalidInput> {
    let name = text.trim();
    if !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        Ok(name.to_string())
    } else {
        Err(InvalidInput(format!("{what} {} is not a plugin name", quoted_prefix(text, 64))))
    }
}

/// A listing file: one `SYMBOL` or `SYMBOL,MIC` per line, blank lines and `#` comments
/// skipped. `origin` names the file in errors. Shared by `--symbols @file` and the
/// refresh universes.
pub fn parse_listing_lines(
    text: &str,
    origin: &str,
    default_exchange: Option<&str>,
) -> Result<Vec<Listing>, InvalidInput> {
    let mut listings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, ',').collect();
        let parsed = match (fields.as_slice(), default_exchange) {
            ([symbol], Some(exchange)) => {
                parse_symbol(symbol).map(|symbol| Listing { symbol, exchange: exchange.to_string() })
            }
            ([symbol, exchange], _) => parse_symbol(symbol)
                .and_then(|symbol| Ok(Listing { symbol, exchange: parse_mic(exchange, "exchange")? })),
            _ => Err(InvalidInput::new(if default_exchange.is_some() {
                "expected `SYMBOL` or `SYMBOL,MIC`"
            } else {
                "expected `SYMBOL,MIC`"
            })),
        };
        match parsed {
            Ok(listing) => listings.push(listing),
            Err(InvalidInput(reason)) => {
                return Err(InvalidInput(format!("{origin}, line {}: {reason}", index + 1)));
            }
        }
    }
    Ok(listings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(symbols: SymbolsSpec) -> LoadSpec {
        LoadSpec {
            symbols,
            exchange: None,
            from: None,
            to: None,
            years: None,
            timeframe: None,
            tier: None,
            policy: None,
            max_symbols_per_job: None,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 2).unwrap()
    }

    #[test]
    fn defaults_are_one_year_of_daily_bars_up_to_yesterday() {
        let request = spec(SymbolsSpec::Count(3)).to_request(today(), &RequestLimits::default()).unwrap();
        assert_eq!(request.to, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(request.from, NaiveDate::from_ymd_opt(2024, 1, 2).unwrap());
        assert_eq!(request.listings.len(), 3);
        assert_eq!(request.listings[2].symbol, "SYN0003");
        assert_eq!(
            (request.timeframe, request.tier, request.policy.as_str()),
            (Timeframe::Daily, Tier::Normal, "fixed")
        );
    }

    #[test]
    fn absurd_numbers_are_refused_not_wrapped() {
        let limits = RequestLimits::default();
        for (years, ok) in [(0, false), (1, true), (100, true), (101, false), (300_000, false), (u32::MAX, false)] {
            let outcome = LoadSpec { years: Some(years), ..spec(SymbolsSpec::Count(1)) }.to_request(today(), &limits);
            assert_eq!(outcome.is_ok(), ok, "years {years}: {outcome:?}");
        }
        assert!(spec(SymbolsSpec::Count(0)).to_request(today(), &limits).is_err());
        assert!(spec(SymbolsSpec::Count(100_001)).to_request(today(), &limits).is_err());
        assert!(spec(SymbolsSpec::Count(u64::MAX)).to_request(today(), &limits).is_err());
        let long_range =
            LoadSpec { from: Some("1900-01-01".into()), to: Some("2024-01-01".into()), ..spec(SymbolsSpec::Count(1)) };
        assert!(long_range.to_request(today(), &limits).is_err());
    }

    #[test]
    fn symbols_that_are_not_tickers_are_refused() {
        for bad in ["", " ", "-5", "A B", "AA\nPL", "A\u{7}", &"X".repeat(33), "ÄPPL"] {
            assert!(parse_symbol(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["AAPL", "brk.b", "^GSPC", "7203", "RDS-A"] {
            assert!(parse_symbol(good).is_ok(), "{good:?} was refused");
        }
        let empty = spec(SymbolsSpec::List(vec![])).to_request(today(), &RequestLimits::default());
        assert!(empty.is_err());
    }

    #[test]
    fn errors_never_copy_a_long_input_whole() {
        let long = "A".repeat(10_000);
        let error = parse_symbol(&long).unwrap_err().to_string();
        assert!(error.len() < 300, "{} characters", error.len());
        let error = LoadSpec { policy: Some(long.clone()), ..spec(SymbolsSpec::Count(1)) }
            .to_request(today(), &RequestLimits::default())
            .unwrap_err()
            .to_string();
        assert!(error.len() < 300, "{} characters", error.len());
    }

    #[test]
    fn a_json_body_with_an_unknown_field_is_refused() {
        assert!(serde_json::from_str::<LoadSpec>(r#"{"symbols": 2, "db": "x.db"}"#).is_err());
        assert!(serde_json::from_str::<LoadSpec>(r#"{}"#).is_err());
        let parsed: LoadSpec = serde_json::from_str(r#"{"symbols": ["AAPL", "7203,XTKS"], "years": 2}"#).unwrap();
        let request = parsed.to_request(today(), &RequestLimits::default()).unwrap();
        assert_eq!(request.listings[1], Listing { symbol: "7203".into(), exchange: "XTKS".into() });
    }

    #[test]
    fn listing_lines_name_the_bad_line() {
        let text = "# header\nAAPL\nMSFT,XNAS\n\nbad symbol\n";
        let error = parse_listing_lines(text, "u.txt", Some("XNYS")).unwrap_err().to_string();
        assert!(error.starts_with("u.txt, line 5:"), "{error}");
        assert!(parse_listing_lines("AAPL\n", "u.txt", None).is_err());
        assert_eq!(parse_listing_lines("AAPL,XNAS\n", "u.txt", None).unwrap().len(), 1);
    }
}
