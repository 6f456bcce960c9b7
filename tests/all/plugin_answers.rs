//! Issue 11: what a plugin answers can never hurt the host. Each `fixture_answer_*` guest
//! spoils one answer (a year range that overflows, a 1 MiB name, 100,000 weekend days, a
//! lower-case MIC, one job of a million gaps, 10,000 profiles, a profile named like a
//! built-in's, a calendar that never trades, a memory-cap hit in the gate, a refused
//! year), and the real binary must refuse it in one short line that names the field and
//! the limit, or answer within a bounded search, while everything else keeps working.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{guest, tickstock};

/// An error line the host prints must stay short whatever the plugin answered.
const LINE_CHARS: usize = 300;

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("scratch dir") }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A plugin folder holding the given built guests.
    fn plugins(&self, guests: &[&str]) -> PathBuf {
        let folder = self.path().join("plugins");
        std::fs::create_dir_all(&folder).unwrap();
        for built in guests {
            std::fs::copy(guest(built), folder.join(built)).expect("copy a guest into the folder");
        }
        folder
    }

    fn run(&self, plugins: Option<&Path>, args: &[&str]) -> Output {
        let mut command = tickstock(&self.path().join("cache"));
        // A generous deadline: these tests are about what the host does with an answer,
        // and a busy machine must not turn a refused size into a deadline hit.
        command.current_dir(self.path()).env("TICKSTOCK_PLUGIN_DEADLINE_MS", "5000");
        if let Some(folder) = plugins {
            command.arg("--plugins").arg(folder);
        }
        command.args(args).output().expect("run tickstock")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `error:` lines of stderr.
fn error_lines(output: &Output) -> Vec<String> {
    text(&output.stderr).lines().filter(|line| line.starts_with("error:")).map(str::to_string).collect()
}

#[test]
fn plugins_check_refuses_each_answer_over_a_limit_in_one_short_line_naming_field_limit_and_size() {
    let cases = [
        ("fixture_answer_years_overflow.wasm", "`first-year` -1 is outside 1..=9999"),
        ("fixture_answer_huge_text.wasm", "special day 0 `name` is 1048576 bytes, over the limit of 4096"),
        ("fixture_answer_huge_weekend.wasm", "`weekend` is 100000 entries, over the limit of 7"),
        ("fixture_answer_lower_mic.wasm", "`mic` \"xlow\" is not a MIC"),
        (
            "fixture_answer_enormous_job.wasm",
            "brings the gap indices of jobs 0..=0 to 1000000, over the request's 4 gaps",
        ),
        ("fixture_answer_many_profiles.wasm", "the profile list is 10000 entries, over the limit of 256"),
    ];
    let scratch = Scratch::new();
    for (file, expected) in cases {
        let output = scratch.run(None, &["plugins", "check", guest(file).to_str().unwrap()]);
        assert!(!output.status.success(), "{file} was accepted: {}", text(&output.stdout));
        let lines = error_lines(&output);
        assert_eq!(lines.len(), 1, "{file}: one error line expected, got {:?}", text(&output.stderr));
        let line = &lines[0];
        assert!(line.contains(expected), "{file}: {line:?} does not say {expected:?}");
        assert_eq!(line.matches("returned an invalid answer").count(), 1, "{file}: {line}");
        let origin_chars = guest(file).display().to_string().chars().count();
        assert!(line.chars().count() < LINE_CHARS + origin_chars, "{file}: {} chars: {line}", line.chars().count());
        assert!(!line.contains("NNNN"), "{file}: the oversized value was copied into the error: {line}");
    }
}

#[test]
fn plugins_check_prints_the_limits_of_the_plugins_world() {
    let scratch = Scratch::new();
    for (file, expected) in [
        ("calendar_xnys.wasm", "MIC 4 upper-case letters or digits"),
        ("policy_fixed.wasm", "gap indices in all jobs together at most the request's gaps"),
        ("profile_dev.wasm", "256 profiles"),
    ] {
        let output = scratch.run(None, &["plugins", "check", guest(file).to_str().unwrap()]);
        assert!(output.status.success(), "{file}: {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        let limits = stdout.lines().find(|line| line.starts_with("limits: ")).unwrap_or_else(|| panic!("{stdout}"));
        assert!(limits.contains("description 4096 B") && limits.contains(expected), "{file}: {limits}");
    }
}

#[test]
fn a_memory_cap_hit_in_the_load_gate_is_called_a_memory_cap_hit_once() {
    let scratch = Scratch::new();
    let output = scratch.run(None, &["plugins", "check", guest("fixture_answer_hoard_memory.wasm").to_str().unwrap()]);
    assert!(!output.status.success());
    let lines = error_lines(&output);
    assert_eq!(lines.len(), 1, "{}", text(&output.stderr));
    let line = &lines[0];
    assert_eq!(line.matches("hit its memory cap").count(), 1, "{line}");
    assert_eq!(line.matches("`special-days`").count(), 1, "{line}");
    assert!(!line.contains("invalid answer"), "{line}");
}

#[test]
fn status_of_every_exchange_gives_a_never_open_calendar_an_error_row_and_the_others_their_rows() {
    let scratch = Scratch::new();
    let every_fixture = [
        "fixture_answer_never_open.wasm",
        "fixture_answer_years_overflow.wasm",
        "fixture_answer_huge_text.wasm",
        "fixture_answer_huge_weekend.wasm",
        "fixture_answer_lower_mic.wasm",
        "fixture_answer_enormous_job.wasm",
        "fixture_answer_many_profiles.wasm",
        "fixture_answer_colliding_profile.wasm",
        "fixture_answer_hoard_memory.wasm",
    ];
    let plugins = scratch.plugins(&every_fixture);
    let output = scratch.run(Some(&plugins), &["calendar", "status", "--at", "2024-06-03T15:00:00Z"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let row = |mic: &str| stdout.lines().find(|line| line.starts_with(mic)).unwrap_or_else(|| panic!("{stdout}"));
    assert!(row("XNVR").contains("error") && row("XNVR").contains("no trading in the 10 years"), "{stdout}");
    assert!(row("XNYS").contains("open"), "{stdout}");
    assert!(row("XLON").contains("open"), "{stdout}");
    // Each refused plugin is one warning line, short, naming what was wrong.
    let stderr = text(&output.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|line| line.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), every_fixture.len() - 1, "{warnings:#?}");
    for warning in &warnings {
        let without_path = warning.replace(&plugins.display().to_string(), "");
        assert!(without_path.chars().count() < LINE_CHARS, "{} chars: {warning}", without_path.chars().count());
    }

    // Named on the command line, the same calendar fails as a whole, in one line.
    let output = scratch.run(Some(&plugins), &["calendar", "status", "XNVR", "--at", "2024-06-03T15:00:00Z"]);
    assert!(!output.status.success());
    assert_eq!(
        error_lines(&output),
        ["error: XNVR: no trading in the 10 years from 2024 on; the search gives up there"]
    );
}

#[test]
fn tables_cut_long_plugin_text_with_an_ellipsis() {
    let scratch = Scratch::new();
    let plugins = scratch.plugins(&["fixture_answer_never_open.wasm"]);
    let output = scratch.run(Some(&plugins), &["calendar", "holidays", "XNVR", "--year", "2024"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // 262 weekdays in 2024, each closed under a 3,500-byte name.
    assert_eq!(stdout.lines().count(), 1 + 262, "{stdout}");
    for line in stdout.lines().skip(1) {
        assert!(line.chars().count() < 200, "{} chars: {line}", line.chars().count());
        assert!(line.contains("Closed Closed") && line.contains('…'), "{line}");
    }
    // JSON keeps the whole text.
    let output = scratch.run(Some(&plugins), &["calendar", "holidays", "XNVR", "--year", "2024", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(rows[0]["name"].as_str().unwrap().len(), "Closed ".len() * 500);
}

#[test]
fn a_plugin_refusing_a_year_inside_its_range_is_said_to_refuse_it() {
    let scratch = Scratch::new();
    let plugins = scratch.plugins(&["fixture_answer_refuse_year.wasm"]);
    let output = scratch.run(Some(&plugins), &["calendar", "holidays", "XRFY", "--year", "2050"]);
    assert!(!output.status.success());
    assert_eq!(
        error_lines(&output),
        [
            "error: XRFY: calendar plugin: the plugin refused year 2050 as out of range, though its info declares 2000..=2100"
        ]
    );
}

#[test]
fn a_trap_quotes_only_an_excerpt_of_what_the_plugin_printed() {
    let scratch = Scratch::new();
    let plugins = scratch.plugins(&["fixture_answer_refuse_year.wasm"]);
    let output = scratch.run(Some(&plugins), &["calendar", "holidays", "XRFY", "--year", "2051"]);
    assert!(!output.status.success());
    let lines = error_lines(&output);
    assert_eq!(lines.len(), 1, "{}", text(&output.stderr));
    assert!(lines[0].contains("trapped") && lines[0].contains("PPPP"), "{}", lines[0]);
    assert!(lines[0].chars().count() < 2 * LINE_CHARS, "{} chars", lines[0].chars().count());
}

#[test]
fn a_policy_failure_says_its_cause_once() {
    let scratch = Scratch::new();
    let plugins = scratch.plugins(&["fixture_bad_policy.wasm"]);
    let args = ["plan", "--db", "plan.db", "--symbols", "10", "--years", "1", "--policy", "zz-bad"];
    let output = scratch.run(Some(&plugins), &args);
    assert!(!output.status.success());
    let lines = error_lines(&output);
    assert_eq!(lines.len(), 1, "{}", text(&output.stderr));
    assert_eq!(lines[0].matches("more than one job").count(), 1, "{}", lines[0]);
    assert_eq!(lines[0].matches("returned an invalid answer").count(), 1, "{}", lines[0]);
}

#[test]
fn a_profile_folding_like_a_builtin_profile_is_refused_at_load() {
    let scratch = Scratch::new();
    let plugins = scratch.plugins(&["fixture_answer_colliding_profile.wasm"]);
    let output = scratch.run(Some(&plugins), &["plugins", "list"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let refused = stdout.lines().find(|line| line.starts_with("not loaded:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        refused.contains("profile Patterns shares its dataset with profile patterns of refresh-profile/dev"),
        "{refused}"
    );
    assert!(!stdout.contains("zz-colliding  "), "the colliding plugin went live:\n{stdout}");
    let output = scratch.run(Some(&plugins), &["refresh", "--list", "--report", "json"]);
    let profiles: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let names: Vec<&str> =
        profiles.as_array().unwrap().iter().map(|e| e["profile"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"patterns") && !names.contains(&"Patterns"), "{names:?}");
}

/// The profile recorded in a SQLite dataset.
fn recorded_profile(db: &Path) -> Option<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = tickstock::store::Store::open(&db.display().to_string()).await.unwrap();
        let meta = store.dataset_meta().await.unwrap();
        store.close().await;
        meta.get("profile").cloned()
    })
}

#[test]
fn refresh_never_writes_into_or_drops_a_dataset_recorded_under_another_profile() {
    let scratch = Scratch::new();
    // The built-in `patterns` owns data/patterns.db.
    let db = scratch.path().join("data").join("patterns.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = tickstock::store::Store::open(&db.display().to_string()).await.unwrap();
        let meta = [("profile".to_string(), "patterns".to_string())].into_iter().collect();
        store.replace_dataset_meta(&meta).await.unwrap();
        store.close().await;
    });
    // A replacement `dev` plugin offers `Patterns`, whose dataset is the same file.
    let plugins = scratch.plugins(&["fixture_answer_renamed_dev.wasm"]);
    for extra in [&[][..], &["--full"][..]] {
        let mut args = vec!["refresh", "Patterns", "--data-dir", "data", "--today", "2024-07-15"];
        args.extend_from_slice(extra);
        let output = scratch.run(Some(&plugins), &args);
        assert!(!output.status.success(), "{args:?} succeeded: {}", text(&output.stdout));
        let lines = error_lines(&output);
        assert_eq!(lines.len(), 1, "{}", text(&output.stderr));
        assert!(lines[0].contains("holds the dataset of profile \"patterns\", not of Patterns"), "{}", lines[0]);
        assert_eq!(recorded_profile(&db).as_deref(), Some("patterns"), "{args:?} touched the dataset");
    }
}
