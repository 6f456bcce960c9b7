//! `tickstock plugins`: list the live plugins, check a component file.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::GlobalOptions;
use crate::plugin::{Registry, Runtime, limits, load};

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every live plugin: kind, name, version, sha256 prefix, source, generation.
    List {
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Ask the running server (`--server`) to rescan its plugin folder, checking every file
    /// anew; needs TICKSTOCK_TOKEN when the server has a token.
    Reload,
    /// Load a component through every check the host makes, without installing it, and
    /// print its identity and the limits its answers must keep; or a one-line reason and
    /// a non-zero exit.
    Check {
        /// The component file (*.wasm).
        file: PathBuf,
    },
    /// What changes in behaviour between two versions of a plugin: special days over a
    /// year range for calendars, the plan of a sample request for batch policies, the
    /// profiles for refresh-profile plugins.
    Diff {
        /// The version in use (*.wasm).
        old: PathBuf,
        /// The candidate (*.wasm).
        new: PathBuf,
        /// First year compared, for calendars [default: this year].
        #[arg(long)]
        from_year: Option<i32>,
        /// Last year compared, for calendars [default: next year].
        #[arg(long)]
        to_year: Option<i32>,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Write a ready-to-build plugin crate (Cargo.toml, src/lib.rs with a commented
    /// example, the WIT, a README) that builds with
    /// `cargo build --release --target wasm32-wasip2`.
    New(super::plugins_new::NewPluginArgs),
}

pub fn run(options: &GlobalOptions, command: PluginsCommand) -> anyhow::Result<()> {
    match command {
        PluginsCommand::List { output } => match super::remote::Remote::from_options(options)? {
            Some(remote) => list_remote(&remote, output.json("plugins list")?),
            None => list(options, output.json("plugins list")?),
        },
        PluginsCommand::Reload => match super::remote::Remote::from_options(options)? {
            Some(remote) => reload_remote(&remote),
            None => anyhow::bail!(
                "plugins reload asks a running server: give --server http://127.0.0.1:7070 (or TICKSTOCK_SERVER)"
            ),
        },
        PluginsCommand::Check { file } => check(options, &file),
        PluginsCommand::Diff { old, new, from_year, to_year, output } => {
            diff(options, &old, &new, from_year, to_year, output.json("plugins diff")?)
        }
        PluginsCommand::New(args) => super::plugins_new::run(&args),
    }
}

fn list(options: &GlobalOptions, json: bool) -> anyhow::Result<()> {
    let registry = super::open_registry(options)?;
    let entries = registry.list();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    // Printed from the JSON form, as `--server` receives it, so both print the same.
    let entries = match serde_json::to_value(&entries)? {
        serde_json::Value::Array(entries) => entries,
        _ => Vec::new(),
    };
    let failures = match serde_json::to_value(registry.failures())? {
        serde_json::Value::Array(failures) => failures,
        _ => Vec::new(),
    };
    print_list(&entries, &failures);
    Ok(())
}

/// `plugins list` against a server, printed as the local command prints it.
fn list_remote(remote: &super::remote::Remote, json: bool) -> anyhow::Result<()> {
    let (entries, failures) = remote.plugins()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    print_list(&entries, &failures);
    Ok(())
}

/// The table of live plugins (`PluginEntry` as JSON), one line per generation's last
/// failed call, and one per failed load.
fn print_list(entries: &[serde_json::Value], failures: &[serde_json::Value]) {
    let text = |entry: &serde_json::Value, pointer: &str| -> String {
        match entry.pointer(pointer) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|entry| {
            [
                text(entry, "/kind"),
                text(entry, "/name"),
                text(entry, "/version"),
                text(entry, "/sha256").chars().take(12).collect(),
                text(entry, "/source"),
                text(entry, "/generation"),
                text(entry, "/calls/calls"),
                text(entry, "/calls/errors"),
            ]
        })
        .collect();
    print_table(&["KIND", "NAME", "VERSION", "SHA256", "SOURCE", "GENERATION", "CALLS", "ERRORS"], &rows);
    for entry in entries.iter().filter(|entry| entry.pointer("/calls/last_error").is_some_and(|error| !error.is_null()))
    {
        println!(
            "last failed call: {}/{} generation {}: {} at {}: {}",
            text(entry, "/kind"),
            text(entry, "/name"),
            text(entry, "/generation"),
            text(entry, "/calls/last_error/function"),
            text(entry, "/calls/last_error/at"),
            text(entry, "/calls/last_error/message"),
        );
    }
    for failure in failures {
        // Load errors start with their origin already; saying it twice makes the line
        // longer, not clearer.
        let (origin, message) = (text(failure, "/origin"), text(failure, "/message"));
        if message.starts_with(&origin) {
            println!("not loaded: {message}");
        } else {
            println!("not loaded: {origin}: {message}");
        }
    }
}

/// `plugins reload`: the server rescans its folder; one line per file.
fn reload_remote(remote: &super::remote::Remote) -> anyhow::Result<()> {
    for outcome in remote.reload()? {
        let field = |key: &str| outcome.get(key).and_then(|value| value.as_str()).unwrap_or_default().to_string();
        println!("{}: {} {}", field("outcome"), field("file"), field("message"));
    }
    Ok(())
}

/// Runs the same pipeline a live load runs (header, compile, world type-check, describe,
/// the kind's gate) in a registry of its own, so nothing else is affected.
fn check(options: &GlobalOptions, file: &std::path::Path) -> anyhow::Result<()> {
    let runtime = Runtime::new(options.runtime_options())?;
    let registry = Registry::new(runtime);
    let bytes = load::read_plugin_file(file)?;
    let generation = registry
        .install_bytes(&bytes, crate::plugin::PluginSource::File(file.to_path_buf()))
        .with_context(|| "plugin check failed".to_string())
        .map_err(|error| anyhow::anyhow!("{}", error.root_cause()))?;
    let identity = &generation.identity;
    println!(
        "ok: {} {} {} ({}), world {}, sha256 {}",
        identity.kind,
        identity.name,
        identity.version,
        identity.description,
        identity.kind.world(),
        &generation.sha256[..12]
    );
    // The bounds the answers were checked against, so an author sees how close a plugin
    // may grow before a bigger answer would be refused.
    println!("{}", limits::summary(identity.kind));
    Ok(())
}

/// Prepares both files (header, compile, world, describe; no registry, nothing goes
/// live) and compares what they answer.
fn diff(
    options: &GlobalOptions,
    old_file: &std::path::Path,
    new_file: &std::path::Path,
    from_year: Option<i32>,
    to_year: Option<i32>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::diff;
    use crate::plugin::{PluginKind, PluginSource};
    use chrono::{Datelike, NaiveDate};

    let this_year = chrono::Utc::now().year();
    let (from_year, to_year) = (from_year.unwrap_or(this_year), to_year.unwrap_or(this_year + 1));
    anyhow::ensure!(from_year <= to_year, "--from-year {from_year} is after --to-year {to_year}");
    let runtime = Runtime::new(options.runtime_options())?;
    let prepare = |file: &std::path::Path| -> anyhow::Result<crate::plugin::Generation> {
        let bytes = load::read_plugin_file(file)?;
        load::prepare(&runtime, &bytes, PluginSource::File(file.to_path_buf()))
            .map_err(|error| anyhow::anyhow!("{}", error))
    };
    let (old, new) = (prepare(old_file)?, prepare(new_file)?);
    anyhow::ensure!(
        old.kind() == new.kind(),
        "{} is a {} plugin but {} is a {} plugin; only plugins of one kind compare",
        old_file.display(),
        old.kind(),
        new_file.display(),
        new.kind()
    );
    let heading =
        format!("{} {} {} -> {} {}", old.kind(), old.name(), old.identity.version, new.name(), new.identity.version);
    match old.kind() {
        PluginKind::Calendar => {
            let old_calendar = crate::plugin::calendar::build_calendar(old.callable())?;
            let new_calendar = crate::plugin::calendar::build_calendar(new.callable())?;
            let from = NaiveDate::from_ymd_opt(from_year, 1, 1).context("--from-year is not a year")?;
            let to = NaiveDate::from_ymd_opt(to_year, 12, 31).context("--to-year is not a year")?;
            let changes = diff::special_day_changes(&old_calendar, &new_calendar, from, to)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&changes)?);
            } else {
                println!("{heading}: {} special day(s) differ in {from_year}..={to_year}", changes.len());
                for change in &changes {
                    println!("  {change}");
                }
            }
        }
        PluginKind::BatchPolicy => {
            let request = crate::plugin::registry::sample_plan_request();
            let old_plan = crate::plugin::policy::plan(old.callable(), &request)?;
            let new_plan = crate::plugin::policy::plan(new.callable(), &request)?;
            let difference = diff::plan_difference(&request, &old_plan, &new_plan);
            if json {
                println!("{}", serde_json::to_string_pretty(&difference)?);
            } else {
                println!(
                    "{heading}: sample request ({} gaps) planned as {} job(s) -> {} job(s){}",
                    request.gaps.len(),
                    difference.old_jobs.len(),
                    difference.new_jobs.len(),
                    if difference.is_empty() { ", the same jobs" } else { "" }
                );
                for job in &difference.only_old {
                    println!("  - [{}] {}", job.tier, job.gaps.join(", "));
                }
                for job in &difference.only_new {
                    println!("  + [{}] {}", job.tier, job.gaps.join(", "));
                }
            }
        }
        PluginKind::RefreshProfile => {
            let old_profiles = crate::plugin::profile::profiles(old.callable())?;
            let new_profiles = crate::plugin::profile::profiles(new.callable())?;
            let difference = diff::profile_difference(&old_profiles, &new_profiles);
            if json {
                println!("{}", serde_json::to_string_pretty(&difference)?);
            } else {
                println!("{heading}: {}", if difference.is_empty() { "the same profiles" } else { "profiles differ" });
                for profile in &difference.removed {
                    println!("  - {}", profile.name);
                }
                for profile in &difference.added {
                    println!("  + {}", profile.name);
                }
                for (before, after) in &difference.changed {
                    println!("  ~ {}: {}", before.name, serde_json::to_string(after)?);
                }
            }
        }
    }
    Ok(())
}

/// Left-aligned columns, two spaces apart; cells cut by `table::cell`.
pub fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let rows: Vec<Vec<std::borrow::Cow<'_, str>>> =
        rows.iter().map(|row| row.iter().map(|cell| super::table::cell(cell)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(|cell| cell.as_ref()).collect());
    }
}
