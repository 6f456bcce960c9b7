//! `tickstock refresh <profile>` and `tickstock refresh --list`: development datasets from
//! the command line (the work is in `crate::refresh`).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chrono::{NaiveDate, Utc};
use clap::Args;

use super::GlobalOptions;
use super::load::ReportFormat;
use crate::load::{ProgressStyle, RunOptions};
use crate::plan::Tier;
use crate::plugin::profile::SymbolSet;
use crate::refresh::{Dataset, DatasetHome, RefreshOptions, RefreshTarget, Universes};
use crate::worker::WorkerOptions;

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Profile to refresh (see --list); `<plugin>/<profile>` when two plugins offer one name.
    #[arg(required_unless_present = "list")]
    pub profile: Option<String>,

    /// List every profile of every loaded refresh-profile plugin, and exit.
    #[arg(long, conflicts_with = "profile")]
    pub list: bool,

    /// Drop the dataset and rebuild it from empty (default: load only what is missing).
    #[arg(long)]
    pub full: bool,

    /// Today's date, YYYY-MM-DD: the window is [today - N months, today - 1 day]
    /// [default: today, UTC].
    #[arg(long)]
    pub today: Option<String>,

    /// Folder of the SQLite datasets, one `<profile>.db` each.
    #[arg(long, env = "TICKSTOCK_DATA_DIR", default_value = "tickstock-data")]
    pub data_dir: PathBuf,

    /// A postgres:// URL: keep the dataset in its own schema (`dev_<profile>`) of that
    /// database instead of a SQLite file under --data-dir.
    #[arg(long)]
    pub db: Option<String>,

    /// Folder of extra universes, one `<name>.txt` of `SYMBOL,MIC` lines each; a file
    /// replaces the built-in universe of the same name.
    #[arg(long, env = "TICKSTOCK_UNIVERSES")]
    pub universes: Option<PathBuf>,

    /// Batch policy that cuts the gaps into jobs.
    #[arg(long, default_value = "fixed")]
    pub policy: String,

    /// Bar source: synthetic (generated, not market data), csv:<dir>, or http.
    #[arg(long, default_value = "synthetic", env = "TICKSTOCK_PROVIDER")]
    pub provider: String,

    /// Jobs running at once.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,

    /// Summary format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
}

pub fn run(options: &GlobalOptions, args: RefreshArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // Checked before the plugins load: a typo in a flag should not cost a start-up.
    let today = match &args.today {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .with_context(|| format!("--today {text:?} is not a date of the form YYYY-MM-DD"))?,
        None => Utc::now().date_naive(),
    };
    let home = match &args.db {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            DatasetHome::Postgres { url: url.clone() }
        }
        Some(other) => bail!(
            "--db takes a postgres:// URL (got {}); SQLite datasets live under --data-dir",
            crate::api::quoted_prefix(&crate::redact::redact_url(other), 80)
        ),
        None => DatasetHome::Folder(args.data_dir.clone()),
    };
    let universes = match &args.universes {
        Some(folder) => Universes::with_folder(folder)?,
        None => Universes::builtin(),
    };
    let registry = super::open_registry(options)?;
    if args.list {
        return list(&registry, args.report);
    }
    let name = args.profile.as_deref().expect("clap requires a profile without --list");
    let entry = crate::refresh::find_profile(&registry, name)?;
    let target = RefreshTarget::resolve(entry, &universes, &registry, today)?;
    let dataset = Dataset::of_profile(&home, &target.entry.profile.name);
    let provider: Arc<dyn crate::provider::Provider> = Arc::from(crate::provider::from_spec(&args.provider, None)?);
    let refresh_options = RefreshOptions {
        full: args.full,
        policy: args.policy.clone(),
        // A developer is waiting for this one.
        tier: Tier::High,
        run: RunOptions {
            workers: WorkerOptions { workers: args.workers.max(1), ..WorkerOptions::default() },
            // A bar on a terminal; no plain progress lines in logs or pipes, where a refresh
            // of a second or two would print only "0 of N".
            progress: if args.report == ReportFormat::Text && std::io::stderr().is_terminal() {
                ProgressStyle::Auto
            } else {
                ProgressStyle::Quiet
            },
            submit_only: false,
            observer: None,
        },
        started,
    };
    // A current-thread runtime: a refresh is a few jobs whose time goes to SQLite's own
    // thread or the PostgreSQL server, so a pool of runtime threads (what `load` starts
    // for thousands of jobs) would only add threads to start and stop.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let report = runtime.block_on(async {
        // No Ctrl-C handler of our own: a refresh takes seconds, and the default (exit at
        // once) loses at most the jobs in flight, which the next refresh plans again.
        let (_keep_running, shutdown) = tokio::sync::watch::channel(false);
        crate::refresh::refresh(registry, &target, &dataset, provider, refresh_options, shutdown).await
    })?;
    match args.report {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Text => print!("{}", report.to_text()),
    }
    if report.jobs_dead > 0 {
        bail!("{} jobs failed permanently; the dataset is incomplete (run the refresh again)", report.jobs_dead);
    }
    Ok(())
}

fn list(registry: &crate::plugin::Registry, format: ReportFormat) -> anyhow::Result<()> {
    let (entries, failures) = crate::refresh::all_profiles(registry);
    for failure in &failures {
        eprintln!("warning: {failure}");
    }
    if format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|entry| {
            let profile = &entry.profile;
            let symbols = match &profile.symbols {
                SymbolSet::Universe { name, count } => format!("{count} of {name}"),
                SymbolSet::Explicit(listings) => format!("{} listed", listings.len()),
            };
            [
                profile.name.clone(),
                entry.plugin.clone(),
                symbols,
                format!("{} months", profile.window_months),
                format!("{} s", f64::from(profile.reset_target_millis) / 1000.0),
                profile.feature_tags.join(","),
                profile.description.clone(),
            ]
        })
        .collect();
    super::plugins::print_table(&["PROFILE", "PLUGIN", "SYMBOLS", "WINDOW", "TARGET", "TAGS", "DESCRIPTION"], &rows);
    Ok(())
}
