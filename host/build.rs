//! Builds every guest plugin (calendars/, plugins/, tests/fixtures/) for wasm32-wasip2 and
//! generates the table of built-in plugins that the host embeds.
//!
//! The guests are their own workspace (plugins/Cargo.toml), built by a nested cargo with
//! its own target dir under OUT_DIR: sharing the outer target dir would deadlock on its
//! lock. Test fixtures are built too, but only their folder is exported (as
//! TICKSTOCK_GUEST_DIR, for the tests); they are never embedded.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Artifact name prefixes (cargo turns `calendar-xnys` into `calendar_xnys.wasm`) of the
/// guests that ship inside the binary. Everything else, `fixture-*` above all, does not.
const BUILTIN_PREFIXES: &[&str] = &["calendar_", "policy_", "profile_"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest_dir.parent().expect("host/ has a parent").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let guest_target_dir = out_dir.join("guests");

    for watched in ["wit", "calendars", "plugins/Cargo.toml", "plugins/Cargo.lock", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", repo.join(watched).display());
    }
    // Plugin crates are watched one by one so that a hand build's plugins/target does not
    // make every host build re-run this script.
    for entry in std::fs::read_dir(repo.join("plugins")).expect("plugins/ exists").flatten() {
        let path = entry.path();
        if path.join("Cargo.toml").exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }

    build_guests(&repo, &guest_target_dir);

    let release_dir = guest_target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=TICKSTOCK_GUEST_DIR={}", release_dir.display());
    write_builtin_table(&release_dir, &out_dir.join("builtins.rs"));
}

fn build_guests(repo: &Path, guest_target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(repo.join("plugins"))
        .args(["build", "--release", "--workspace", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(repo.join("plugins").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(guest_target_dir);
    // Flags meant for the host build (coverage, sanitizers, target-cpu) must not leak into
    // the wasm build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(variable);
    }
    // Guests embed source paths in panic messages; map the checkout away so the built
    // plugins are the same bytes (and sha256) wherever the repository was cloned.
    command.env("CARGO_ENCODED_RUSTFLAGS", format!("--remap-path-prefix={}=.", repo.display()));
    let status = command.status().expect("could not run cargo to build the guest plugins");
    if !status.success() {
        panic!(
            "building the guest plugins for wasm32-wasip2 failed (see the cargo output above). \
             Is the target installed? `rustup target add wasm32-wasip2` (rust-toolchain.toml \
             names it, so rustup normally installs it)."
        );
    }
}

fn write_builtin_table(release_dir: &Path, table_path: &Path) {
    let mut artifacts: Vec<PathBuf> = std::fs::read_dir(release_dir)
        .expect("the guest build produced its release folder")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".wasm") && BUILTIN_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        })
        .collect();
    artifacts.sort();

    let mut table = String::from("&[\n");
    for path in &artifacts {
        let file_name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        writeln!(
            table,
            "    BuiltinPlugin {{ file_name: {file_name:?}, bytes: include_bytes!({:?}) }},",
            path.display().to_string()
        )
        .expect("write to string");
    }
    table.push(']');
    std::fs::write(table_path, table).expect("write builtins.rs");
}
