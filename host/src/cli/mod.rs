//! The `tickstock` command line: one enum of subcommands, one module per subcommand group.
//! Every subcommand returns `anyhow::Result`; `main` prints the error on one line and exits
//! with code 1. `load` and `worker` also end in an [`Outcome`] (some jobs dead-lettered,
//! or interrupted), which `main` turns into its own exit code.
//!
//! Depends on the library (`api`, `load`, `service`, `bench`, `shutdown`, adapters); never
//! on `server`, and nothing in the library depends on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::plugin::{Limits, Registry, RuntimeOptions};

pub mod bench;
pub mod calendar;
pub mod config;
pub mod load;
pub mod loads;
pub mod logging;
pub mod plugins;
pub mod plugins_new;
pub mod refresh;
pub mod remote;
pub mod serve;
pub mod table;

/// `--format table|json` for a command that prints one report or a list of records; the
/// one output convention of every subcommand (`calendar sessions|status|holidays|windows`
/// also print `csv`, their rows). `--json` is kept as the older spelling of
/// `--format json`, so scripts written against it keep working.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArgs {
    /// Output format: table (for people) or json (one document).
    #[arg(long, value_enum, default_value_t = calendar::Format::Table)]
    pub format: calendar::Format,
    /// Same as --format json.
    #[arg(long, hide = true)]
    pub json: bool,
}

impl FormatArgs {
    /// Whether to print JSON; `csv` is refused with a one-line reason naming `command`.
    pub fn json(&self, command: &str) -> anyhow::Result<bool> {
        match (self.json, self.format) {
            (true, _) | (false, calendar::Format::Json) => Ok(true),
            (false, calendar::Format::Table) => Ok(false),
            (false, calendar::Format::Csv) => {
                anyhow::bail!("--format csv: `{command}` prints a report, not rows; use --format table or json")
            }
        }
    }
}

/// Command-line options shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOptions {
    /// Folder of extra plugin components (*.wasm); a plugin there replaces the built-in of
    /// the same kind and name.
    #[arg(long, global = true, env = "TICKSTOCK_PLUGINS")]
    pub plugins: Option<PathBuf>,

    /// Where compiled plugin artifacts are cached [default: the user cache dir].
    #[arg(long, global = true, env = "TICKSTOCK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Wall-clock budget of one plugin call, in milliseconds.
    #[arg(long, global = true, default_value_t = 100, env = "TICKSTOCK_PLUGIN_DEADLINE_MS")]
    pub plugin_deadline_ms: u64,

    /// Linear-memory cap of one plugin instance, in MiB.
    #[arg(long, global = true, default_value_t = 64, env = "TICKSTOCK_PLUGIN_MEMORY_MIB")]
    pub plugin_memory_mib: u64,

    /// A running `tickstock serve` to ask instead of this process (plugins list|reload,
    /// calendar status|sessions|holidays, loads, jobs); its token from TICKSTOCK_TOKEN.
    #[arg(long, global = true, env = "TICKSTOCK_SERVER")]
    pub server: Option<String>,

    /// Log level or filter (error, warn, info, debug, trace, off, or e.g. `info,sqlx=warn`)
    /// [default: RUST_LOG, else info for serve and worker, warn otherwise].
    #[arg(long, global = true)]
    pub log_level: Option<String>,

    /// Config file of options (see docs/operating.md) [default: ./tickstock.toml if it exists].
    /// Flags and environment variables override it.
    #[arg(long, global = true, env = "TICKSTOCK_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log line format: text, or json (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text, env = "TICKSTOCK_LOG_FORMAT")]
    pub log_format: logging::LogFormat,
}

#[derive(Debug, Parser)]
#[command(
    name = "tickstock",
    version,
    about = "Loads historical market bars, calendar-aware, with WebAssembly plugins"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, check and compare plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Trading sessions, market status, holidays and maintenance windows.
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Measure tickstock's own speed (the README's figures).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run the host: watch the --plugins folder and serve the admin API.
    Serve(serve::ServeArgs),
    /// Load bars: gaps from the store, jobs from the policy, work through the queue.
    #[command(after_help = EXIT_CODES_HELP)]
    Load(load::LoadArgs),
    /// Dry run of a load: jobs per tier, sessions, expected rows and provider calls.
    Plan(load::PlanArgs),
    /// Join a Redis queue and work its jobs until stopped.
    #[command(after_help = EXIT_CODES_HELP)]
    Worker(load::WorkerArgs),
    /// Queue status and dead letters.
    #[command(subcommand)]
    Jobs(load::JobsCommand),
    /// The loads the store's ledger records (or a server's, with --server): state, jobs,
    /// rows and dead letters, whichever process did the work.
    Loads(loads::LoadsArgs),
    /// Bring a development dataset (a refresh profile) up to date in its own database.
    Refresh(refresh::RefreshArgs),
    /// Print a shell completion script: `tickstock completions bash > /etc/bash_completion.d/tickstock`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

impl GlobalOptions {
    /// The plugin runtime options these flags describe.
    pub fn runtime_options(&self) -> RuntimeOptions {
        RuntimeOptions {
            limits: Limits {
                deadline: Duration::from_millis(self.plugin_deadline_ms),
                memory_bytes: self.plugin_memory_mib * 1024 * 1024,
                ..Limits::default()
            },
            cache_dir: self.cache_dir.clone().or_else(default_cache_dir),
        }
    }
}

/// `$XDG_CACHE_HOME/tickstock/artifacts`, else `~/.cache/tickstock/artifacts`.
fn default_cache_dir() -> Option<PathBuf> {
    let base =
        std::env::var_os("XDG_CACHE_HOME").filter(|value| !value.is_empty()).map(PathBuf::from).or_else(|| {
            std::env::var_os("HOME").filter(|value| !value.is_empty()).map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("tickstock").join("artifacts"))
}

/// The registry every command works with: the built-in plugins, then the `--plugins`
/// folder's files on top (see [`crate::watch::open_registry`]).
pub fn open_registry(options: &GlobalOptions) -> anyhow::Result<Arc<Registry>> {
    crate::watch::open_registry(options.plugins.as_deref(), options.runtime_options())
}

/// Installs the logger the command line asks for (see `logging`).
pub fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    let command_default = match cli.command {
        Command::Serve(_) | Command::Worker(_) => "info",
        _ => "warn",
    };
    logging::init(cli.global.log_level.as_deref(), cli.global.log_format, command_default)
}

/// How a command that did not fail ended; `main` turns it into the exit code. The codes
/// are a contract with scripts (docs/operating.md, "Exit codes"): 1 is any error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked was done: exit 0.
    Done,
    /// The run worked, but some jobs were dead-lettered: exit 3.
    SomeDead,
    /// Ctrl-C or SIGTERM stopped it after the jobs in flight finished: exit 130.
    Interrupted,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::SomeDead => 3,
            Outcome::Interrupted => crate::shutdown::INTERRUPTED,
        }
    }
}

/// The exit codes of `load` and `worker`, for their `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    all done (--submit-only: every job was queued)
  1    an error, on one line on stderr
  3    some jobs were dead-lettered; the run otherwise worked (`tickstock jobs dead` lists them)
  130  interrupted by Ctrl-C or SIGTERM: the jobs in flight were finished; a second signal exits at once";

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let done = |result: anyhow::Result<()>| result.map(|()| Outcome::Done);
    match cli.command {
        Command::Plugins(command) => done(plugins::run(&cli.global, command)),
        Command::Calendar(command) => done(calendar::run(&cli.global, command)),
        Command::Bench(command) => done(bench::run(&cli.global, command)),
        Command::Serve(args) => done(serve::run(&cli.global, args)),
        Command::Load(args) => load::load(&cli.global, args),
        Command::Plan(args) => done(load::plan(&cli.global, args)),
        Command::Worker(args) => load::worker(&cli.global, args),
        Command::Jobs(command) => load::jobs(&cli.global, command),
        Command::Loads(args) => done(loads::run(&cli.global, args)),
        Command::Refresh(args) => done(refresh::run(&cli.global, args)),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "tickstock", &mut std::io::stdout());
            Ok(Outcome::Done)
        }
    }
}
