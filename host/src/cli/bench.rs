//! `tickstock bench`: the figures the README quotes, measured by the binary itself so they
//! can be reproduced without a Rust toolchain. The harnesses live in the library's `bench`
//! module; this is only their command line.

use clap::Subcommand;

use super::GlobalOptions;
use crate::bench;
use crate::exchanges::Exchanges;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Calendar engine: warm ns/query for is_open, status, next_open, next_close on random
    /// instants, and the cold build of one exchange-year through the plugin.
    Calendar {
        /// Exchanges to measure [default: XNYS and XTKS, one without and one with a lunch
        /// break].
        #[arg(long, value_delimiter = ',')]
        exchanges: Vec<String>,
        /// Queries per timed round; each figure is the median of several rounds.
        #[arg(long, default_value_t = 1_000_000)]
        queries: usize,
        /// Seed of the instant generator (the peer script takes the same one).
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// `tickstock serve`: time from a plugin file landing to its generation serving (p50,
    /// p95 over several swaps), and `/calendars/{mic}/status` throughput over loopback.
    Serve {
        #[command(flatten)]
        args: bench::serve::ServeBenchArgs,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Job queue: single submit latency p50/p99 and bulk submit jobs/s, in-process and
    /// (with `--queue [redis://...]`) Redis, beside `redis-benchmark` XADD on the same server.
    Queue {
        #[command(flatten)]
        args: bench::queue::QueueBenchArgs,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Plugins: cold compile, load from the artifact cache, and the cost of an empty call
    /// on a kept instance and on a fresh one (store, instantiate, call, drop) for every
    /// built-in.
    Plugins {
        /// Empty calls timed per plugin.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// The whole load path, N symbols x Y years of daily bars into a fresh store.
    Load {
        #[command(flatten)]
        args: bench::load::LoadBenchArgs,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Planning alone (what `POST /loads` does before it answers): N generated symbols x
    /// Y years of daily bars against an empty store, from the request to the checked jobs.
    Plan {
        /// Symbols in the request.
        #[arg(long, default_value_t = 100_000)]
        symbols: u64,
        #[arg(long, default_value_t = 1)]
        years: u32,
        /// Most symbols one request may hold, as `serve --max-symbols-per-request`.
        #[arg(long, default_value_t = crate::api::load::RequestLimits::default().max_symbols)]
        max_symbols_per_request: usize,
    },
}

pub fn run(options: &GlobalOptions, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Calendar { exchanges: mics, queries, seed, output } => {
            let json = output.json("bench calendar")?;
            let exchanges = Exchanges::from_registry(super::open_registry(options)?);
            let reports = bench::calendar::measure(&exchanges, &mics, queries, seed)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                bench::calendar::print_calendar_reports(&reports);
            }
            Ok(())
        }
        BenchCommand::Serve { mut args, output } => {
            args.json = output.json("bench serve")?;
            bench::serve::run(options.runtime_options(), args)
        }
        BenchCommand::Queue { mut args, output } => {
            args.json = output.json("bench queue")?;
            bench::queue::run(args)
        }
        BenchCommand::Plugins { calls, output } => {
            bench::plugins::run(options.runtime_options(), calls, output.json("bench plugins")?)
        }
        BenchCommand::Load { mut args, output } => {
            args.json = output.json("bench load")?;
            bench::load::run(super::open_registry(options)?, args)
        }
        BenchCommand::Plan { symbols, years, max_symbols_per_request } => {
            bench::plan::run(super::open_registry(options)?, symbols, years, max_symbols_per_request)
        }
    }
}
