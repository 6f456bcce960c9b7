//! Development datasets: `tickstock refresh <profile>` brings a profile's dataset up to
//! date in its own database (see `dataset`), through the same load engine as
//! `tickstock load` (`load::plan_load` and `load::run_plan`; there is no second loader).
//!
//! A refresh is: find the profile among the live refresh-profile plugins; resolve its
//! symbols (a universe slice or an explicit list) and check every exchange has a calendar,
//! all before the dataset is touched, so a bad profile leaves it as it was; then, per
//! timeframe, plan the gaps of the window `[today - N months, today - 1 day]`, work them
//! off (only when there are any: an up-to-date dataset spawns no worker), delete the bars
//! that fell out of the window, and record the profile with the dataset (`dataset_meta`).
//! `--full` discards the dataset first, so the same steps rebuild it from empty.
//!
//! Efficiency is bars fetched / bars missing. With nothing missing nothing is fetched and
//! the refresh wasted nothing, so it is reported as 1.0 rather than "n/a": the figure
//! answers "was anything fetched that was not needed", and the answer is no.
//!
//! Depends on `load`, `plugin`, `store`, `queue`, `provider` and the core; never on `cli`
//! or `server`.

mod dataset;
pub mod universe;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::load::{LoadError, LoadRequest, RunOptions, plan_load, run_plan};
use crate::plan::{Listing, PlanLimits, Tier, Timeframe};
use crate::plugin::profile::{Profile, SymbolSet};
use crate::plugin::{CallError, PluginKind, Registry};
use crate::provider::Provider;
use crate::queue::{Queue, QueueOptions};
use crate::store::{BarSelection, KeepWindow, Store, StoreError};

pub use dataset::{Dataset, DatasetHome, schema_name};
pub use universe::{UniverseError, Universes};

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown refresh profile {name:?}; profiles: {known} (see `tickstock refresh --list`)")]
    UnknownProfile { name: String, known: String },
    #[error("profile {name:?} is offered by plugins {plugins}; name one as <plugin>/{name}")]
    AmbiguousProfile { name: String, plugins: String },
    #[error("the refresh-profile plugin failed: {0}")]
    ProfilePlugin(#[source] CallError),
    #[error(
        "profile {profile} names the unknown universe {universe:?}; universes: {known} (add <name>.txt to a --universes folder)"
    )]
    UnknownUniverse { profile: String, universe: String, known: String },
    #[error("profile {profile} asks for {wanted} symbols of universe {universe}, which has {has}")]
    UniverseTooSmall { profile: String, universe: String, wanted: u32, has: usize },
    #[error("profile {profile} selects no symbols")]
    NoSymbols { profile: String },
    #[error("profile {profile} names the unknown exchange {mic:?}; exchanges with a calendar: {known}")]
    UnknownExchange { profile: String, mic: String, known: String },
    #[error("profile {profile} lists {symbol} on {mic}, which is not among its exchanges ({exchanges})")]
    ListingOffProfileExchanges { profile: String, symbol: String, mic: String, exchanges: String },
    #[error("profile {profile}: a window of {months} months back from {today} is out of range")]
    WindowOutOfRange { profile: String, months: u32, today: NaiveDate },
    #[error(transparent)]
    Universe(#[from] UniverseError),
    #[error("cannot create the data folder {}: {source}", path.display())]
    DataFolder { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot delete {} for --full: {source}", path.display())]
    Discard { path: std::path::PathBuf, source: std::io::Error },
    #[error(
        "{location} holds the dataset of profile {recorded}, not of {profile}; refusing to write into or drop it (rename the profile)"
    )]
    DatasetOfAnotherProfile { profile: String, recorded: String, location: String },
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A profile and the plugin generation that offered it.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileEntry {
    pub plugin: String,
    pub plugin_version: String,
    pub generation: u64,
    pub profile: Profile,
}

/// Every profile of every live refresh-profile plugin, read from the registry now (so a
/// plugin file dropped into a watched folder shows up at the next call), and the plugins
/// whose `profiles` call failed.
pub fn all_profiles(registry: &Registry) -> (Vec<ProfileEntry>, Vec<CallError>) {
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for plugin_name in registry.names(PluginKind::RefreshProfile) {
        let Some(generation) = registry.get(PluginKind::RefreshProfile, &plugin_name) else { continue };
        match crate::plugin::profile::profiles(generation.callable()) {
            Ok(profiles) => entries.extend(profiles.into_iter().map(|profile| ProfileEntry {
                plugin: plugin_name.clone(),
                plugin_version: generation.identity.version.clone(),
                generation: generation.number(),
                profile,
            })),
            Err(error) => failures.push(error),
        }
    }
    (entries, failures)
}

/// The profile called `name`, or `plugin/name` when several plugins offer one.
pub fn find_profile(registry: &Registry, name: &str) -> Result<ProfileEntry, RefreshError> {
    let (plugin_wanted, profile_wanted) = match name.split_once('/') {
        Some((plugin, profile)) => (Some(plugin), profile),
        None => (None, name),
    };
    let (entries, failures) = all_profiles(registry);
    let mut matching: Vec<ProfileEntry> = entries
        .iter()
        .filter(|entry| {
            entry.profile.name == profile_wanted && plugin_wanted.is_none_or(|plugin| plugin == entry.plugin)
        })
        .cloned()
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => match failures.into_iter().next() {
            // The profile may be in the plugin that failed: say so rather than "unknown".
            Some(failure) => Err(RefreshError::ProfilePlugin(failure)),
            None => Err(RefreshError::UnknownProfile {
                name: name.to_string(),
                known: entries.iter().map(|entry| entry.profile.name.as_str()).collect::<Vec<_>>().join(", "),
            }),
        },
        _ => Err(RefreshError::AmbiguousProfile {
            name: profile_wanted.to_string(),
            plugins: matching.iter().map(|entry| entry.plugin.as_str()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// The dates a dataset covers, exchange-local and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RefreshWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl RefreshWindow {
    /// `[today - months, today - 1 day]`: today's session is not over, so its bars would
    /// only be stale ones.
    pub fn months_back(today: NaiveDate, months: u32) -> Option<RefreshWindow> {
        Some(RefreshWindow { from: today.checked_sub_months(Months::new(months))?, to: today.pred_opt()? })
    }

    /// The bars of `timeframe` inside the window. Daily bars are keyed by session date at
    /// midnight UTC; minute bars by their UTC instant, so their bounds are the first open
    /// and the last close of the window's sessions on `exchanges`.
    fn keep(
        &self,
        registry: &Registry,
        exchanges: &[String],
        timeframe: Timeframe,
    ) -> Result<KeepWindow, RefreshError> {
        let after_last_day = self.to.succ_opt().unwrap_or(self.to);
        let (mut start_from, mut start_before) =
            (Timeframe::daily_bar_start(self.from), Timeframe::daily_bar_start(after_last_day));
        if timeframe == Timeframe::Minute {
            let mut bounds: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
            for mic in exchanges {
                let Some(calendar) = registry.calendar(mic) else { continue };
                // The window's years were built by the plan just made: no plugin call here.
                let sessions = calendar.sessions(self.from, self.to).map_err(LoadError::from)?;
                if let (Some(first), Some(last)) = (sessions.first(), sessions.last()) {
                    bounds = Some(match bounds {
                        None => (first.open, last.close),
                        Some((from, before)) => (from.min(first.open), before.max(last.close)),
                    });
                }
            }
            (start_from, start_before) = bounds.unwrap_or((start_from, start_from));
        }
        Ok(KeepWindow { timeframe, start_from, start_before })
    }
}

/// A profile resolved and checked against this process's universes and calendars: what
/// a refresh will load. Making one touches no dataset.
#[derive(Debug, Clone)]
pub struct RefreshTarget {
    pub entry: ProfileEntry,
    pub listings: Vec<Listing>,
    pub window: RefreshWindow,
}

impl RefreshTarget {
    /// Resolves the profile's symbols and window, and checks every exchange it uses.
    pub fn resolve(
        entry: ProfileEntry,
        universes: &Universes,
        registry: &Registry,
        today: NaiveDate,
    ) -> Result<RefreshTarget, RefreshError> {
        let profile = &entry.profile;
        let listings = match &profile.symbols {
            SymbolSet::Explicit(listings) => listings.clone(),
            SymbolSet::Universe { name, count } => {
                let universe = universes.get(name).ok_or_else(|| RefreshError::UnknownUniverse {
                    profile: profile.name.clone(),
                    universe: name.clone(),
                    known: universes.names().join(", "),
                })?;
                if *count as usize > universe.listings.len() {
                    return Err(RefreshError::UniverseTooSmall {
                        profile: profile.name.clone(),
                        universe: name.clone(),
                        wanted: *count,
                        has: universe.listings.len(),
                    });
                }
                universe.listings[..*count as usize].to_vec()
            }
        };
        if listings.is_empty() {
            return Err(RefreshError::NoSymbols { profile: profile.name.clone() });
        }
        for mic in &profile.exchanges {
            if registry.calendar(mic).is_none() {
                return Err(RefreshError::UnknownExchange {
                    profile: profile.name.clone(),
                    mic: mic.clone(),
                    known: registry.names(PluginKind::Calendar).join(", "),
                });
            }
        }
        if let Some(stray) = listings.iter().find(|listing| !profile.exchanges.contains(&listing.exchange)) {
            return Err(RefreshError::ListingOffProfileExchanges {
                profile: profile.name.clone(),
                symbol: stray.symbol.clone(),
                mic: stray.exchange.clone(),
                exchanges: profile.exchanges.join(", "),
            });
        }
        let window =
            RefreshWindow::months_back(today, profile.window_months).ok_or(RefreshError::WindowOutOfRange {
                profile: profile.name.clone(),
                months: profile.window_months,
                today,
            })?;
        Ok(RefreshTarget { entry, listings, window })
    }
}

/// How a refresh runs.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Discard the dataset and rebuild it from empty.
    pub full: bool,
    /// Batch policy that cuts the gaps into jobs.
    pub policy: String,
    pub tier: Tier,
    pub run: RunOptions,
    /// When the command began, so the time reported (against the profile's target) is
    /// what the developer waited, plugin start-up included.
    pub started: Instant,
}

/// What a refresh did, for people (`to_text`) and scripts (JSON).
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub profile: String,
    pub plugin: String,
    pub dataset: String,
    pub full: bool,
    pub window: RefreshWindow,
    pub symbols: usize,
    pub exchanges: Vec<String>,
    pub timeframes: Vec<String>,
    pub feature_tags: Vec<String>,
    pub provider: String,
    /// Sessions the calendars expect in the window, summed over symbols and timeframes.
    pub sessions_expected: u64,
    /// Bars in the dataset after the refresh.
    pub bars_present: u64,
    /// Bars the window should have that were missing or stale before the refresh.
    pub bars_missing: u64,
    /// Bars the provider returned.
    pub bars_fetched: u64,
    /// Rows the store inserted or replaced.
    pub bars_written: u64,
    /// Bars deleted because they fell out of the window.
    pub bars_removed: u64,
    pub jobs: u64,
    pub jobs_dead: u64,
    pub dead_letters: Vec<String>,
    /// Bars fetched / bars missing: exactly 1.0 when nothing was fetched twice or in vain;
    /// 1.0 as well when nothing was missing (see the module docs).
    pub efficiency: f64,
    pub seconds: f64,
    pub target_seconds: f64,
    pub within_target: bool,
    pub interrupted: bool,
    pub complete: bool,
}

impl RefreshReport {
    /// The human summary, a few lines.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "refresh {} ({}{}): {} symbols on {}, {} to {} ({}), into {}\n",
            self.profile,
            self.plugin,
            if self.full { ", full rebuild" } else { "" },
            self.symbols,
            self.exchanges.join(","),
            self.window.from,
            self.window.to,
            self.timeframes.join(","),
            self.dataset
        );
        text += &format!("  sessions expected {}, bars present {}\n", self.sessions_expected, self.bars_present);
        text += &format!(
            "  bars missing {}, fetched {}, removed {} (fell out of the window); efficiency {:.3}{}\n",
            self.bars_missing,
            self.bars_fetched,
            self.bars_removed,
            self.efficiency,
            if self.bars_missing == 0 { " (nothing missing)" } else { "" }
        );
        text += &format!(
            "  time {:.3} s against a target of {} s: {}\n",
            self.seconds,
            self.target_seconds,
            if self.within_target { "within target" } else { "OVER TARGET" }
        );
        text += &format!("  provider {}; feature tags: {}\n", self.provider, self.feature_tags.join(", "));
        for reason in &self.dead_letters {
            text += &format!("  dead letter: {reason}\n");
        }
        if self.interrupted {
            text += "  interrupted: run the same command again to finish\n";
        }
        text
    }
}

/// Brings `dataset` up to date with `target`: see the module docs for the steps.
pub async fn refresh(
    registry: Arc<Registry>,
    target: &RefreshTarget,
    dataset: &Dataset,
    provider: Arc<dyn Provider>,
    options: RefreshOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<RefreshReport, RefreshError> {
    // The dataset's own record says whose it is: a profile whose name only folds like
    // another's (`Patterns`, `patterns`) must neither write into nor drop its data.
    let mut store = dataset.open().await?;
    if let Err(error) = check_owner(&store, &target.entry.profile.name).await {
        store.close().await;
        return Err(error);
    }
    if options.full {
        store.close().await;
        dataset.discard().await?;
        store = dataset.open().await?;
    }
    let outcome = refresh_store(registry, target, &store, provider, &options, shutdown).await;
    store.close().await;
    outcome
}

/// Refuses a dataset recorded (`dataset_meta`) under a profile other than `profile`. A
/// dataset without a record is new, or was never completed by anyone: it is free.
async fn check_owner(store: &Store, profile: &str) -> Result<(), RefreshError> {
    let meta = store.dataset_meta().await?;
    match meta.get("profile") {
        Some(recorded) if recorded != profile => Err(RefreshError::DatasetOfAnotherProfile {
            profile: profile.to_string(),
            recorded: crate::plugin::limits::excerpt(recorded),
            location: store.location().to_string(),
        }),
        _ => Ok(()),
    }
}

async fn refresh_store(
    registry: Arc<Registry>,
    target: &RefreshTarget,
    store: &Store,
    provider: Arc<dyn Provider>,
    options: &RefreshOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<RefreshReport, RefreshError> {
    let profile = &target.entry.profile;
    let mut report = RefreshReport {
        profile: profile.name.clone(),
        plugin: target.entry.plugin.clone(),
        dataset: store.location().to_string(),
        full: options.full,
        window: target.window,
        symbols: target.listings.len(),
        exchanges: profile.exchanges.clone(),
        timeframes: profile.timeframes.iter().map(|timeframe| timeframe.as_str().to_string()).collect(),
        feature_tags: profile.feature_tags.clone(),
        provider: provider.name(),
        sessions_expected: 0,
        bars_present: 0,
        bars_missing: 0,
        bars_fetched: 0,
        bars_written: 0,
        bars_removed: 0,
        jobs: 0,
        jobs_dead: 0,
        dead_letters: Vec::new(),
        efficiency: 1.0,
        seconds: 0.0,
        target_seconds: f64::from(profile.reset_target_millis) / 1000.0,
        within_target: true,
        interrupted: false,
        complete: true,
    };
    for &timeframe in &profile.timeframes {
        let request = LoadRequest {
            listings: target.listings.clone(),
            from: target.window.from,
            to: target.window.to,
            timeframe,
            tier: options.tier,
            policy: options.policy.clone(),
            limits: PlanLimits::default(),
            stats: None,
        };
        let plan = plan_load(&registry, store, &request).await?;
        report.sessions_expected += plan.summary.sessions_expected;
        report.bars_missing += plan.summary.expected_rows;
        report.jobs += plan.jobs.len() as u64;
        // Nothing missing: no queue, no workers, no progress display.
        if !plan.jobs.is_empty() {
            // Always the in-process queue: a development dataset is one developer's, and
            // its jobs must not land on a shared Redis that production workers drain.
            let queue = Queue::open(None, QueueOptions::default()).await.map_err(LoadError::from)?;
            let load = run_plan(
                registry.clone(),
                store.clone(),
                provider.clone(),
                queue,
                plan,
                options.run.clone(),
                shutdown.clone(),
                options.started,
            )
            .await?;
            report.bars_fetched += load.bars_fetched;
            report.bars_written += load.rows_written;
            report.jobs_dead += load.jobs_dead;
            report.dead_letters.extend(load.dead_letters);
            report.interrupted |= load.interrupted;
            report.complete &= load.complete;
        }
        let keep = target.window.keep(&registry, &profile.exchanges, timeframe)?;
        report.bars_removed += store.delete_outside(&keep).await?;
        report.bars_present +=
            store.count_bars(&BarSelection { timeframe: Some(timeframe), ..BarSelection::default() }).await?;
        if report.interrupted {
            break;
        }
    }
    store.replace_dataset_meta(&dataset_meta(target, &report)).await?;
    report.efficiency =
        if report.bars_missing == 0 { 1.0 } else { report.bars_fetched as f64 / report.bars_missing as f64 };
    report.seconds = options.started.elapsed().as_secs_f64();
    report.within_target = report.seconds <= report.target_seconds;
    Ok(report)
}

/// What is recorded with the dataset, for the tools that read it: the profile (feature
/// tags included), where it came from, and the window the bars cover. Lists are JSON.
fn dataset_meta(target: &RefreshTarget, report: &RefreshReport) -> BTreeMap<String, String> {
    let profile = &target.entry.profile;
    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).expect("plain data always serialises")
    }
    let mut meta = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        meta.insert(key.to_string(), value);
    };
    put("profile", profile.name.clone());
    put("description", profile.description.clone());
    put("plugin", target.entry.plugin.clone());
    put("plugin_version", target.entry.plugin_version.clone());
    put("feature_tags", json(&profile.feature_tags));
    put("symbols", json(&profile.symbols));
    put("listings", json(&target.listings));
    put("exchanges", json(&profile.exchanges));
    put("timeframes", json(&report.timeframes));
    put("window_months", profile.window_months.to_string());
    put("window_from", target.window.from.to_string());
    put("window_to", target.window.to.to_string());
    put("reset_target_millis", profile.reset_target_millis.to_string());
    put("refreshed_at", Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    put("complete", report.complete.to_string());
    put("tickstock_version", env!("CARGO_PKG_VERSION").to_string());
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_reaches_back_whole_months_and_ends_yesterday() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let cases = [
            (date(2024, 7, 15), 6, date(2024, 1, 15), date(2024, 7, 14)),
            (date(2024, 3, 31), 1, date(2024, 2, 29), date(2024, 3, 30)),
            (date(2025, 1, 1), 12, date(2024, 1, 1), date(2024, 12, 31)),
        ];
        for (today, months, from, to) in cases {
            assert_eq!(
                RefreshWindow::months_back(today, months),
                Some(RefreshWindow { from, to }),
                "today {today}, {months} months"
            );
        }
    }
}
