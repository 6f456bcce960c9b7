//! `--server`: the CLI asks a running `tickstock serve` (the real binary, on a free port)
//! and prints the same bytes the local command prints given the same plugins.

use std::path::Path;

use crate::support::{Serve, guest, tickstock};

/// A 24-character token: long enough for any token rule the server has.
const TOKEN: &str = "remote-test-token-0123456";

fn run(cache: &Path, args: &[&str], environment: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = tickstock(cache);
    command.args(args);
    for (name, value) in environment {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn calendar_and_plugin_commands_print_the_servers_answers_as_the_local_ones() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(guest("fixture_swap_v1.wasm"), folder.path().join("zzswap.wasm")).unwrap();
    let serve = Serve::start(folder.path(), &["--token", TOKEN], &[]);
    let cache = tempfile::tempdir().unwrap();
    let plugins = folder.path().to_str().unwrap();
    let server = serve.base.as_str();

    let questions: &[&[&str]] = &[
        &["calendar", "status", "ZZSW", "XTKS", "--at", "2025-01-02T12:00:00Z", "--format", "csv"],
        &["calendar", "status", "XNYS", "--at", "2024-11-29T17:30:00Z", "--format", "json"],
        &["calendar", "sessions", "XTKS", "--from", "2024-03-11", "--to", "2024-03-15"],
        &["calendar", "holidays", "XNYS", "--year", "2026", "--format", "json"],
        &["calendar", "holidays", "ZZSW", "--year", "2025", "--format", "csv"],
    ];
    for question in questions {
        let local: Vec<&str> = [&["--plugins", plugins][..], question].concat();
        let remote: Vec<&str> = [&["--server", server][..], question].concat();
        let (local_ok, local_out, local_err) = run(cache.path(), &local, &[]);
        let (remote_ok, remote_out, remote_err) = run(cache.path(), &remote, &[]);
        assert!(local_ok, "{question:?} locally: {local_err}");
        assert!(remote_ok, "{question:?} through the server: {remote_err}");
        assert!(!local_out.is_empty());
        assert_eq!(remote_out, local_out, "{question:?}");
    }
    // The holidays carry everything the plugin said about a day.
    let (_, holidays, _) = run(
        cache.path(),
        &["--server", server, "calendar", "holidays", "XNYS", "--year", "2022", "--format", "csv"],
        &[],
    );
    assert!(holidays.starts_with("date,name,kind,certainty,rule,source,observed_from\n"), "{holidays}");
    assert!(
        holidays.lines().any(|line| line.starts_with("2022-06-20,") && line.ends_with(",2022-06-19")),
        "{holidays}"
    );

    // Without --server, this process does not have the server's ZZSW.
    let (ok, _, stderr) = run(cache.path(), &["calendar", "status", "ZZSW"], &[]);
    assert!(!ok && stderr.contains("unknown exchange"), "{stderr}");
    let (ok, stdout, stderr) = run(cache.path(), &["--server", server, "plugins", "list"], &[]);
    assert!(ok && stdout.contains("ZZSW") && stdout.contains("zzswap.wasm"), "{stdout}{stderr}");

    // A mutating request needs the token, from the environment.
    let (ok, _, stderr) = run(cache.path(), &["--server", server, "plugins", "reload"], &[]);
    assert!(!ok && stderr.contains("401"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (ok, stdout, stderr) =
        run(cache.path(), &["--server", server, "plugins", "reload"], &[("TICKSTOCK_TOKEN", TOKEN)]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("zzswap.wasm"), "{stdout}");
    serve.stop();
}

#[test]
fn a_server_url_is_checked_and_an_unreachable_server_is_one_line() {
    let cache = tempfile::tempdir().unwrap();
    for (url, expected) in [
        ("ftp://127.0.0.1:1", "not an http(s)://host:port URL"),
        ("http://user:secret@127.0.0.1:1", "must not carry credentials"),
        ("not a url", "not an http(s)://host:port URL"),
    ] {
        let (ok, _, stderr) = run(cache.path(), &["--server", url, "plugins", "list"], &[]);
        assert!(!ok && stderr.contains(expected), "{url}: {stderr}");
        assert!(!stderr.contains("secret"), "the password is printed: {stderr}");
    }
    // A port nobody listens on: refused at once, one line.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ok, _, stderr) =
        run(cache.path(), &["--server", &format!("http://127.0.0.1:{port}"), "calendar", "status"], &[]);
    assert!(!ok && stderr.contains("asking the server"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Issue 14: `/plugins` showed `last_error: null` after failed calls. Each generation now
/// counts its calls and failures and keeps the last failure (when, which function, why),
/// and `plugins list` prints it, locally and through `--server`.
#[test]
fn plugins_keep_the_last_failed_call_of_each_generation() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(guest("fixture_hostile_calendar.wasm"), folder.path().join("hostile.wasm")).unwrap();
    let serve = Serve::start(folder.path(), &[], &[]);
    let cache = tempfile::tempdir().unwrap();
    let hostile = |serve: &Serve| -> serde_json::Value {
        let (status, body) = serve.get("/plugins");
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        answer["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == "ZZHX")
            .expect("ZZHX is live")
            .clone()
    };

    let before = hostile(&serve);
    assert_eq!(before["calls"]["errors"], 0, "{before}");
    assert!(before["calls"]["calls"].as_u64().unwrap() > 0, "the gate's calls are counted: {before}");
    assert!(before["calls"]["last_error"].is_null(), "{before}");

    // 1903 is the year the fixture panics in.
    let (status, body) = serve.get("/calendars/ZZHX/status?at=1903-06-03T12:00:00Z");
    assert!(status >= 400, "the trap was answered as {status}: {body}");

    let after = hostile(&serve);
    assert_eq!(after["calls"]["errors"], 1, "{after}");
    assert!(after["calls"]["calls"].as_u64() > before["calls"]["calls"].as_u64(), "{after}");
    let last = &after["calls"]["last_error"];
    assert_eq!(last["limit"], "trap", "{after}");
    assert!(!last["function"].as_str().unwrap().is_empty(), "{after}");
    assert!(last["message"].as_str().unwrap().starts_with("trapped"), "{after}");
    assert!(last["at"].as_str().is_some(), "{after}");

    let (ok, stdout, stderr) = run(cache.path(), &["--server", serve.base.as_str(), "plugins", "list"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.lines().next().unwrap().contains("CALLS") && stdout.contains("ERRORS"), "{stdout}");
    let line = stdout.lines().find(|line| line.starts_with("last failed call: calendar/ZZHX generation 1: "));
    assert!(line.is_some_and(|line| line.contains("trapped")), "{stdout}");

    // A process of its own has made only the gate's calls, none failed: no such line.
    let plugins = folder.path().to_str().unwrap();
    let (ok, stdout, stderr) = run(cache.path(), &["--plugins", plugins, "plugins", "list"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.lines().next().unwrap().contains("CALLS"), "{stdout}");
    assert!(stdout.contains("ZZHX") && !stdout.contains("last failed call"), "{stdout}");
    serve.stop();
}
