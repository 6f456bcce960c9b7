//! `tickstock load`, `tickstock plan`, `tickstock worker` and `tickstock jobs`: the load
//! engine from the command line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use tokio::sync::watch;

use super::{GlobalOptions, Outcome};
use crate::api::jobs::{DeadLetter, MAX_DEAD_LETTERS};
use crate::api::load::{LoadSpec, RequestLimits, SymbolsSpec};
use crate::load::{LoadRequest, ProgressStyle, RunOptions};
use crate::plan::{Listing, PlanLimits, Tier};
use crate::plugin::Registry;
use crate::provider::{self, Provider};
use crate::queue::{JobQueue, Queue, QueueOptions};
use crate::redact::SecretUrl;
use crate::store::Store;
use crate::worker::{Throttle, WorkerCounters, WorkerOptions};

/// What to load: shared by `load` and `plan`.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// Exchange (MIC) of symbols given without one.
    #[arg(long, default_value = "XNYS")]
    pub exchange: String,

    /// A count (N generated symbols SYN0001.., for synthetic data), a list (AAPL,MSFT), or
    /// @file with one `SYMBOL` or `SYMBOL,MIC` per line (# comments allowed).
    #[arg(long, default_value = "100")]
    pub symbols: String,

    /// First exchange-local date, YYYY-MM-DD [default: --years before --to].
    #[arg(long)]
    pub from: Option<String>,

    /// Last exchange-local date, YYYY-MM-DD [default: yesterday, UTC].
    #[arg(long)]
    pub to: Option<String>,

    /// Years back from --to, when --from is not given.
    #[arg(long, default_value_t = 1)]
    pub years: u32,

    /// Bar timeframe: 1d or 1m.
    #[arg(long, default_value = "1d")]
    pub timeframe: String,

    /// Dispatch tier of the jobs.
    #[arg(long, default_value_t = Tier::Normal)]
    pub tier: Tier,

    /// Batch policy plugin that cuts the gaps into jobs (`tickstock plugins list`).
    #[arg(long, default_value = "fixed")]
    pub policy: String,

    /// Most symbols in one job.
    #[arg(long, default_value_t = PlanLimits::default().max_symbols_per_job)]
    pub max_symbols_per_job: u32,

    /// Store: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
    pub db: Option<SecretUrl>,
}

/// Where bars come from and how the workers run: shared by `load` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct JobRunnerArgs {
    /// Bar source: synthetic (generated, not market data), csv:<dir>, or http.
    #[arg(long, default_value = "synthetic", env = "TICKSTOCK_PROVIDER")]
    pub provider: String,

    /// Adds this delay to every provider request (drills and benchmarks).
    #[arg(long, default_value_t = 0)]
    pub simulate_latency_ms: u64,

    /// Jobs running at once in this process.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,

    /// Per-tier concurrency caps, e.g. `low=1,normal=2`.
    #[arg(long, value_delimiter = ',')]
    pub tier_cap: Vec<String>,

    /// While an exchange is open, run at most this many of its jobs at once.
    #[arg(long)]
    pub max_jobs_while_open: Option<usize>,

    /// Hold every job until its exchanges are closed.
    #[arg(long)]
    pub when_closed: bool,

    /// Estimated MiB of bars the running jobs may hold before dequeuing pauses.
    #[arg(long, default_value_t = 512)]
    pub memory_budget_mib: u64,

    /// Consecutive transient provider failures that open the circuit breaker.
    #[arg(long, default_value_t = 5)]
    pub breaker_threshold: u32,

    /// Seconds the queue may stay unreachable before this process gives up with an error
    /// [default: 60 for `load` and `worker --exit-when-idle`, unbounded for `worker` and
    /// `serve`, which outlive a Redis restart].
    #[arg(long)]
    pub max_queue_outage_secs: Option<u64>,

    /// Seconds the circuit stays open before a probe.
    #[arg(long, default_value_t = 10)]
    pub breaker_cooldown_secs: u64,

    /// Seconds between the workers' INFO summary lines while jobs settle (0: none).
    #[arg(long, default_value_t = crate::worker::DEFAULT_SUMMARY_EVERY.as_secs())]
    pub summary_every_secs: u64,
}

/// Which queue, and its tunables.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// Queue: redis://host:port for Redis Streams [default: in-process].
    #[arg(long, env = "TICKSTOCK_QUEUE", hide_env_values = true)]
    pub queue: Option<SecretUrl>,

    /// Seconds a delivered job may go silent before another worker reclaims it.
    #[arg(long, default_value_t = 30)]
    pub claim_idle_secs: u64,

    /// Deliveries after which a failing job is dead-lettered.
    #[arg(long, default_value_t = 5)]
    pub max_deliveries: u32,

    /// Most jobs queued or in flight; submitting waits beyond it (backpressure).
    #[arg(long, default_value_t = 50_000)]
    pub max_pending: u64,

    /// Prefix of the Redis keys.
    #[arg(long, default_value = "tickstock:")]
    pub queue_prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Text for people (`table`, as the other commands call it, is accepted too).
    #[value(alias = "table")]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub work: JobRunnerArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Only enqueue the jobs (for `tickstock worker` processes to do).
    #[arg(long)]
    pub submit_only: bool,
    /// Summary format (`--format` is the same flag, as on every other command).
    #[arg(long, alias = "format", value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Plain progress lines instead of a bar, or none.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    Auto,
    Lines,
    None,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub output: super::FormatArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub work: JobRunnerArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Store: a SQLite file path or a postgres:// URL [default: ./tickstock.db].
    #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
    pub db: Option<SecretUrl>,
    /// Exit once the queue has nothing queued or in flight, instead of waiting for more.
    #[arg(long)]
    pub exit_when_idle: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs queued, in flight and dead, per tier.
    Status {
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// The dead letters, with the reason each died: the Redis queue's, or on the
    /// in-process queue those the store's ledger kept.
    Dead {
        #[command(flatten)]
        queue: QueueArgs,
        /// Store whose ledger holds the in-process queue's dead letters [default: ./tickstock.db].
        #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
        db: Option<SecretUrl>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Queue every dead letter again with a fresh delivery budget. On the in-process
    /// queue, runs the dead jobs the store's ledger kept, here and now.
    RetryDead {
        #[command(flatten)]
        queue: QueueArgs,
        /// Store whose ledger holds the in-process queue's dead letters [default: ./tickstock.db].
        #[arg(long, env = "TICKSTOCK_DB", hide_env_values = true)]
        db: Option<SecretUrl>,
        #[command(flatten)]
        work: JobRunnerArgs,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// How long a one-off load (or `worker --exit-when-idle`) waits out an unreachable queue.
const DEFAULT_LOAD_QUEUE_OUTAGE: Duration = Duration::from_secs(60);

/// Largest `--symbols @file` read: a million listings fit in well under 16 MiB.
const MAX_SYMBOL_FILE_BYTES: u64 = 16 * 1024 * 1024;

impl RequestArgs {
    /// The request these flags state, as the API would receive it (`@file` read here).
    pub fn to_spec(&self) -> anyhow::Result<LoadSpec> {
        let exchange = crate::api::load::parse_mic(&self.exchange, "--exchange")?;
        let symbols = self.symbols.trim();
        let symbols = if let Some(path) = symbols.strip_prefix('@') {
            let text = read_symbol_file(Path::new(path))?;
            let listings = crate::api::load::parse_listing_lines(&text, path, Some(&exchange))?;
            if listings.is_empty() {
                bail!("the symbol file {path} lists no symbols");
            }
            SymbolsSpec::List(
                listings.into_iter().map(|listing| format!("{},{}", listing.symbol, listing.exchange)).collect(),
            )
        } else if let Ok(count) = symbols.parse::<u64>() {
            SymbolsSpec::Count(count)
        } else {
            SymbolsSpec::List(symbols.split(',').filter(|item| !item.trim().is_empty()).map(str::to_string).collect())
        };
        Ok(LoadSpec {
            symbols,
            exchange: Some(exchange),
            from: self.from.clone(),
            to: self.to.clone(),
            years: Some(self.years),
            timeframe: Some(self.timeframe.clone()),
            tier: Some(self.tier.as_str().to_string()),
            policy: Some(self.policy.clone()),
            max_symbols_per_job: Some(self.max_symbols_per_job),
        })
    }

    /// The load request these flags describe, checked.
    pub fn to_request(&self) -> anyhow::Result<LoadRequest> {
        let limits = RequestLimits { max_symbols: usize::MAX };
        Ok(self.to_spec()?.to_request(Utc::now().date_naive(), &limits)?)
    }

    pub fn db_location(&self) -> SecretUrl {
        self.db.clone().unwrap_or_else(crate::store::default_location)
    }
}

/// A symbol file: a regular file (not a FIFO or a device, which could block or never
/// end) of at most [`MAX_SYMBOL_FILE_BYTES`].
fn read_symbol_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading the symbol file {shown}"))?;
    let metadata = file.metadata().with_context(|| format!("reading the symbol file {shown}"))?;
    if !metadata.is_file() {
        bail!("the symbol file {shown} is not a regular file");
    }
    let mut text = String::new();
    file.take(MAX_SYMBOL_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the symbol file {shown} (UTF-8 text expected)"))?;
    if text.len() as u64 > MAX_SYMBOL_FILE_BYTES {
        bail!("the symbol file {shown} is over {} MiB", MAX_SYMBOL_FILE_BYTES / 1024 / 1024);
    }
    Ok(text)
}

/// `N`, `A,B,C` or `@file` into listings, as `--symbols` takes them.
pub fn parse_symbols(text: &str, default_exchange: &str) -> anyhow::Result<Vec<Listing>> {
    let args = RequestArgs {
        exchange: default_exchange.to_string(),
        symbols: text.to_string(),
        from: Some("2000-01-01".into()),
        to: Some("2000-01-01".into()),
        years: 1,
        timeframe: "1d".into(),
        tier: Tier::Normal,
        policy: "fixed".into(),
        max_symbols_per_job: 1,
        db: None,
    };
    Ok(args.to_request()?.listings)
}

impl JobRunnerArgs {
    pub fn provider(&self) -> anyhow::Result<Arc<dyn Provider>> {
        let inner: Arc<dyn Provider> = Arc::from(provider::from_spec(&self.provider, None)?);
        Ok(if self.simulate_latency_ms > 0 {
            Arc::new(provider::latency::WithLatency { inner, latency: Duration::from_millis(self.simulate_latency_ms) })
        } else {
            inner
        })
    }

    pub fn worker_options(&self, exit_when_idle: bool, claim_idle: Duration) -> anyhow::Result<WorkerOptions> {
        let mut options = WorkerOptions {
            workers: self.workers.max(1),
            memory_budget_bytes: self.memory_budget_mib.max(1) * 1024 * 1024,
            breaker_threshold: self.breaker_threshold,
            breaker_cooldown: Duration::from_secs(self.breaker_cooldown_secs),
            throttle: Throttle {
                max_jobs_while_open: self.max_jobs_while_open,
                only_when_closed: self.when_closed,
                ..Throttle::default()
            },
            exit_when_idle,
            keep_alive_every: (claim_idle / 3).max(Duration::from_millis(100)),
            max_queue_outage: self
                .max_queue_outage_secs
                .map(Duration::from_secs)
                .or(exit_when_idle.then_some(DEFAULT_LOAD_QUEUE_OUTAGE)),
            summary_every: Some(Duration::from_secs(self.summary_every_secs)),
            ..WorkerOptions::default()
        };
        for cap in &self.tier_cap {
            let (tier, limit) =
                cap.split_once('=').with_context(|| format!("--tier-cap {cap:?}: expected TIER=N, e.g. low=1"))?;
            let tier: Tier = tier.trim().to_ascii_lowercase().parse().map_err(|_| {
                anyhow::anyhow!("--tier-cap {cap:?}: unknown tier {tier:?}; use critical, high, normal or low")
            })?;
            let limit: usize =
                limit.trim().parse().with_context(|| format!("--tier-cap {cap:?}: {limit:?} is not a number"))?;
            // A cap of 0 would leave the tier's jobs queued forever and the load waiting on them.
            anyhow::ensure!(
                limit >= 1,
                "--tier-cap {cap:?}: a cap of 0 would never run the tier's jobs; use 1 or more"
            );
            options.tier_caps.insert(tier, limit);
        }
        Ok(options)
    }
}

impl QueueArgs {
    pub fn options(&self) -> QueueOptions {
        QueueOptions {
            key_prefix: self.queue_prefix.clone(),
            claim_idle: Duration::from_secs(self.claim_idle_secs.max(1)),
            max_deliveries: self.max_deliveries.max(1),
            max_backlog: self.max_pending.max(1),
            consumer_name: None,
            read_batch: crate::queue::DEFAULT_READ_BATCH,
        }
    }

    pub async fn open(&self) -> anyhow::Result<Queue> {
        Queue::open(self.queue.as_ref().map(SecretUrl::expose), self.options()).await.with_context(|| {
            match &self.queue {
                Some(url) => format!("opening the queue {url}"),
                None => "opening the in-process queue".to_string(),
            }
        })
    }
}

/// Opens the store at `location`; the error names it redacted, once.
pub async fn open_store(location: &SecretUrl) -> anyhow::Result<Store> {
    Ok(Store::open(location.expose()).await?)
}

pub fn load(options: &GlobalOptions, args: LoadArgs) -> anyhow::Result<Outcome> {
    if args.submit_only && args.queue.queue.is_none() {
        // The in-process queue dies with this process: nobody could ever take the jobs.
        bail!(
            "--submit-only needs a shared queue for `tickstock worker` processes to take the jobs from: give --queue redis://host:port (or TICKSTOCK_QUEUE)"
        );
    }
    let request = args.request.to_request()?;
    let registry = super::open_registry(options)?;
    // Everything that can be refused is refused before the store is opened: a load that
    // cannot run creates no file and touches no database.
    crate::load::check_request(&registry, &request)?;
    let provider = args.work.provider()?;
    let worker_options = args.work.worker_options(true, Duration::from_secs(args.queue.claim_idle_secs.max(1)))?;
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let shutdown = crate::shutdown::listen();
        let store = open_store(&args.request.db_location()).await?;
        let queue = args.queue.open().await?;
        let run_options = RunOptions {
            workers: worker_options,
            progress: match args.progress {
                ProgressArg::Auto => ProgressStyle::Auto,
                ProgressArg::Lines => ProgressStyle::Lines,
                ProgressArg::None => ProgressStyle::Quiet,
            },
            submit_only: args.submit_only,
            observer: None,
        };
        let report = crate::load::run(registry, store.clone(), provider, queue, &request, run_options, shutdown).await;
        store.close().await;
        anyhow::Ok(report?)
    })?;
    let mut report = report;
    if report.jobs_dead > 0 {
        report.dead_letter_hint = Some(dead_letter_hint(&args));
    }
    match args.report {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Text => print!("{}", report.to_text()),
    }
    let hint = report.dead_letter_hint.clone().unwrap_or_default();
    Ok(run_outcome(report.interrupted, report.jobs_dead, &hint))
}

/// How a `load` or `worker` run ended, for the exit code, with a line on stderr saying so
/// when it is not plain success (the report or summary on stdout has the details); `hint`
/// names the commands that list and retry the dead letters.
fn run_outcome(interrupted: bool, jobs_dead: u64, hint: &str) -> Outcome {
    if interrupted {
        return Outcome::Interrupted;
    }
    if jobs_dead == 0 {
        return Outcome::Done;
    }
    eprintln!("{jobs_dead} dead letters: {hint}");
    Outcome::SomeDead
}

/// The dead-letter hint of a worker: its queue's commands.
fn worker_dead_letter_hint(queue: &QueueArgs) -> String {
    let mut flags = String::new();
    if let Some(url) = &queue.queue {
        flags = format!(" --queue {}", shell_word(&url.to_string()));
    }
    if queue.queue_prefix != QueueOptions::default().key_prefix {
        flags += &format!(" --queue-prefix {}", shell_word(&queue.queue_prefix));
    }
    format!(
        "`tickstock jobs dead{flags}` lists them; fix the cause, then `tickstock jobs retry-dead{flags}` queues them again"
    )
}

/// The commands that list and retry a load's dead letters, naming only what works for
/// the queue in use: on Redis the workers run the retried jobs; on the in-process queue
/// the store's ledger keeps them and `retry-dead` runs them itself, with the same provider.
fn dead_letter_hint(args: &LoadArgs) -> String {
    let mut db = String::new();
    if let Some(location) = &args.request.db {
        db = format!(" --db {}", shell_word(&location.to_string()));
    }
    match &args.queue.queue {
        Some(url) => {
            let mut queue = format!(" --queue {}", shell_word(&url.to_string()));
            if args.queue.queue_prefix != QueueOptions::default().key_prefix {
                queue += &format!(" --queue-prefix {}", shell_word(&args.queue.queue_prefix));
            }
            format!(
                "`tickstock jobs dead{queue}` lists them; fix the cause, then `tickstock jobs retry-dead{queue}` queues them for the workers"
            )
        }
        None => {
            let mut provider = String::new();
            if args.work.provider != "synthetic" {
                provider = format!(" --provider {}", shell_word(&args.work.provider));
            }
            format!(
                "`tickstock jobs dead{db}` lists them; fix the cause, then `tickstock jobs retry-dead{db}{provider}` runs them again"
            )
        }
    }
}

/// `text` quoted for a POSIX shell when it holds anything but safe characters.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub fn plan(options: &GlobalOptions, args: PlanArgs) -> anyhow::Result<()> {
    let request = args.request.to_request()?;
    let registry: Arc<Registry> = super::open_registry(options)?;
    crate::load::check_request(&registry, &request)?;
    let runtime = runtime()?;
    let plan = runtime.block_on(async {
        // A dry run reads: it creates no file, migrates nothing, writes nothing.
        let store = Store::open_read_only(args.request.db_location().expose()).await?;
        let plan = crate::load::plan_load(&registry, &store, &request).await;
        store.close().await;
        anyhow::Ok(plan?)
    })?;
    let summary = &plan.summary;
    if args.output.json("plan")? {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    println!(
        "plan (dry run) under policy {} v{} (generation {}): {} symbols on {} from {} to {} ({})",
        summary.policy,
        summary.policy_version,
        summary.policy_generation,
        summary.symbols,
        summary.exchanges.join(","),
        summary.from,
        summary.to,
        summary.timeframe
    );
    println!(
        "sessions expected {}, missing {} in {} gaps; {} jobs, {} expected rows, {} provider calls",
        summary.sessions_expected,
        summary.sessions_missing,
        summary.gaps,
        summary.jobs,
        summary.expected_rows,
        summary.provider_calls
    );
    let rows: Vec<[String; 5]> = summary
        .tiers
        .iter()
        .map(|tier| {
            [
                tier.tier.as_str().to_string(),
                tier.jobs.to_string(),
                tier.symbols.to_string(),
                tier.sessions.to_string(),
                tier.expected_rows.to_string(),
            ]
        })
        .collect();
    super::plugins::print_table(&["TIER", "JOBS", "SYMBOLS", "SESSIONS", "EXPECTED_ROWS"], &rows);
    Ok(())
}

pub fn worker(options: &GlobalOptions, args: WorkerArgs) -> anyhow::Result<Outcome> {
    let registry = super::open_registry(options)?;
    let runtime = runtime()?;
    let summary = runtime.block_on(async {
        let shutdown = crate::shutdown::listen();
        let location = args.db.clone().unwrap_or_else(crate::store::default_location);
        let store = open_store(&location).await?;
        let queue = args.queue.open().await?;
        if matches!(queue, Queue::Memory(_)) {
            bail!("`tickstock worker` needs a shared queue: give --queue redis://host:port (or TICKSTOCK_QUEUE)");
        }
        eprintln!(
            "worker {} on {} -> {}, provider {}",
            queue.consumer_name(),
            args.queue.queue.as_ref().map(SecretUrl::to_string).unwrap_or_default(),
            location,
            args.work.provider
        );
        let claim_idle = Duration::from_secs(args.queue.claim_idle_secs.max(1));
        let counters = Arc::new(WorkerCounters::default());
        let announcer = tokio::spawn({
            let (shutdown, counters) = (shutdown.clone(), counters.clone());
            async move {
                crate::shutdown::requested(shutdown).await;
                eprintln!("{}", counters.stopping_notice());
            }
        });
        let context = crate::worker::WorkerContext {
            registry,
            store: store.clone(),
            provider: args.work.provider()?,
            queue,
            counters,
            observer: None,
        };
        let (_never, no_more_jobs) = watch::channel(false);
        let summary = crate::worker::run_workers(
            context,
            args.work.worker_options(args.exit_when_idle, claim_idle)?,
            shutdown,
            no_more_jobs,
        )
        .await;
        // Stopped by a signal: let the notice be said (the workers can see the signal
        // before its task runs); it prints at once. Otherwise it has nothing to say.
        if summary.as_ref().is_ok_and(|summary| summary.stopped_by_signal) {
            let _ = announcer.await;
        } else {
            announcer.abort();
        }
        store.close().await;
        anyhow::Ok(summary?)
    })?;
    println!(
        "worker stopped: {} jobs done, {} retried, {} dead, {} rows written",
        summary.jobs_done, summary.jobs_retried, summary.jobs_dead, summary.rows_written
    );
    Ok(run_outcome(summary.stopped_by_signal, summary.jobs_dead, &worker_dead_letter_hint(&args.queue)))
}

pub fn jobs(options: &GlobalOptions, command: JobsCommand) -> anyhow::Result<Outcome> {
    // Before any runtime of ours: the client drives its own.
    if let Some(remote) = super::remote::Remote::from_options(options)? {
        return remote_jobs(&remote, command).map(|()| Outcome::Done);
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        match command {
            JobsCommand::Status { queue, output } => {
                let json = output.json("jobs status")?;
                let queue = queue.open().await?;
                let status = queue.status().await?;
                print_status(&status, json)?;
                if !json && matches!(queue, Queue::Memory(_)) {
                    println!("(the in-process queue lives only inside a running load; `tickstock loads` shows what loads did)");
                }
            }
            JobsCommand::Dead { queue, db, limit, output } => {
                let json = output.json("jobs dead")?;
                let limit = limit.clamp(1, MAX_DEAD_LETTERS);
                let queue = queue.open().await?;
                let dead: Vec<DeadLetter> = if matches!(queue, Queue::Memory(_)) {
                    let location = db.unwrap_or_else(crate::store::default_location);
                    let store = Store::open_read_only(location.expose()).await?;
                    let dead = store.dead_jobs(limit).await;
                    store.close().await;
                    dead?.into_iter().map(DeadLetter::from_ledger).collect()
                } else {
                    queue.list_dead(limit).await?.into_iter().map(DeadLetter::from_queue).collect()
                };
                print_dead(&dead, json)?;
            }
            JobsCommand::RetryDead { queue: queue_args, db, work } => {
                let queue = queue_args.open().await?;
                if !matches!(queue, Queue::Memory(_)) {
                    let count = queue.retry_dead().await?;
                    println!("{count} dead letters queued again");
                    return anyhow::Ok(Outcome::Done);
                }
                let registry = super::open_registry(options)?;
                let location = db.unwrap_or_else(crate::store::default_location);
                let store = open_store(&location).await?;
                let shutdown = crate::shutdown::listen();
                let claim_idle = Duration::from_secs(queue_args.claim_idle_secs.max(1));
                let report = crate::load::retry_dead_in_process(
                    registry,
                    store.clone(),
                    work.provider()?,
                    work.worker_options(true, claim_idle)?,
                    shutdown,
                )
                .await;
                store.close().await;
                let report = report?;
                println!(
                    "{} dead jobs run again in this process: {} done, {} dead again, {} rows written",
                    report.retried, report.workers.jobs_done, report.workers.jobs_dead, report.workers.rows_written
                );
                for reason in &report.unreadable {
                    println!("  left dead, unreadable: {reason}");
                }
                for reason in &report.dead_letters {
                    println!("  dead letter: {reason}");
                }
                let hint = "`tickstock jobs dead` lists why; fix the cause and run `tickstock jobs retry-dead` again";
                return Ok(run_outcome(report.workers.stopped_by_signal, report.workers.jobs_dead, hint));
            }
        }
        anyhow::Ok(Outcome::Done)
    })
}

/// `jobs ...` against a running server (`--server`): the server's queue, printed as the
/// local commands print it.
fn remote_jobs(remote: &super::remote::Remote, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::Status { output, .. } => {
            let json = output.json("jobs status")?;
            print_status(&remote.get("jobs", &[])?, json)
        }
        JobsCommand::Dead { limit, output, .. } => {
            let json = output.json("jobs dead")?;
            let limit = limit.clamp(1, MAX_DEAD_LETTERS);
            let answer: RemoteDeadLetters = remote.get("jobs/dead", &[("limit", limit.to_string())])?;
            print_dead(&answer.dead_letters, json)
        }
        JobsCommand::RetryDead { .. } => {
            let answer: RemoteRetried = remote.post("jobs/retry-dead")?;
            println!("{} dead letters queued again on {}", answer.queued_again, remote.origin());
            Ok(())
        }
    }
}

#[derive(serde::Deserialize)]
struct RemoteDeadLetters {
    dead_letters: Vec<DeadLetter>,
}

#[derive(serde::Deserialize)]
struct RemoteRetried {
    queued_again: u64,
}

fn print_status(status: &crate::queue::QueueStatus, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let rows: Vec<[String; 4]> = status
        .tiers
        .iter()
        .map(|depth| {
            [
                depth.tier.as_str().to_string(),
                depth.queued.to_string(),
                depth.in_flight.to_string(),
                depth.dead.to_string(),
            ]
        })
        .collect();
    super::plugins::print_table(&["TIER", "QUEUED", "IN_FLIGHT", "DEAD"], &rows);
    println!("backlog {} of at most {}", status.backlog(), status.max_backlog);
    Ok(())
}

fn print_dead(dead: &[DeadLetter], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(dead)?);
    } else if dead.is_empty() {
        println!("no dead letters");
    } else {
        for job in dead {
            println!(
                "{} [{}] after {} deliveries: {}\n    {}",
                job.id,
                job.tier.as_str(),
                job.deliveries,
                one_line(&job.reason),
                one_line(&job.gaps_text())
            );
        }
    }
    Ok(())
}

/// `text` on one line, whole: a dead letter's reason names the file and line that failed,
/// so it is not cut; control characters (a hostile payload's) show as `?`.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}
