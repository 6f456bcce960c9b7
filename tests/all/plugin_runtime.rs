//! The plugin runtime against real components built from this repository: hostile
//! fixtures that loop, hoard memory, panic or answer nonsense each cost a typed error
//! and nothing more; generations swap under load without a failed call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use tickstock::plugin::calendar::{SpecialDaysAnswer, special_days};
use tickstock::plugin::{
    CallFailure, Limits, PluginKind, PluginLoadError, PluginSource, Registry, Runtime, RuntimeOptions,
};

use crate::support::guest;

/// The deadline of tests whose plugin fails in another way (or not at all): long enough
/// that a loaded machine never turns their failure into a deadline.
const PATIENT: Duration = Duration::from_secs(10);

fn registry_with(limits: Limits) -> Registry {
    Registry::new(Runtime::new(RuntimeOptions { limits, cache_dir: None }).expect("runtime"))
}

fn hostile_registry(deadline: Duration) -> Registry {
    let registry = registry_with(Limits { deadline, memory_bytes: 32 * 1024 * 1024, ..Limits::default() });
    registry
        .load_file(&guest("fixture_hostile_calendar.wasm"))
        .expect("the hostile fixture loads: it behaves until asked");
    registry
}

/// Calls `special-days(year)` on the live hostile fixture and returns the failure kind.
/// The call runs on its own thread under a watchdog, so a protection that stopped working
/// fails the test instead of hanging it.
fn failure_for_year(registry: &Registry, year: i32) -> CallFailure {
    let generation = registry.get(PluginKind::Calendar, "ZZHX").expect("live");
    let (sender, receiver) = std::sync::mpsc::channel();
    let callable = generation.callable().clone();
    std::thread::spawn(move || {
        let _ = sender.send(special_days(&callable, year).map(|_| ()));
    });
    let outcome = receiver
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("year {year}: the call was not stopped within 20 s"));
    let error = match outcome {
        Ok(()) => panic!("year {year} should have failed"),
        Err(error) => error,
    };
    assert_eq!(error.plugin, tickstock::plugin::PluginId::named(PluginKind::Calendar, "ZZHX"));
    assert_eq!(error.generation, generation.number());
    assert_eq!(error.function, "special-days");
    error.failure
}

/// After any failure, the same plugin answers a well-formed call correctly.
fn still_answers(registry: &Registry) {
    let generation = registry.get(PluginKind::Calendar, "ZZHX").expect("still live");
    match special_days(generation.callable(), 2024) {
        Ok(SpecialDaysAnswer::Days(days)) => assert!(days.is_empty()),
        Ok(_) => panic!("unexpected refusal"),
        Err(error) => panic!("the plugin should answer after a failed call: {error}"),
    }
}

#[test]
fn looping_plugin_is_stopped_at_its_deadline() {
    let deadline = Duration::from_millis(100);
    let registry = hostile_registry(deadline);
    // DeadlineExceeded comes only from the epoch interrupt armed with this deadline, and
    // the watchdog in failure_for_year fails a call that is never stopped. How soon after
    // the deadline it stops is not asserted: a wall-clock bound fails on a busy machine
    // and proves nothing more.
    let failure = failure_for_year(&registry, 1901);
    assert_eq!(failure, CallFailure::DeadlineExceeded { deadline });
    still_answers(&registry);
}

#[test]
fn hoarding_plugin_hits_its_memory_cap() {
    let registry = hostile_registry(Duration::from_secs(5));
    let failure = failure_for_year(&registry, 1902);
    assert_eq!(failure, CallFailure::MemoryLimit { cap_bytes: 32 * 1024 * 1024 });
    still_answers(&registry);
}

#[test]
fn panicking_plugin_is_a_trap() {
    let registry = hostile_registry(PATIENT);
    let failure = failure_for_year(&registry, 1903);
    assert!(matches!(failure, CallFailure::Trap { .. }), "{failure:?}");
    still_answers(&registry);
}

#[test]
fn nonsense_answer_is_an_invalid_answer() {
    let registry = hostile_registry(PATIENT);
    let failure = failure_for_year(&registry, 1904);
    match failure {
        CallFailure::InvalidAnswer { reason } => assert!(reason.contains("is not a date"), "{reason}"),
        other => panic!("expected an invalid answer, got {other:?}"),
    }
    still_answers(&registry);
}

#[test]
fn plugin_output_is_not_an_error() {
    let registry = hostile_registry(PATIENT);
    let generation = registry.get(PluginKind::Calendar, "ZZHX").unwrap();
    assert!(matches!(special_days(generation.callable(), 1905), Ok(SpecialDaysAnswer::Days(_))));
}

/// `Limits.output_bytes` caps what one call may write: year 1905 prints a 32-byte line to
/// stdout and another to stderr, answered in full under the default cap (above) and a
/// trap under a 16-byte cap, after which the plugin still answers.
#[test]
fn plugin_output_over_the_cap_is_a_trap() {
    let registry = registry_with(Limits { deadline: PATIENT, output_bytes: 16, ..Limits::default() });
    registry.load_file(&guest("fixture_hostile_calendar.wasm")).expect("the hostile fixture loads");
    let failure = failure_for_year(&registry, 1905);
    assert!(matches!(failure, CallFailure::Trap { .. }), "{failure:?}");
    still_answers(&registry);
}

#[test]
fn builtins_all_load_with_their_identity() {
    let registry = Registry::with_builtins(Runtime::new(crate::support::patient_runtime_options()).unwrap())
        .expect("built-ins load");
    let names = |kind| registry.names(kind);
    for mic in ["XETR", "XLON", "XNAS", "XNYS", "XTKS", "XTSE"] {
        assert!(
            names(PluginKind::Calendar).contains(&mic.to_string()),
            "{mic} missing: {:?}",
            names(PluginKind::Calendar)
        );
    }
    assert!(names(PluginKind::BatchPolicy).contains(&"fixed".to_string()));
    assert!(names(PluginKind::RefreshProfile).contains(&"dev".to_string()));
    for entry in registry.list() {
        assert!(entry.builtin, "{} should be built in", entry.name);
        assert_eq!(entry.generation, 1);
        assert_eq!(entry.sha256.len(), 64);
    }
    // Fixtures are never embedded.
    assert!(registry.get(PluginKind::Calendar, "ZZHX").is_none());
    assert!(registry.get(PluginKind::Calendar, "ZZSW").is_none());
}

#[test]
fn broken_candidate_never_replaces_the_live_generation() {
    let registry = registry_with(crate::support::patient_runtime_options().limits);
    let live = registry.load_file(&guest("fixture_swap_v1.wasm")).unwrap();
    // A describe that traps: the gate refuses it and v1 keeps serving.
    let refused = registry.load_file(&guest("fixture_describe_traps.wasm"));
    assert!(matches!(refused, Err(PluginLoadError::Gate { .. })), "{refused:?}");
    let current = registry.get(PluginKind::Calendar, "ZZSW").unwrap();
    assert_eq!(current.number(), live.number());
    assert_eq!(registry.failures().len(), 1, "the failure is kept for display");
}

#[test]
fn artifact_cache_survives_corruption() {
    let cache = tempfile::tempdir().unwrap();
    let options =
        || RuntimeOptions { cache_dir: Some(cache.path().to_path_buf()), ..crate::support::patient_runtime_options() };
    let bytes = std::fs::read(guest("fixture_swap_v1.wasm")).unwrap();
    let first = Registry::new(Runtime::new(options()).unwrap());
    first.install_bytes(&bytes, PluginSource::File("v1.wasm".into())).unwrap();
    let artifacts: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(artifacts.len(), 1, "one artifact written: {artifacts:?}");
    // Truncate the artifact: the next load must treat it as a miss and still work.
    let artifact = &artifacts[0];
    let length = std::fs::metadata(artifact).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(artifact).unwrap().set_len(length / 2).unwrap();
    let second = Registry::new(Runtime::new(options()).unwrap());
    second.install_bytes(&bytes, PluginSource::File("v1.wasm".into())).expect("a corrupt artifact is a cache miss");
    assert_eq!(std::fs::metadata(artifact).unwrap().len(), length, "the artifact was rewritten");
}

#[test]
fn swaps_under_load_fail_no_call_and_answer_from_the_generation_called() {
    let registry = Arc::new(registry_with(crate::support::patient_runtime_options().limits));
    let v1 = std::fs::read(guest("fixture_swap_v1.wasm")).unwrap();
    let v2 = std::fs::read(guest("fixture_swap_v2.wasm")).unwrap();
    registry.install_bytes(&v1, PluginSource::File("swap.wasm".into())).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..4)
        .map(|thread_index| {
            let registry = registry.clone();
            let stop = stop.clone();
            let calls = calls.clone();
            std::thread::spawn(move || {
                let mut year = 2000 + thread_index;
                let mut seen_generations = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    // Through the calendar engine: a new generation's engine loads years
                    // lazily, so these calls reach the plugin while swaps happen.
                    let calendar = registry.calendar("ZZSW").expect("ZZSW is always live");
                    let version = if calendar.spec().exchange_name.ends_with("v1") { 1 } else { 2 };
                    let days = calendar
                        .special_days(year)
                        .unwrap_or_else(|error| panic!("call failed during a swap: {error}"));
                    for day in days.iter() {
                        assert_eq!(day.name, format!("closed by v{version}"), "answer from another generation");
                        assert_eq!(day.date, NaiveDate::from_ymd_opt(year, 1, 1 + version).unwrap());
                    }
                    let generation = registry.get(PluginKind::Calendar, "ZZSW").unwrap();
                    seen_generations.insert(generation.number());
                    calls.fetch_add(1, Ordering::Relaxed);
                    year = if year >= 2099 { 2000 } else { year + 1 };
                }
                seen_generations.len()
            })
        })
        .collect();

    let swaps = 40;
    for swap in 0..swaps {
        let bytes = if swap % 2 == 0 { &v2 } else { &v1 };
        registry.install_bytes(bytes, PluginSource::File("swap.wasm".into())).expect("swap");
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        let generations_seen = caller.join().expect("no caller panicked");
        assert!(generations_seen > 1, "each caller saw several generations");
    }
    assert_eq!(registry.get(PluginKind::Calendar, "ZZSW").unwrap().number(), 1 + swaps);
    assert!(calls.load(Ordering::Relaxed) > 100, "the callers made real calls");
}

#[test]
fn an_invalid_answer_is_reported_to_the_call_observer_once_as_that_call() {
    let runtime = Runtime::new(crate::support::patient_runtime_options()).unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, Option<String>)>::new()));
    let recorder = seen.clone();
    runtime
        .observe_calls(Box::new(move |call| {
            let failure = call.failure.map(|failure| failure.label().to_string());
            recorder.lock().unwrap().push((call.function.to_string(), failure));
        }))
        .unwrap_or_else(|_| panic!("a new runtime has no observer"));
    let registry = Registry::new(runtime);
    registry.load_file(&guest("fixture_hostile_calendar.wasm")).unwrap();
    seen.lock().unwrap().clear();
    let generation = registry.get(PluginKind::Calendar, "ZZHX").unwrap();
    assert!(special_days(generation.callable(), 1904).is_err());
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls, vec![("special-days".to_string(), Some("invalid-answer".to_string()))]);
}

/// The `N` of the fixture's `call N` answer (years 1906-1908 and 1910): how many such
/// calls the instance that answered has served, so 1 means a fresh instance.
fn instance_calls(registry: &Registry, year: i32) -> u32 {
    let generation = registry.get(PluginKind::Calendar, "ZZHX").expect("live");
    match special_days(generation.callable(), year) {
        Ok(SpecialDaysAnswer::Days(days)) => {
            let name = &days.first().expect("one day").name;
            name.strip_prefix("call ").and_then(|count| count.parse().ok()).unwrap_or_else(|| panic!("{name}"))
        }
        Ok(_) => panic!("year {year}: unexpected refusal"),
        Err(error) => panic!("year {year}: {error}"),
    }
}

/// Calls meet the instance the previous call used, until a call fails or writes output:
/// then the next call gets a fresh instance, whatever the failure left in the old one.
#[test]
fn an_instance_serves_the_next_call_only_after_a_clean_one() {
    let registry = hostile_registry(Duration::from_secs(5));
    for misbehaving_year in [1902, 1903, 1904, 1905] {
        let before = instance_calls(&registry, 1906);
        assert_eq!(instance_calls(&registry, 1906), before + 1, "a clean call keeps its instance");
        let generation = registry.get(PluginKind::Calendar, "ZZHX").unwrap();
        let _ = special_days(generation.callable(), misbehaving_year);
        assert_eq!(instance_calls(&registry, 1906), 1, "after year {misbehaving_year} the instance is fresh");
    }
}

/// A plugin that keeps what it allocates grows, and a call that grew an instance it did
/// not create drops it: under a 6 MiB cap, 100 calls that each keep 256 KiB all succeed
/// (kept together they would pass the cap by the 20th call).
#[test]
fn an_instance_that_grows_is_dropped_before_it_reaches_the_cap() {
    let registry = registry_with(Limits { deadline: PATIENT, memory_bytes: 6 * 1024 * 1024, ..Limits::default() });
    registry.load_file(&guest("fixture_hostile_calendar.wasm")).expect("the hostile fixture loads");
    let most = (0..100).map(|_| instance_calls(&registry, 1907)).max().unwrap();
    assert!(most <= 4, "an instance served {most} growing calls");
}

/// An instance that used more than `pool::KEEP_MEMORY_BYTES`, even for a moment, is not
/// kept to pin that memory.
#[test]
fn an_instance_holding_much_memory_is_not_kept() {
    let registry = hostile_registry(PATIENT);
    let generation = registry.get(PluginKind::Calendar, "ZZHX").unwrap();
    // The 16 MiB call is an instance's first, whose growth is allowed: only its memory
    // can drop it.
    generation.callable().drop_idle_instances();
    assert_eq!(instance_calls(&registry, 1910), 1);
    assert_eq!(generation.callable().idle_instances(), 0, "dropped for its memory");
    assert_eq!(instance_calls(&registry, 1906), 1);
    assert_eq!(generation.callable().idle_instances(), 1, "a small instance is kept");
}

/// A call that leaves a WASI resource open drops its instance, so leaked handles never
/// pile up across calls.
#[test]
fn an_instance_left_holding_a_resource_is_not_kept() {
    let registry = hostile_registry(PATIENT);
    assert_eq!(instance_calls(&registry, 1908), 1);
    assert_eq!(instance_calls(&registry, 1908), 1);
}

/// An instance serves `pool::CALLS_PER_INSTANCE` calls at most.
#[test]
fn an_instance_serves_a_bounded_number_of_calls() {
    let registry = hostile_registry(PATIENT);
    // Loading made calls of its own (describe, info, years): start from a fresh instance.
    registry.get(PluginKind::Calendar, "ZZHX").unwrap().callable().drop_idle_instances();
    let limit = tickstock::plugin::pool::CALLS_PER_INSTANCE;
    for expected in 1..=limit {
        assert_eq!(instance_calls(&registry, 1906), expected);
    }
    assert_eq!(instance_calls(&registry, 1906), 1, "retired after {limit} calls");
}

/// WASI resources are capped per instance (`state::RESOURCES_PER_INSTANCE`), well below
/// wasmtime's default of a million: a plugin opening 100,000 pollables traps, and the
/// plugin still answers afterwards.
#[test]
fn a_plugin_hoarding_resources_is_stopped() {
    let registry = hostile_registry(PATIENT);
    let failure = failure_for_year(&registry, 1909);
    assert!(matches!(failure, CallFailure::Trap { .. }), "{failure:?}");
    still_answers(&registry);
}
