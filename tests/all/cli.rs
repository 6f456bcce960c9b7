//! The command line as a whole, against the real binary: shell completions that name
//! every subcommand and parse in their shell.

use crate::support::tickstock;

#[test]
fn completions_name_every_subcommand_and_bash_parses_them() {
    let scratch = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let output = tickstock(scratch.path()).args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["calendar", "plugins", "load", "plan", "worker", "jobs", "refresh", "serve", "bench", "log-format"]
        {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
        if shell == "bash" {
            let file = scratch.path().join("tickstock.bash");
            std::fs::write(&file, &script).unwrap();
            let syntax = std::process::Command::new("bash").arg("-n").arg(&file).output().unwrap();
            assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
        }
    }
    let output = tickstock(scratch.path()).args(["completions", "tcsh"]).output().unwrap();
    assert!(!output.status.success(), "an unknown shell is an error");
}

#[test]
fn every_command_takes_format_table_or_json_and_json_stays_an_alias() {
    let scratch = tempfile::tempdir().unwrap();
    let db = scratch.path().join("format.db");
    let db = db.to_str().unwrap();
    let plan = ["plan", "--db", db, "--symbols", "2", "--from", "2024-01-02", "--to", "2024-01-31"];
    let run = |args: &[&str]| tickstock(scratch.path()).args(args).output().unwrap();

    for (args, json) in [
        (&[&plan[..], &["--format", "json"]].concat(), true),
        (&[&plan[..], &["--json"]].concat(), true),
        (&[&plan[..], &["--format", "table"]].concat(), false),
        (&["plugins", "list", "--format", "json"][..].to_vec(), true),
        (&["calendar", "explain", "XNYS", "2024-07-04", "--format", "json"][..].to_vec(), true),
        (&["calendar", "status", "XNYS", "--at", "2024-07-04T15:00:00Z", "--format", "json"][..].to_vec(), true),
    ] {
        let output = run(args);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        let parsed = serde_json::from_slice::<serde_json::Value>(&output.stdout);
        assert_eq!(parsed.is_ok(), json, "{args:?}: {}", String::from_utf8_lossy(&output.stdout));
    }
    // csv is for row lists; a report refuses it in one line.
    let output = run(&[&plan[..], &["--format", "csv"]].concat());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--format csv") && stderr.lines().count() == 1, "{stderr}");
    // load's --report is --format too.
    let output = run(&[
        "load",
        "--db",
        db,
        "--symbols",
        "2",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-05",
        "--format",
        "json",
        "--progress",
        "none",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(serde_json::from_slice::<serde_json::Value>(&output.stdout).is_ok());
}
