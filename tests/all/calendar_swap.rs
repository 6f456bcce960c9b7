//! Swapping a calendar plugin's generation: a new XNYS that adds one one-off closure
//! changes `status` and `sessions` for that date at once, with no restart, and nothing
//! else; a `Calendar` taken before the swap keeps answering as before.

use chrono::{DateTime, NaiveDate, Utc};
use tickstock::calendar::{ClosedReason, Status};
use tickstock::plugin::{PluginKind, Registry, Runtime};

use crate::support::guest;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn swapping_in_an_extra_closure_changes_that_date_and_nothing_else() {
    let registry = Registry::with_builtins(Runtime::new(crate::support::patient_runtime_options()).unwrap()).unwrap();
    let before = registry.calendar("XNYS").unwrap();
    let generation_before = registry.get(PluginKind::Calendar, "XNYS").unwrap().number();
    let closure_day = date("2027-03-17");
    let during_session = instant("2027-03-17T15:00:00Z");
    assert!(matches!(before.status(during_session).unwrap(), Status::Open { .. }));
    let (from, to) = (date("2020-01-01"), date("2035-12-31"));
    let sessions_before = before.sessions(from, to).unwrap();

    registry.load_file(&guest("fixture_xnys_extra_closure.wasm")).expect("the new XNYS generation goes live");

    let after = registry.calendar("XNYS").unwrap();
    assert_eq!(registry.get(PluginKind::Calendar, "XNYS").unwrap().number(), generation_before + 1);
    match after.status(during_session).unwrap() {
        Status::Closed { reason: ClosedReason::Holiday { name }, .. } => assert_eq!(name, "Fixture one-off closure"),
        other => panic!("expected the new closure, got {other:?}"),
    }
    let sessions_after = after.sessions(from, to).unwrap();
    let expected: Vec<_> = sessions_before.iter().filter(|session| session.date != closure_day).copied().collect();
    assert_eq!(sessions_after.len() + 1, sessions_before.len());
    assert_eq!(sessions_after, expected, "only the closure day changed");
    for year in 2020..=2035 {
        let old_days = before.special_days(year).unwrap();
        let new_days = after.special_days(year).unwrap();
        let new_without_fixture: Vec<_> = new_days.iter().filter(|day| day.date != closure_day).cloned().collect();
        assert_eq!(old_days.to_vec(), new_without_fixture, "special days of {year}");
    }
    // A caller holding the old generation's calendar keeps its answers.
    assert!(matches!(before.status(during_session).unwrap(), Status::Open { .. }));
}

#[test]
fn removing_the_file_that_replaced_a_builtin_brings_the_builtin_back() {
    let registry = Registry::with_builtins(Runtime::new(crate::support::patient_runtime_options()).unwrap()).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("xnys.wasm");
    std::fs::copy(guest("fixture_xnys_extra_closure.wasm"), &file).unwrap();
    registry.load_file(&file).unwrap();
    let replaced = registry.get(PluginKind::Calendar, "XNYS").unwrap();
    assert!(replaced.identity.version.ends_with("-extra-closure"));

    let removed = registry.remove_file(&file);
    assert_eq!(removed, Some((PluginKind::Calendar, "XNYS".to_string())));
    let restored = registry.get(PluginKind::Calendar, "XNYS").unwrap();
    assert_eq!(restored.source, tickstock::plugin::PluginSource::Builtin("calendar_xnys.wasm"));
    assert!(restored.number() > replaced.number(), "the built-in comes back as a new generation");
    let status = registry.calendar("XNYS").unwrap().status(instant("2027-03-17T15:00:00Z")).unwrap();
    assert!(matches!(status, Status::Open { .. }), "the extra closure is gone: {status:?}");
}
