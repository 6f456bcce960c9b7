//! `tickstock refresh` end to end with the real binary: a dataset built from empty, brought
//! up to date with nothing to do, moved on by a month, rebuilt with `--full`, kept apart
//! from other datasets and the production tables in one PostgreSQL database, and left
//! untouched by a profile that names an unknown universe or exchange (a fixture plugin).
//!
//! Expected bar counts come from the binary's own calendar (`tickstock calendar sessions`)
//! and the universe files in `host/universes/`, so the assertions are exact: every refresh
//! that fetches must fetch exactly the bars that were missing (efficiency 1.0).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{TestDatabase, guest, postgres_url, tickstock};

/// A scratch folder: the working directory of every command, with the artifact cache.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut command = tickstock(&self.path().join("cache"));
        command.current_dir(self.path()).env_remove("TICKSTOCK_DATA_DIR").env_remove("TICKSTOCK_UNIVERSES");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tickstock")
    }

    /// Runs `refresh ... --report json` and returns the report; fails on a non-zero exit.
    fn refresh(&self, args: &[&str]) -> Value {
        let mut all = vec!["refresh", "--report", "json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(output.status.success(), "refresh {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("a JSON report")
    }

    /// Trading sessions of `mic` in `[from, to]`, from the binary's calendar.
    fn sessions(&self, mic: &str, from: &str, to: &str) -> u64 {
        let output = self.run(&["calendar", "sessions", mic, "--from", from, "--to", to, "--format", "csv"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().lines().skip(1).filter(|line| !line.is_empty()).count() as u64
    }

    /// Bars a window of `listings` holds: one per session of each listing's exchange.
    fn bars_in(&self, listings: &[(String, String)], from: &str, to: &str) -> u64 {
        let mut total = 0;
        for mic in ["XNYS", "XNAS", "XTKS"] {
            let listed = listings.iter().filter(|(_, exchange)| exchange == mic).count() as u64;
            if listed > 0 {
                total += listed * self.sessions(mic, from, to);
            }
        }
        total
    }

    /// A `--plugins` folder holding the bad-profiles fixture.
    fn fixture_plugins(&self) -> PathBuf {
        let folder = self.path().join("plugins");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(guest("fixture_bad_profiles.wasm"), folder.join("fixture_bad_profiles.wasm")).unwrap();
        folder
    }
}

/// The first `count` listings of a universe shipped in `host/universes/`.
fn universe(name: &str, count: usize) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("universes").join(format!("{name}.txt"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split('#').next().unwrap().trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (symbol, exchange) = line.split_once(',').unwrap();
            (symbol.trim().to_string(), exchange.trim().to_string())
        })
        .take(count)
        .collect()
}

fn sqlite_rows(db: &Path) -> u64 {
    assert!(db.exists(), "{} does not exist", db.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = tickstock::store::Store::open(&db.display().to_string()).await.unwrap();
        let count = store.count_bars(&tickstock::store::BarSelection::default()).await.unwrap();
        store.close().await;
        count
    })
}

fn sqlite_meta(db: &Path) -> std::collections::BTreeMap<String, String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = tickstock::store::Store::open(&db.display().to_string()).await.unwrap();
        let meta = store.dataset_meta().await.unwrap();
        store.close().await;
        meta
    })
}

fn assert_fetched_exactly_what_was_missing(report: &Value, expected: u64) {
    assert_eq!(report["bars_missing"], expected, "{report:#}");
    assert_eq!(report["bars_fetched"], expected, "{report:#}");
    assert_eq!(report["efficiency"].as_f64(), Some(1.0), "{report:#}");
}

// ui_testing: the first 20 of us-large-cap, 3 months of daily bars.
const UI_TODAY: &str = "2024-07-15";
const UI_FROM: &str = "2024-04-15";
const UI_TO: &str = "2024-07-14";

#[test]
fn a_refresh_from_empty_loads_the_whole_window_into_the_profiles_own_file() {
    let scratch = Scratch::new();
    let listings = universe("us-large-cap", 20);
    let expected = scratch.bars_in(&listings, UI_FROM, UI_TO);
    assert!(expected > 20 * 55, "three months of sessions");

    let report = scratch.refresh(&["ui_testing", "--today", UI_TODAY]);
    assert_fetched_exactly_what_was_missing(&report, expected);
    assert_eq!(report["sessions_expected"], expected);
    assert_eq!(report["bars_present"], expected);
    assert_eq!(report["bars_removed"], 0);
    assert_eq!(report["symbols"], 20);
    assert_eq!(report["window"]["from"], UI_FROM);
    assert_eq!(report["window"]["to"], UI_TO);
    assert_eq!(report["target_seconds"].as_f64(), Some(15.0));

    // Default home: ./tickstock-data/<profile>.db, with the profile recorded inside.
    let db = scratch.path().join("tickstock-data").join("ui_testing.db");
    assert_eq!(sqlite_rows(&db), expected);
    let meta = sqlite_meta(&db);
    assert_eq!(meta["profile"], "ui_testing");
    assert_eq!(meta["plugin"], "dev");
    assert_eq!(meta["feature_tags"], r#"["ui","charts"]"#);
    assert_eq!(meta["window_from"], UI_FROM);
    assert_eq!(meta["window_to"], UI_TO);
}

#[test]
fn a_second_refresh_with_nothing_missing_fetches_nothing() {
    let scratch = Scratch::new();
    let first = scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--data-dir", "data"]);
    let present = first["bars_present"].as_u64().unwrap();

    let again = scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--data-dir", "data"]);
    assert_eq!(again["bars_missing"], 0);
    assert_eq!(again["bars_fetched"], 0);
    assert_eq!(again["bars_removed"], 0);
    assert_eq!(again["jobs"], 0);
    assert_eq!(again["efficiency"].as_f64(), Some(1.0), "nothing missing is reported as 1.0");
    assert_eq!(again["bars_present"], present);

    let text = scratch.run(&["refresh", "ui_testing", "--today", UI_TODAY, "--data-dir", "data"]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("fetched 0"), "{text}");
    assert!(text.contains("(nothing missing)"), "{text}");
    assert!(text.contains("target of 15 s"), "{text}");
}

#[test]
fn a_month_later_only_the_new_month_is_fetched_and_the_old_month_removed() {
    let scratch = Scratch::new();
    let listings = universe("us-large-cap", 20);
    scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--data-dir", "data"]);

    let later = scratch.refresh(&["ui_testing", "--today", "2024-08-15", "--data-dir", "data"]);
    let new_month = scratch.bars_in(&listings, "2024-07-15", "2024-08-14");
    let old_month = scratch.bars_in(&listings, UI_FROM, "2024-05-14");
    assert_fetched_exactly_what_was_missing(&later, new_month);
    assert_eq!(later["bars_removed"], old_month);
    let window = scratch.bars_in(&listings, "2024-05-15", "2024-08-14");
    assert_eq!(later["bars_present"], window);
    assert_eq!(sqlite_rows(&scratch.path().join("data").join("ui_testing.db")), window);
}

#[test]
fn full_discards_the_dataset_and_rebuilds_it_from_empty() {
    let scratch = Scratch::new();
    let listings = universe("us-large-cap", 20);
    let expected = scratch.bars_in(&listings, UI_FROM, UI_TO);
    scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--data-dir", "data"]);

    let full = scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--data-dir", "data", "--full"]);
    assert_eq!(full["full"], true);
    assert_fetched_exactly_what_was_missing(&full, expected);
    assert_eq!(full["bars_present"], expected);
}

#[test]
fn profiles_refreshed_into_one_postgres_database_never_see_each_others_rows() {
    let Some(postgres) = postgres_url() else { return };
    let database = TestDatabase::create(&postgres);
    let scratch = Scratch::new();

    // Production rows in the public schema first: no refresh may touch them.
    let load = scratch.run(&[
        "load",
        "--db",
        &database.url,
        "--symbols",
        "3",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--progress",
        "none",
    ]);
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    let public_rows = database.count("SELECT count(*) FROM public.bars");
    assert_eq!(public_rows, 3 * 21);

    let ui_expected = scratch.bars_in(&universe("us-large-cap", 20), UI_FROM, UI_TO);
    let etf_expected = scratch.bars_in(&universe("us-etfs", 40), "2023-07-15", UI_TO);
    let ui = scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--db", &database.url]);
    assert_fetched_exactly_what_was_missing(&ui, ui_expected);
    let etf = scratch.refresh(&["etf_analysis", "--today", UI_TODAY, "--db", &database.url]);
    assert_fetched_exactly_what_was_missing(&etf, etf_expected);

    assert_eq!(database.count("SELECT count(*) FROM dev_ui_testing.bars") as u64, ui_expected);
    assert_eq!(database.count("SELECT count(DISTINCT symbol) FROM dev_ui_testing.bars"), 20);
    assert_eq!(database.count("SELECT count(*) FROM dev_ui_testing.bars WHERE symbol = 'SPY'"), 0);
    assert_eq!(database.count("SELECT count(*) FROM dev_etf_analysis.bars") as u64, etf_expected);
    assert_eq!(database.count("SELECT count(DISTINCT symbol) FROM dev_etf_analysis.bars"), 40);
    assert_eq!(database.count("SELECT count(*) FROM dev_etf_analysis.bars WHERE symbol = 'AAPL'"), 0);
    assert_eq!(database.count("SELECT count(*) FROM public.bars"), public_rows);
    assert_eq!(database.count("SELECT count(*) FROM public.bars WHERE symbol IN ('AAPL', 'SPY')"), 0);
    assert_eq!(
        database.count(
            "SELECT count(*) FROM dev_etf_analysis.dataset_meta WHERE key = 'profile' AND value = 'etf_analysis'"
        ),
        1
    );
    assert_eq!(database.count("SELECT count(*) FROM public.dataset_meta"), 0);

    // Rebuilding one dataset leaves the other, and production, as they were.
    let rebuilt = scratch.refresh(&["ui_testing", "--today", UI_TODAY, "--db", &database.url, "--full"]);
    assert_fetched_exactly_what_was_missing(&rebuilt, ui_expected);
    assert_eq!(database.count("SELECT count(*) FROM dev_etf_analysis.bars") as u64, etf_expected);
    assert_eq!(database.count("SELECT count(*) FROM public.bars"), public_rows);
    let nothing = scratch.refresh(&["etf_analysis", "--today", UI_TODAY, "--db", &database.url]);
    assert_eq!(nothing["bars_fetched"], 0);
}

#[test]
fn a_profile_naming_an_unknown_universe_or_exchange_fails_before_touching_its_dataset() {
    let scratch = Scratch::new();
    let plugins = scratch.fixture_plugins();
    let plugins = plugins.to_str().unwrap();

    // A dataset with rows already: a failed refresh, even with --full, must keep them.
    let db = scratch.path().join("data").join("zz_unknown_universe.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let load = scratch.run(&[
        "load",
        "--db",
        db.to_str().unwrap(),
        "--symbols",
        "3",
        "--from",
        "2024-01-02",
        "--to",
        "2024-01-31",
        "--progress",
        "none",
    ]);
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert_eq!(sqlite_rows(&db), 3 * 21);

    let cases: &[(&str, &str, &str)] = &[
        ("zz_unknown_universe", "unknown universe \"no-such-universe\"", "us-large-cap"),
        ("zz_unknown_exchange", "unknown exchange \"XXXX\"", "XNYS"),
    ];
    for (profile, expected, hint) in cases {
        let output = scratch.run(&[
            "refresh",
            profile,
            "--plugins",
            plugins,
            "--data-dir",
            "data",
            "--today",
            UI_TODAY,
            "--full",
        ]);
        assert!(!output.status.success(), "{profile} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{profile}: {stderr}");
        assert!(stderr.contains(hint), "{profile}: the error lists what is known: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    assert_eq!(sqlite_rows(&db), 3 * 21, "the dataset is as it was");
    assert!(!scratch.path().join("data").join("zz_unknown_exchange.db").exists(), "no dataset was created");
}

#[test]
fn refresh_list_shows_the_profiles_of_every_loaded_plugin() {
    let scratch = Scratch::new();
    let output = scratch.run(&["refresh", "--list"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    for (profile, symbols, window, target) in [
        ("patterns", "50 of us-large-cap", "6 months", "25 s"),
        ("backtesting", "100 of us-large-cap", "12 months", "45 s"),
        ("ui_testing", "20 of us-large-cap", "3 months", "15 s"),
        ("etf_analysis", "40 of us-etfs", "12 months", "30 s"),
    ] {
        let line =
            text.lines().find(|line| line.starts_with(profile)).unwrap_or_else(|| panic!("{profile} missing:\n{text}"));
        for field in [symbols, window, target, "dev"] {
            assert!(line.contains(field), "{profile}: {field:?} missing in {line:?}");
        }
    }
    assert!(!text.contains("zz_unknown_universe"));

    // A plugin dropped into the --plugins folder is listed next to the built-in one.
    let plugins = scratch.fixture_plugins();
    let output = scratch.run(&["refresh", "--list", "--report", "json", "--plugins", plugins.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let entries: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (entry["plugin"].as_str().unwrap().to_string(), entry["profile"]["name"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(names.contains(&("dev".into(), "patterns".into())), "{names:?}");
    assert!(names.contains(&("zz-bad-profiles".into(), "zz_unknown_exchange".into())), "{names:?}");
}

#[test]
fn a_universes_folder_adds_universes_that_profiles_can_name() {
    let scratch = Scratch::new();
    let plugins = scratch.fixture_plugins();
    let plugins = plugins.to_str().unwrap();
    let universes = scratch.path().join("universes");
    std::fs::create_dir_all(&universes).unwrap();
    std::fs::write(universes.join("zz-test-universe.txt"), "# two exchanges, two calendars\n7203,XTKS\nIBM,XNYS\n")
        .unwrap();

    let without = scratch.run(&[
        "refresh",
        "zz_custom_universe",
        "--plugins",
        plugins,
        "--data-dir",
        "data",
        "--today",
        UI_TODAY,
    ]);
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("zz-test-universe"));

    let report = scratch.refresh(&[
        "zz_custom_universe",
        "--plugins",
        plugins,
        "--universes",
        universes.to_str().unwrap(),
        "--data-dir",
        "data",
        "--today",
        UI_TODAY,
    ]);
    // One month: [2024-06-15, 2024-07-14], Tokyo's and New York's sessions each.
    let expected =
        scratch.sessions("XTKS", "2024-06-15", "2024-07-14") + scratch.sessions("XNYS", "2024-06-15", "2024-07-14");
    assert_fetched_exactly_what_was_missing(&report, expected);
    assert_eq!(report["symbols"], 2);
}
