//! The plugin folder over time and over restarts, and the logs an operator reads, against
//! the real `tickstock serve` binary: a refused file is checked, logged and counted once
//! per content; after a pin refusal the log says what this process serves, and a restart
//! serves what its own log says; JSON logs parse line by line; `RUST_LOG=off` is silent.

use std::path::{Path, PathBuf};

use crate::support::{Serve, guest, tickstock};

/// Writes `bytes` as `folder/name` the atomic way (a temp name, then a rename).
fn publish(folder: &Path, name: &str, bytes: &[u8]) {
    let temp = folder.join(format!(".{name}.part"));
    std::fs::write(&temp, bytes).unwrap();
    std::fs::rename(&temp, folder.join(name)).unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn plugin_folder() -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().canonicalize().unwrap();
    (folder, path)
}

#[test]
fn a_refused_file_is_logged_and_counted_once_per_content() {
    let (_folder, folder) = plugin_folder();
    let serve = Serve::start(&folder, &[], &[]);
    publish(&folder, "junk.wasm", b"not a component, version 1");
    serve.wait_until("the junk file is refused", |serve| serve.load_failures() == 1);
    // Reads of the file (a backup, a checksum), a writer that opens and closes it without
    // a change, and many quiet debounce periods later, it has still been checked once.
    for _ in 0..5 {
        let _ = std::fs::read(folder.join("junk.wasm")).unwrap();
        drop(std::fs::OpenOptions::new().append(true).open(folder.join("junk.wasm")).unwrap());
        Serve::idle_for(4);
    }
    assert_eq!(serve.load_failures(), 1, "a refused file was checked again without a change");
    assert_eq!(serve.lines_containing("plugin file refused").len(), 1, "{:#?}", serve.lines());

    // New content is checked (and refused) once more; a reload checks everything anew.
    publish(&folder, "junk.wasm", b"not a component, version 2");
    serve.wait_until("the new content is refused", |serve| serve.load_failures() == 2);
    let (status, body) = serve.post("/plugins/reload");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not WebAssembly"), "a reload checks a refused file anew: {body}");
    assert_eq!(serve.load_failures(), 3);
    let lines = serve.stop();
    assert_eq!(lines.iter().filter(|line| line.contains("plugin file refused")).count(), 2, "{lines:#?}");
}

#[test]
fn after_a_pin_refusal_a_restart_serves_what_its_log_says() {
    let (_folder, folder) = plugin_folder();
    let v1 = std::fs::read(guest("fixture_swap_v1.wasm")).unwrap();
    let v2 = std::fs::read(guest("fixture_swap_v2.wasm")).unwrap();
    std::fs::write(folder.join("pins.txt"), format!("{}  zzswap.wasm\n", sha256_hex(&v1))).unwrap();
    publish(&folder, "zzswap.wasm", &v1);

    let serve = Serve::start(&folder, &[], &[]);
    assert_eq!(serve.get("/calendars/ZZSW/status").0, 200, "v1 is pinned and serves");
    publish(&folder, "zzswap.wasm", &v2);
    serve.wait_until("v2 is refused by the pins", |serve| !serve.lines_containing("plugin file refused").is_empty());
    let refusal = serve.lines_containing("plugin file refused").remove(0);
    assert!(refusal.contains("calendar/ZZSW generation") && refusal.contains("keeps serving"), "{refusal}");
    assert!(refusal.contains(&sha256_hex(&v1)[..12]), "the log names the bytes that serve: {refusal}");
    assert_eq!(serve.get("/calendars/ZZSW/status").0, 200, "this process still has v1");
    serve.stop();

    // Restarted on the same folder, the process never had v1: its log says nothing
    // serves ZZSW, and indeed nothing does.
    let serve = Serve::start(&folder, &[], &[]);
    let refusal = serve.lines_containing("plugin file refused");
    assert_eq!(refusal.len(), 1, "{:#?}", serve.lines());
    assert!(refusal[0].contains("nothing serves calendar/ZZSW"), "{}", refusal[0]);
    assert!(!serve.lines().iter().any(|line| line.contains("keeps serving")), "{:#?}", serve.lines());
    assert_eq!(serve.get("/calendars/ZZSW/status").0, 404);
    serve.stop();

    // Pinning both hashes (roll-forward and rollback) lets v2 load.
    std::fs::write(
        folder.join("pins.txt"),
        format!("{}  zzswap.wasm\n{}  zzswap.wasm\n", sha256_hex(&v1), sha256_hex(&v2)),
    )
    .unwrap();
    let serve = Serve::start(&folder, &[], &[]);
    assert_eq!(serve.get("/calendars/ZZSW/status").0, 200);
    assert!(serve.lines_containing("plugin file refused").is_empty(), "{:#?}", serve.lines());
    assert!(
        serve.lines().iter().any(|line| line.contains("plugin=calendar/ZZSW") && line.contains(&sha256_hex(&v2))),
        "the start-up log names what serves each slot: {:#?}",
        serve.lines()
    );
    serve.stop();
}

#[test]
fn json_logs_parse_line_by_line() {
    let (_folder, folder) = plugin_folder();
    publish(&folder, "junk.wasm", b"junk");
    let serve = Serve::start(&folder, &["--log-format", "json"], &[("NO_COLOR", "")]);
    let lines = serve.stop();
    assert!(lines.len() > 3, "{lines:#?}");
    let mut levels = Vec::new();
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "an ANSI escape in a log line: {line:?}");
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.get(key).is_some(), "{key} missing: {line}");
        }
        levels.push(object["level"].as_str().unwrap().to_string());
    }
    assert!(levels.iter().any(|level| level == "WARN"), "the refusal is a WARN line: {lines:#?}");
    assert!(lines.iter().any(|line| line.contains("\"file\"")), "fields are JSON fields: {lines:#?}");
}

#[test]
fn rust_log_off_prints_nothing_and_text_logs_carry_no_colour_into_a_pipe() {
    let (_folder, folder) = plugin_folder();
    publish(&folder, "junk.wasm", b"junk");
    let serve = Serve::start(&folder, &[], &[("RUST_LOG", "off")]);
    publish(&folder, "more-junk.wasm", b"more junk");
    Serve::idle_for(10);
    let lines = serve.stop();
    assert!(lines.is_empty(), "RUST_LOG=off printed: {lines:#?}");

    let serve = Serve::start(&folder, &[], &[]);
    let lines = serve.stop();
    assert!(lines.iter().any(|line| line.contains("WARN")), "{lines:#?}");
    assert!(lines.iter().all(|line| !line.contains('\u{1b}')), "ANSI escapes on a pipe: {lines:#?}");

    let scratch = tempfile::tempdir().unwrap();
    let output = tickstock(scratch.path()).args(["plugins", "list", "--log-level", "bogus=level=x"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("log level"), "{output:?}");
}
