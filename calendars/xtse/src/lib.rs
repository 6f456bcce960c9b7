//! The XTSE calendar plugin: the Toronto Stock Exchange rule set from
//! `calendar_rules::xtse`, exported as the `calendar-plugin` WIT world. The rules and the
//! WIT conversion live in calendar-rules; this crate only generates the bindings and
//! exports.

wit_bindgen::generate!({ path: "../../wit", world: "calendar-plugin" });

calendar_rules::export_calendar!(calendar_rules::xtse::Xtse);
