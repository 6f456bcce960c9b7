//! The built-in refresh profiles: `patterns`, `backtesting`, `ui_testing` and
//! `etf_analysis`, the development datasets the seed system reset inside containers.
//! Symbols come from universes shipped with the host as data files.

wit_bindgen::generate!({ path: "../../wit", world: "refresh-profile-plugin" });

use exports::tickstock::plugins::refresh_profile::{
    Guest as ProfileGuest, Profile, SymbolSet, Timeframe, UniverseSlice,
};
use tickstock::plugins::types::PluginKind;

struct DevProfiles;

impl Guest for DevProfiles {
    fn describe() -> Identity {
        Identity {
            kind: PluginKind::RefreshProfile,
            name: "dev".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "development datasets: patterns, backtesting, ui_testing, etf_analysis".into(),
        }
    }
}

/// One profile drawn from a universe, daily bars on US exchanges.
fn profile(
    name: &str,
    description: &str,
    universe: &str,
    count: u32,
    window_months: u32,
    tags: &[&str],
    reset_target_seconds: u32,
) -> Profile {
    Profile {
        name: name.into(),
        description: description.into(),
        symbols: SymbolSet::Universe(UniverseSlice { name: universe.into(), count }),
        exchanges: vec!["XNYS".into(), "XNAS".into()],
        window_months,
        timeframes: vec![Timeframe::Daily],
        feature_tags: tags.iter().map(|tag| tag.to_string()).collect(),
        reset_target_millis: reset_target_seconds * 1000,
    }
}

impl ProfileGuest for DevProfiles {
    fn profiles() -> Vec<Profile> {
        vec![
            profile(
                "patterns",
                "chart-pattern research: 50 liquid US stocks, 6 months of daily bars",
                "us-large-cap",
                50,
                6,
                &["pattern-detection", "technical-indicators"],
                25,
            ),
            profile(
                "backtesting",
                "strategy backtests: 100 US stocks, 12 months of daily bars",
                "us-large-cap",
                100,
                12,
                &["backtesting", "risk-metrics", "portfolio"],
                45,
            ),
            profile(
                "ui_testing",
                "front-end work: 20 US stocks, 3 months of daily bars",
                "us-large-cap",
                20,
                3,
                &["ui", "charts"],
                15,
            ),
            profile(
                "etf_analysis",
                "ETF research: 40 US-listed ETFs, 12 months of daily bars",
                "us-etfs",
                40,
                12,
                &["etf", "sector-rotation", "correlation"],
                30,
            ),
        ]
    }
}

export!(DevProfiles);
