//! Refresh-profile plugins: the profiles a plugin offers, checked against `limits` (sizes
//! and counts first, then names unique ignoring case and `-`/`_`, a window of at least one
//! month, at least one timeframe) and converted to host types.

use std::collections::HashSet;

use serde::Serialize;

use super::bindings::profile_world::exports::tickstock::plugins::refresh_profile as wit;
use super::error::CallError;
use super::limits;
use super::load::{Callable, WorldInstance, wrong_world};
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
    callable.call("profiles", |store, instance| {
        let answer = match instance {
            WorldInstance::Profile(plugin) => plugin.tickstock_plugins_refresh_profile().call_profiles(store)?,
            _ => return Err(wrong_world("profiles")),
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
    let mut listings_in_all: usize = 0;
    for (index, profile) in profiles.iter().enumerate() {
        limits::check_plain(format_args!("profile {index} `name`"), &profile.name, limits::NAME_BYTES, false)?;
        let name = profile.name.as_str();
        limits::check_text(format_args!("profile {index} `description`"), &profile.description, limits::TEXT_BYTES)?;
        match &profile.symbols {
            wit::SymbolSet::Explicit(listings) => {
                limits::check_count(
                    format_args!("profile {index} `symbols`"),
                    listings.len(),
                    limits::LISTINGS_PER_PROFILE,
                )?;
                listings_in_all = listings_in_all.saturating_add(listings.len());
                limits::check_count(
                    format_args!("the listings of profiles 0..={index}"),
                    listings_in_all,
                    limits::LISTINGS_PER_ANSWER,
                )?;
                for listing in listings {
                    limits::check_plain(
                        format_args!("profile {index} `symbols` listing `symbol`"),
                        &listing.symbol,
                        limits::SHORT_TEXT_BYTES,
                        true,
                    )?;
                    limits::check_mic(format_args!("profile {index} `symbols` listing `exchange`"), &listing.exchange)?;
                }
            }
            wit::SymbolSet::Universe(slice) => {
                limits::check_plain(
                    format_args!("profile {index} `symbols` universe `name`"),
                    &slice.name,
                    limits::SHORT_TEXT_BYTES,
                    false,
                )?;
            }
        }
        limits::check_count(
            format_args!("profile {index} `exchanges`"),
            profile.exchanges.len(),
            limits::EXCHANGES_PER_PROFILE,
        )?;
        for mic in &profile.exchanges {
            limits::check_mic(format_args!("profile {index} `exchanges`"), mic)?;
        }
        limits::check_count(
            format_args!("profile {index} `feature-tags`"),
            profile.feature_tags.len(),
            limits::FEATURE_TAGS_PER_PROFILE,
        )?;
        for tag in &profile.feature_tags {
            limits::check_text(format_args!("profile {index} `feature-tags`"), tag, limits::SHORT_TEXT_BYTES)?;
        }
        // Two entries: daily and minute, each at most once.
        limits::check_count(format_args!("profile {index} `timeframes`"), profile.timeframes.len(), 2)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, listings: usize) -> wit::Profile {
        wit::Profile {
            name: name.into(),
            description: "test".into(),
            symbols: wit::SymbolSet::Explicit(
                (0..listings).map(|s| wit::Listing { symbol: format!("S{s}"), exchange: "XNYS".into() }).collect(),
            ),
            exchanges: vec!["XNYS".into()],
            window_months: 1,
            timeframes: vec![wit::Timeframe::Daily],
            feature_tags: Vec::new(),
            reset_target_millis: 1000,
        }
    }

    #[test]
    fn listings_are_bounded_per_profile_and_over_the_whole_answer() {
        let full = |count: usize| (0..count).map(|i| profile(&format!("p{i}"), LISTINGS)).collect::<Vec<_>>();
        const LISTINGS: usize = limits::LISTINGS_PER_PROFILE;
        assert!(check(&full(limits::LISTINGS_PER_ANSWER / LISTINGS)).is_ok());
        let error = check(&full(limits::LISTINGS_PER_ANSWER / LISTINGS + 1)).unwrap_err();
        assert_eq!(error, "the listings of profiles 0..=10 is 110000 entries, over the limit of 100000");
        let error = check(&[profile("big", LISTINGS + 1)]).unwrap_err();
        assert_eq!(error, "profile 0 `symbols` is 10001 entries, over the limit of 10000");
    }

    #[test]
    fn names_that_fold_alike_are_offered_once() {
        let error = check(&[profile("ui-testing", 1), profile("UI_Testing", 1)]).unwrap_err();
        assert!(error.starts_with("profile UI_Testing is offered twice"), "{error}");
    }
}
