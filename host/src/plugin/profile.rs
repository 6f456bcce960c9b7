//! Refresh-profile plugins: the profiles a plugin offers, checked against `limits` (sizes
//! and counts first, then names unique ignoring case and `-`/`_`, a window of at least one
//! month, at least one timeframe) and converted to host types.

use std::collections::HashSet;

use serde::Serialize;

use super::bindings::profile_world::exports::tickstock::plugins::refresh_profile as wit;
use super::error::CallError;
use super::limits;
use super::load::{Callable, WorldPre};
use super::sandbox::InvalidAnswer;
use crate::plan::{Listing, Timeframe};

/// Which symbols a profile loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolSet {
    Explicit(Vec<Listing>),
    Universe { name: String, count: u32 },
}

/// One named development dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub symbols: SymbolSet,
    pub exchanges: Vec<String>,
    pub window_months: u32,
    pub timeframes: Vec<Timeframe>,
    pub feature_tags: Vec<String>,
    pub reset_target_millis: u32,
}

/// Calls `profiles` and checks the answer.
pub fn profiles(callable: &Callable) -> Result<Vec<Profile>, CallError> {
    callable.call("profiles", |store, pre| {
        let answer = match pre {
            WorldPre::Profile(pre) => {
                pre.instantiate(&mut *store)?.tickstock_plugins_refresh_profile().call_profiles(&mut *store)?
            }
            _ => unreachable!("profile calls are only made on profile plugins"),
        };
        check(&answer).map_err(InvalidAnswer::error)?;
        Ok(answer.into_iter().map(from_wit).collect())
    })
}

fn from_wit(profile: wit::Profile) -> Profile {
    Profile {
        name: profile.name,
        description: profile.description,
        symbols: match profile.symbols {
            wit::SymbolSet::Explicit(listings) => SymbolSet::Explicit(
                listings.into_iter().map(|l| Listing { symbol: l.symbol, exchange: l.exchange }).collect(),
            ),
            wit::SymbolSet::Universe(slice) => SymbolSet::Universe { name: slice.name, count: slice.count },
        },
        exchanges: profile.exchanges,
        window_months: profile.window_months,
        timeframes: profile
            .timeframes
            .into_iter()
            .map(|timeframe| match timeframe {
                wit::Timeframe::Daily => Timeframe::Daily,
                wit::Timeframe::Minute => Timeframe::Minute,
            })
            .collect(),
        feature_tags: profile.feature_tags,
        reset_target_millis: profile.reset_target_millis,
    }
}

/// Sizes and counts before anything else, so the host's work is linear in an answer
/// whose size `limits` bounds; uniqueness by `limits::dataset_key` in a hash set.
fn check(profiles: &[wit::Profile]) -> Result<(), String> {
    limits::check_count("the profile list", profiles.len(), limits::PROFILES)?;
    let mut seen: HashSet<String> = HashSet::with_capacity(profiles.len());
    for (index, profile) in profiles.iter().enumerate() {
        let field = |name: &str| format!("profile {index} `{name}`");
        limits::check_plain(&field("name"), &profile.name, limits::NAME_BYTES, false)?;
        let name = profile.name.as_str();
        limits::check_text(&field("description"), &profile.description, limits::TEXT_BYTES)?;
        match &profile.symbols {
            wit::SymbolSet::Explicit(listings) => {
                limits::check_count(&field("symbols"), listings.len(), limits::LISTINGS_PER_PROFILE)?;
                for listing in listings {
                    limits::check_plain(
                        &field("symbols` listing `symbol"),
                        &listing.symbol,
                        limits::SHORT_TEXT_BYTES,
                        true,
                    )?;
                    limits::check_mic(&field("symbols` listing `exchange"), &listing.exchange)?;
                }
            }
            wit::SymbolSet::Universe(slice) => {
                limits::check_plain(&field("symbols` universe `name"), &slice.name, limits::SHORT_TEXT_BYTES, false)?;
            }
        }
        limits::check_count(&field("exchanges"), profile.exchanges.len(), limits::EXCHANGES_PER_PROFILE)?;
        for mic in &profile.exchanges {
            limits::check_mic(&field("exchanges"), mic)?;
        }
        limits::check_count(&field("feature-tags"), profile.feature_tags.len(), limits::FEATURE_TAGS_PER_PROFILE)?;
        for tag in &profile.feature_tags {
            limits::check_text(&field("feature-tags"), tag, limits::SHORT_TEXT_BYTES)?;
        }
        // Two entries: daily and minute, each at most once.
        limits::check_count(&field("timeframes"), profile.timeframes.len(), 2)?;
        if !seen.insert(limits::dataset_key(name)) {
            return Err(format!(
                "profile {name} is offered twice (names are compared ignoring case and `-`/`_`, as their datasets are)"
            ));
        }
        if profile.window_months == 0 {
            return Err(format!("profile {name} has a window of 0 months"));
        }
        if profile.timeframes.is_empty() {
            return Err(format!("profile {name} loads no timeframe"));
        }
        if profile.timeframes.len() == 2 && profile.timeframes[0] == profile.timeframes[1] {
            return Err(format!("profile {name} names one timeframe twice"));
        }
        if profile.exchanges.is_empty() {
            return Err(format!("profile {name} names no exchange"));
        }
    }
    Ok(())
}
