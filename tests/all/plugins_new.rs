//! `tickstock plugins new` as a plugin author runs it: each template, generated into a
//! temp dir by the real binary, builds with cargo for wasm32-wasip2 and passes
//! `tickstock plugins check` unchanged. This is what builds the templates in
//! plugins/templates/, which are not crates until generated.

use std::path::Path;
use std::process::Command;

use crate::support::tickstock;

/// `cargo build --release --target wasm32-wasip2` in `crate_dir`, as the generated README
/// says, with `target_dir` shared by the crates of one test so wit-bindgen compiles once.
pub fn build_guest_crate(crate_dir: &Path, target_dir: &Path) {
    let mut command = Command::new("cargo");
    command
        .current_dir(crate_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", target_dir);
    // Flags meant for the host build must not leak into the guest build (host/build.rs
    // does the same).
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build of {} failed:\n{}",
        crate_dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_template_builds_as_generated_and_passes_plugins_check() {
    let scratch = tempfile::tempdir().unwrap();
    let target_dir = scratch.path().join("target");
    let cases = [
        (
            &["calendar", "xwar", "--timezone", "Europe/Warsaw"][..],
            "calendar-xwar",
            "calendar_xwar.wasm",
            "ok: calendar XWAR 0.1.0",
        ),
        (
            &["policy", "wide_tiers"][..],
            "policy-wide-tiers",
            "policy_wide_tiers.wasm",
            "ok: batch-policy wide_tiers 0.1.0",
        ),
        (
            &["profile", "research"][..],
            "profile-research",
            "profile_research.wasm",
            "ok: refresh-profile research 0.1.0",
        ),
    ];
    for (arguments, crate_name, artifact, expected) in cases {
        let output = tickstock(&scratch.path().join("cache"))
            .current_dir(scratch.path())
            .args(["plugins", "new"])
            .args(arguments)
            .output()
            .unwrap();
        assert!(output.status.success(), "{arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
        let crate_dir = scratch.path().join(crate_name);
        let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]") && manifest.contains("\"=0.61.1\""), "{manifest}");

        build_guest_crate(&crate_dir, &target_dir);
        let component = target_dir.join("wasm32-wasip2/release").join(artifact);
        let output =
            tickstock(&scratch.path().join("cache")).args(["plugins", "check"]).arg(&component).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{artifact}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.starts_with(expected), "{artifact}: {stdout}");
    }
}

#[test]
fn the_generated_calendar_is_self_contained_with_this_repositorys_wit() {
    let scratch = tempfile::tempdir().unwrap();
    let output = tickstock(scratch.path())
        .current_dir(scratch.path())
        .args(["plugins", "new", "calendar", "XWAR"])
        .output()
        .unwrap();
    assert!(output.status.success());
    // The template is self-contained: no path dependency that would break outside this
    // repository, and its WIT is this repository's, byte for byte.
    let manifest = std::fs::read_to_string(scratch.path().join("calendar-xwar/Cargo.toml")).unwrap();
    assert!(!manifest.contains("path ="), "{manifest}");
    let repo_wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for file in ["types.wit", "calendar.wit", "policy.wit", "profile.wit"] {
        assert_eq!(
            std::fs::read_to_string(scratch.path().join("calendar-xwar/wit").join(file)).unwrap(),
            std::fs::read_to_string(repo_wit.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn new_refuses_a_folder_that_is_not_empty_and_a_bad_name() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("keep.txt"), "mine").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["policy", "mine", "--dir", "."], "is not empty"),
        (&["policy", "9lives"], "must start with a letter"),
        (&["calendar", "XWAR", "--timezone", "Mars/Olympus"], "not an IANA timezone"),
    ];
    for (arguments, expected) in cases {
        let output = tickstock(scratch.path())
            .current_dir(scratch.path())
            .args(["plugins", "new"])
            .args(arguments)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{arguments:?} was accepted");
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(scratch.path().join("keep.txt")).unwrap(), "mine");
}
