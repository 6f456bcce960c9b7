//! `tickstock plugins list|check` as a user runs them: the real binary, real files.

use std::path::Path;

use crate::support::{guest, tickstock};

/// Runs `tickstock plugins check <file>`; returns (success, stdout, stderr).
fn check(file: &Path) -> (bool, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let output = tickstock(cache.path()).args(["plugins", "check"]).arg(file).output().expect("run tickstock");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn check_accepts_every_builtin_and_prints_its_identity() {
    for (file, expected) in [
        ("calendar_xnys.wasm", "ok: calendar XNYS"),
        ("policy_fixed.wasm", "ok: batch-policy fixed"),
        ("profile_dev.wasm", "ok: refresh-profile dev"),
    ] {
        let (ok, stdout, stderr) = check(&guest(file));
        assert!(ok, "{file}: {stderr}");
        assert!(stdout.starts_with(expected), "{file}: {stdout}");
    }
}

#[test]
fn check_refuses_bad_inputs_with_one_line_reasons() {
    let scratch = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let component = std::fs::read(guest("calendar_xnys.wasm")).unwrap();
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    // The smallest valid core module: magic and version 1, no sections.
    let core_module = b"\0asm\x01\0\0\0".to_vec();

    let cases: Vec<(&str, std::path::PathBuf, &str)> = vec![
        ("a folder", scratch.path().to_path_buf(), "not a file"),
        ("a missing file", scratch.path().join("missing.wasm"), "No such file"),
        ("an empty file", write("empty.wasm", b""), "empty file"),
        ("random bytes", write("random.wasm", &random), "not WebAssembly"),
        ("a truncated component", write("truncated.wasm", &component[..component.len() / 2]), "truncated component"),
        ("a core module", write("core.wasm", &core_module), "core WebAssembly module, not a component"),
        ("a component of another world", guest("fixture-foreign-world.wasm"), "implements none of tickstock's worlds"),
        ("a describe that traps", guest("fixture_describe_traps.wasm"), "trapped"),
    ];
    for (what, path, expected) in cases {
        let (ok, stdout, stderr) = check(&path);
        assert!(!ok, "{what} was accepted: {stdout}");
        let lines: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{what}: one error line expected, got {stderr:?}");
        assert!(lines[0].contains(expected), "{what}: {:?} does not say {expected:?}", lines[0]);
    }
}

#[test]
fn list_shows_builtins_and_a_folder_plugin_on_top() {
    let cache = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(guest("fixture_swap_v1.wasm"), folder.path().join("zzswap.wasm")).unwrap();
    let output =
        tickstock(cache.path()).arg("--plugins").arg(folder.path()).args(["plugins", "list"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().next().unwrap().starts_with("KIND"), "{stdout}");
    let row = |name: &str| stdout.lines().find(|line| line.split_whitespace().nth(1) == Some(name)).map(str::to_string);
    let xnys = row("XNYS").expect("XNYS listed");
    assert!(xnys.contains("built-in (calendar_xnys.wasm)"), "{xnys}");
    let swap = row("ZZSW").expect("folder plugin listed");
    assert!(swap.contains("zzswap.wasm") && swap.contains("1.0.0"), "{swap}");
}
