//! Refresh-profile plugins: the profiles a plugin offers, converted to host types and
//! checked (names unique and plain, a window of at least one month, at least one
//! timeframe).

use serde::Serialize;

use super::bindings::profile_world::exports::tickstock::plugins::refresh_profile as wit;
use super::error::CallError;
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
        let profiles: Vec<Profile> = answer.into_iter().map(from_wit).collect();
        check(&profiles).map_err(InvalidAnswer::error)?;
        Ok(profiles)
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

fn check(profiles: &[Profile]) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for profile in profiles {
        let name = profile.name.as_str();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("profile name {name:?} may hold only ASCII letters, digits, `-` and `_`"));
        }
        if seen.contains(&name) {
            return Err(format!("profile {name} is offered twice"));
        }
        seen.push(name);
        if profile.window_months == 0 {
            return Err(format!("profile {name} has a window of 0 months"));
        }
        if profile.timeframes.is_empty() {
            return Err(format!("profile {name} loads no timeframe"));
        }
        if profile.exchanges.is_empty() {
            return Err(format!("profile {name} names no exchange"));
        }
    }
    Ok(())
}
