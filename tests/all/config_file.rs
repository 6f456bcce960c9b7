//! `tickstock.toml` (`cli::config`): the file's options apply, the environment beats the
//! file, flags beat the environment, and a bad file is refused naming the file, section,
//! key and line, never quoting a value (it may be a password).

use std::path::Path;
use std::process::Output;

use crate::support;

/// Runs `tickstock ARGS` in `dir` (so `./tickstock.toml` is the one there) with `env`.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = support::tickstock(&dir.join("cache"));
    // The developer's log settings must not decide what the tests see.
    command.current_dir(dir).args(args).env_remove("RUST_LOG").env_remove("TICKSTOCK_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run tickstock")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn file_values_apply_env_beats_the_file_and_flags_beat_env() {
    let Some(redis) = support::redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = |name: &str| dir.path().join(name).display().to_string();
    let prefix = format!("config-file-{}:", std::process::id());
    // The implicit ./tickstock.toml: the worker's queue, store and exit come from it, and
    // the top-level (global) `log-format` makes every log line JSON.
    std::fs::write(
        dir.path().join("tickstock.toml"),
        format!(
            "log-format = \"json\"\n\n[worker]\nqueue = \"{redis}\"\nqueue-prefix = \"{prefix}\"\n\
             db = \"{}\"\nexit-when-idle = true\n",
            db("file.db")
        ),
    )
    .unwrap();

    // (what the case shows, extra flags, environment, the store the worker must open)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 3] = [
        ("the file applies", &[], &[], "file.db"),
        ("env beats the file", &[], &[("TICKSTOCK_DB", &db("env.db"))], "env.db"),
        ("a flag beats env", &["--db", &db("flag.db")], &[("TICKSTOCK_DB", &db("env.db"))], "flag.db"),
    ];
    for (what, flags, env, expected) in cases {
        let mut args = vec!["worker"];
        args.extend_from_slice(flags);
        let output = run_in(dir.path(), &args, env);
        let log = stderr(&output);
        assert!(output.status.success(), "{what}: {log}");
        assert!(log.contains(&format!("-> {}", db(expected))), "{what}: the worker opened another store: {log}");
        assert!(dir.path().join(expected).exists(), "{what}: {expected} was not created");
        let json_lines = log.lines().filter(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()).count();
        assert!(json_lines > 0, "{what}: the file's log-format = \"json\" did not apply: {log}");
    }
}

#[test]
fn a_bad_config_file_is_refused_naming_the_file_section_key_and_line_never_a_value() {
    let dir = tempfile::tempdir().unwrap();
    // (file text, what the one-line error must say)
    let cases: &[(&str, &[&str])] = &[
        ("[serve]\nmax-pending = 10\nbogus-key = 1\n", &["[serve]", "bogus-key", "line 3", "unknown key"]),
        ("plugins = \"p\"\nnot-a-global = true\n", &["not-a-global", "line 2", "unknown key"]),
        ("[nonsense]\nx = 1\n", &["nonsense", "line 1", "unknown section"]),
        ("\n\n[worker]\nqueue = \"redis://:hunter2@host\n", &["line 4", "not valid TOML"]),
        (
            "[serve]\nmax-pending = \"redis://:hunter2@host\"\n",
            &["[serve]", "max-pending", "line 2", "not a valid value"],
        ),
        ("[worker]\nexit-when-idle = \"hunter2\"\n", &["exit-when-idle", "expected true or false"]),
        ("[worker]\ndb = [\"hunter2\", \"b\"]\n", &["[worker]", "db", "expected one value"]),
        ("log-format = \"hunter2\"\n", &["log-format", "line 1", "one of text, json"]),
    ];
    for (index, (text, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{index}.toml"));
        std::fs::write(&file, text).unwrap();
        let output = run_in(dir.path(), &["--config", file.to_str().unwrap(), "serve"], &[]);
        let message = stderr(&output);
        assert!(!output.status.success(), "case {index} was accepted: {text}");
        assert!(message.contains(&format!("case{index}.toml")), "case {index} does not name the file: {message}");
        for part in *expected {
            assert!(message.contains(part), "case {index}: {message:?} lacks {part:?}");
        }
        assert!(!message.contains("hunter2"), "case {index} printed a value: {message}");
        assert_eq!(message.trim_end().lines().count(), 1, "case {index}: {message}");
    }
}

#[test]
fn a_named_config_file_must_exist_but_the_implicit_one_may_be_absent() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    for (what, args, env) in [
        ("--config", vec!["--config", missing, "plugins", "list"], vec![]),
        ("TICKSTOCK_CONFIG", vec!["plugins", "list"], vec![("TICKSTOCK_CONFIG", missing)]),
    ] {
        let output = run_in(dir.path(), &args, &env);
        assert!(!output.status.success(), "{what} naming a missing file was accepted");
        assert!(stderr(&output).contains("missing.toml"), "{what}: {}", stderr(&output));
    }
    // No ./tickstock.toml in the working folder: the command runs as always.
    let output = run_in(dir.path(), &["plugins", "list"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn the_example_file_in_operating_md_is_accepted() {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operating.md")).unwrap();
    let start = guide.find("```toml\n").expect("operating.md has a ```toml example") + "```toml\n".len();
    let example = &guide[start..start + guide[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.toml");
    std::fs::write(&file, example).unwrap();
    // `--help` after the subcommand: the file is checked in full, then clap prints help.
    for subcommand in ["serve", "worker"] {
        let output = run_in(dir.path(), &["--config", file.to_str().unwrap(), subcommand, "--help"], &[]);
        assert!(output.status.success(), "{subcommand}: {}", stderr(&output));
    }
}

#[test]
fn rust_log_beats_the_files_log_level() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tickstock.toml"), "log-level = \"info\"\n").unwrap();
    let info_lines = |env: &[(&str, &str)]| {
        let output = run_in(dir.path(), &["plugins", "list"], env);
        assert!(output.status.success(), "{}", stderr(&output));
        stderr(&output).lines().filter(|line| line.contains("INFO")).count()
    };
    assert!(info_lines(&[]) > 0, "the file's log-level did not apply");
    // RUST_LOG is read by the logger, not by clap: the file must not override it.
    assert_eq!(info_lines(&[("RUST_LOG", "warn")]), 0);
}
