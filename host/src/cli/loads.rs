//! `tickstock loads [list | show ID]`: the store's load ledger, or a running server's
//! (`--server`), printed the same way. Every process that works a load writes the ledger,
//! so this shows one story whichever process ran the jobs.

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::GlobalOptions;
use super::remote::Remote;
use crate::redact::SecretUrl;
use crate::store::{DeadJobRecord, MAX_LOADS_LISTED, Store};

#[derive(Debug, Args)]
pub struct LoadsArgs {
    #[command(subcommand)]
    pub command: Option<LoadsCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum LoadsCommand {
    /// Recent loads, newest first (the default).
    List(ListArgs),
    /// One load: its state, jobs and rows per tier, rate, ETA and dead letters.
    Show {
        /// The load id (from `loads list`, a load's report, or `POST /loads`).
        id: String,
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        output: super::FormatArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Store: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
    pub db: Option<SecretUrl>,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Most loads to list (at most 500).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// List the loads older than this load id (the next page).
    #[arg(long)]
    pub before: Option<String>,
    #[command(flatten)]
    pub output: super::FormatArgs,
}

#[derive(serde::Deserialize)]
struct ListAnswer {
    loads: Vec<serde_json::Value>,
}

pub fn run(options: &GlobalOptions, args: LoadsArgs) -> anyhow::Result<()> {
    let remote = Remote::from_options(options)?;
    match args.command.unwrap_or(LoadsCommand::List(args.list)) {
        LoadsCommand::List(list) => {
            if list.limit == 0 || list.limit > MAX_LOADS_LISTED {
                anyhow::bail!("--limit must be 1 to {MAX_LOADS_LISTED}, not {}", list.limit);
            }
            let json = list.output.json("loads list")?;
            let loads: Vec<serde_json::Value> = match &remote {
                Some(remote) => {
                    let mut query = vec![("limit", list.limit.to_string())];
                    if let Some(before) = &list.before {
                        query.push(("before", before.clone()));
                    }
                    remote.get::<ListAnswer>("loads", &query)?.loads
                }
                None => with_store(&list.store, |store| async move {
                    let loads = store.list_loads(list.limit, list.before.as_deref()).await?;
                    Ok(loads.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?)
                })?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&loads)?);
            } else if loads.is_empty() {
                println!("no loads recorded");
            } else {
                let rows: Vec<[String; 7]> = loads.iter().map(list_row).collect();
                super::plugins::print_table(&["ID", "STATE", "CREATED", "JOBS", "DEAD", "ROWS", "PLAN"], &rows);
            }
        }
        LoadsCommand::Show { id, store, output } => {
            let json = output.json("loads show")?;
            let load: serde_json::Value = match &remote {
                Some(remote) => remote.get(&format!("loads/{}", load_id_segment(&id)?), &[])?,
                None => with_store(&store, |store| async move {
                    let load = store
                        .load_record(&id)
                        .await?
                        .with_context(|| format!("the store has no load {}", crate::api::quoted_prefix(&id, 40)))?;
                    Ok(serde_json::to_value(load)?)
                })?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&load)?);
            } else {
                print_load(&load);
            }
        }
    }
    Ok(())
}

/// Runs `read` against the store, opened to read only (a missing store reads as empty).
fn with_store<T, F, Fut>(store: &StoreArg, read: F) -> anyhow::Result<T>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let location = store.db.clone().unwrap_or_else(crate::store::default_location);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let store = Store::open_read_only(location.expose()).await?;
        let result = read(store.clone()).await;
        store.close().await;
        result
    })
}

/// A load id for a URL path: only the characters ids are made of.
fn load_id_segment(id: &str) -> anyhow::Result<&str> {
    if !crate::queue::is_id(id) {
        anyhow::bail!("{} is not a load id", crate::api::quoted_prefix(id, 40));
    }
    Ok(id)
}

fn text(value: &serde_json::Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Null) | None => "-".to_string(),
        Some(other) => other.to_string(),
    }
}

fn number(value: &serde_json::Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(serde_json::Value::as_u64).unwrap_or(0)
}

fn list_row(load: &serde_json::Value) -> [String; 7] {
    [
        text(load, "/id"),
        text(load, "/state"),
        text(load, "/created_at"),
        format!("{}/{}", number(load, "/total/done"), number(load, "/total/jobs")),
        number(load, "/total/dead").to_string(),
        format!("{}/{}", number(load, "/total/rows_written"), number(load, "/total/expected_rows")),
        format!(
            "{} symbols {} {}..{}",
            number(load, "/plan/symbols"),
            text(load, "/plan/timeframe"),
            text(load, "/plan/from"),
            text(load, "/plan/to")
        ),
    ]
}

fn print_load(load: &serde_json::Value) {
    println!("load {}: {}", text(load, "/id"), text(load, "/state"));
    println!(
        "  plan: {} symbols on {} {}..{} ({}), policy {}",
        number(load, "/plan/symbols"),
        load.pointer("/plan/exchanges")
            .and_then(serde_json::Value::as_array)
            .map(|mics| mics.iter().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        text(load, "/plan/from"),
        text(load, "/plan/to"),
        text(load, "/plan/timeframe"),
        text(load, "/plan/policy"),
    );
    println!("  created {}, finished {}", text(load, "/created_at"), text(load, "/finished_at"));
    if let Some(error) = load.get("error").and_then(serde_json::Value::as_str) {
        println!("  failed: {error}");
    }
    let rate = load.get("rows_per_second").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let eta = load.get("eta_seconds").and_then(serde_json::Value::as_f64);
    println!(
        "  rows {} of {} expected, {:.0} rows/s{}",
        number(load, "/total/rows_written"),
        number(load, "/total/expected_rows"),
        rate,
        eta.map(|eta| format!(", ETA {eta:.0} s")).unwrap_or_default()
    );
    let tier_row = |name: String, counts: &serde_json::Value| -> [String; 7] {
        [
            name,
            number(counts, "/jobs").to_string(),
            number(counts, "/queued").to_string(),
            number(counts, "/done").to_string(),
            number(counts, "/dead").to_string(),
            number(counts, "/retries").to_string(),
            number(counts, "/rows_written").to_string(),
        ]
    };
    let mut rows: Vec<[String; 7]> = load
        .get("tiers")
        .and_then(serde_json::Value::as_object)
        .map(|tiers| tiers.iter().map(|(tier, counts)| tier_row(tier.clone(), counts)).collect())
        .unwrap_or_default();
    rows.push(tier_row("total".to_string(), load.get("total").unwrap_or(&serde_json::Value::Null)));
    super::plugins::print_table(&["TIER", "JOBS", "QUEUED", "DONE", "DEAD", "RETRIES", "ROWS"], &rows);
    let dead: Vec<DeadJobRecord> =
        load.get("dead_letters").cloned().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default();
    for job in &dead {
        println!("  dead {} [{}] {}", job.job_id, job.tier.as_str(), super::table::cell(&job.reason));
    }
}
