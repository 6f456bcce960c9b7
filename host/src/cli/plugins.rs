//! `tickstock plugins`: list the live plugins, check a component file.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::GlobalOptions;
use crate::plugin::{Registry, Runtime, load};

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every live plugin: kind, name, version, sha256 prefix, source, generation.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load a component through every check the host makes, without installing it, and
    /// print its identity; or a one-line reason and a non-zero exit.
    Check {
        /// The component file (*.wasm).
        file: PathBuf,
    },
}

pub fn run(options: &GlobalOptions, command: PluginsCommand) -> anyhow::Result<()> {
    match command {
        PluginsCommand::List { json } => list(options, json),
        PluginsCommand::Check { file } => check(options, &file),
    }
}

fn list(options: &GlobalOptions, json: bool) -> anyhow::Result<()> {
    let registry = super::open_registry(options)?;
    let entries = registry.list();
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|entry| {
            [
                entry.kind.to_string(),
                entry.name.clone(),
                entry.version.clone(),
                entry.sha256[..12].to_string(),
                entry.source.clone(),
                entry.generation.to_string(),
            ]
        })
        .collect();
    print_table(&["KIND", "NAME", "VERSION", "SHA256", "SOURCE", "GENERATION"], &rows);
    for failure in registry.failures() {
        println!("not loaded: {}: {}", failure.origin, failure.message);
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
    Ok(())
}

/// Left-aligned columns, two spaces apart.
pub fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
