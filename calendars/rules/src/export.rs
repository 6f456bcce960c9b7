//! `export_calendar!`: the one place that turns this crate's plain types into the WIT
//! `calendar-plugin` world's types and exports them. Each plugin crate runs
//! `wit_bindgen::generate!` itself (bindings belong to the component being built) and
//! then invokes this macro with its rule set, so the conversion is written once rather
//! than once per exchange, and this crate needs no wit-bindgen dependency.

/// Exports an [`ExchangeCalendar`](crate::ExchangeCalendar) as the `calendar-plugin`
/// world. Invoke at the crate root, after
/// `wit_bindgen::generate!({ path: ".../wit", world: "calendar-plugin" })`:
///
/// ```text
/// calendar_rules::export_calendar!(calendar_rules::xnys::Xnys);
/// ```
///
/// The expression is evaluated on every call, so it should be a cheap constant (a unit
/// struct, or a struct of a few fields for fixtures that wrap a rule set).
#[macro_export]
macro_rules! export_calendar {
    ($calendar:expr) => {
        /// The exported component: the rule set behind the WIT calendar world.
        struct ExportedCalendar;

        mod exported_calendar_conversions {
            //! From the rules' plain types to the generated WIT types.
            use super::exports::tickstock::plugins::calendar as wit_calendar;
            use super::tickstock::plugins::types as wit_types;

            pub fn date(date: $crate::Date) -> wit_types::Date {
                wit_types::Date { year: date.year, month: date.month, day: date.day }
            }

            pub fn time(time: $crate::LocalTime) -> wit_types::LocalTime {
                wit_types::LocalTime { hour: time.hour, minute: time.minute }
            }

            pub fn weekday(weekday: $crate::Weekday) -> wit_calendar::Weekday {
                match weekday {
                    $crate::Weekday::Monday => wit_calendar::Weekday::Monday,
                    $crate::Weekday::Tuesday => wit_calendar::Weekday::Tuesday,
                    $crate::Weekday::Wednesday => wit_calendar::Weekday::Wednesday,
                    $crate::Weekday::Thursday => wit_calendar::Weekday::Thursday,
                    $crate::Weekday::Friday => wit_calendar::Weekday::Friday,
                    $crate::Weekday::Saturday => wit_calendar::Weekday::Saturday,
                    $crate::Weekday::Sunday => wit_calendar::Weekday::Sunday,
                }
            }

            pub fn identity(identity: $crate::Identity) -> wit_types::Identity {
                wit_types::Identity {
                    kind: wit_types::PluginKind::Calendar,
                    name: identity.name,
                    version: identity.version,
                    description: identity.description,
                }
            }

            pub fn info(info: $crate::CalendarInfo) -> wit_calendar::CalendarInfo {
                wit_calendar::CalendarInfo {
                    mic: info.mic,
                    exchange_name: info.exchange_name,
                    timezone: info.timezone,
                    weekend: info.weekend.into_iter().map(weekday).collect(),
                    first_session: date(info.first_session),
                    first_year: info.first_year,
                    last_year: info.last_year,
                    published_through: info.published_through,
                    hours: info
                        .hours
                        .into_iter()
                        .map(|hours| wit_calendar::RegularHours {
                            effective_from: date(hours.effective_from),
                            open: time(hours.open),
                            close: time(hours.close),
                            lunch_break: hours
                                .lunch_break
                                .map(|(start, end)| wit_calendar::BreakInterval { start: time(start), end: time(end) }),
                        })
                        .collect(),
                }
            }

            pub fn special_day(day: $crate::SpecialDay) -> wit_calendar::SpecialDay {
                wit_calendar::SpecialDay {
                    date: date(day.date),
                    name: day.name,
                    kind: match day.kind {
                        $crate::DayKind::Closed => wit_calendar::DayKind::Closed,
                        $crate::DayKind::EarlyClose(at) => wit_calendar::DayKind::EarlyClose(time(at)),
                        $crate::DayKind::LateOpen(at) => wit_calendar::DayKind::LateOpen(time(at)),
                    },
                    certainty: match day.certainty {
                        $crate::Certainty::Official => wit_calendar::Certainty::Official,
                        $crate::Certainty::Projected => wit_calendar::Certainty::Projected,
                    },
                    rule: day.rule,
                    source: day.source,
                    observed_from: day.observed_from.map(date),
                }
            }

            pub fn error(error: $crate::CalendarError) -> wit_calendar::CalendarError {
                match error {
                    $crate::CalendarError::YearOutOfRange(year) => wit_calendar::CalendarError::YearOutOfRange(year),
                    $crate::CalendarError::Other(reason) => wit_calendar::CalendarError::Other(reason),
                }
            }
        }

        impl Guest for ExportedCalendar {
            fn describe() -> tickstock::plugins::types::Identity {
                exported_calendar_conversions::identity($crate::ExchangeCalendar::identity(&$calendar))
            }
        }

        impl exports::tickstock::plugins::calendar::Guest for ExportedCalendar {
            fn info() -> exports::tickstock::plugins::calendar::CalendarInfo {
                exported_calendar_conversions::info($crate::ExchangeCalendar::info(&$calendar))
            }

            fn special_days(
                year: i32,
            ) -> Result<
                Vec<exports::tickstock::plugins::calendar::SpecialDay>,
                exports::tickstock::plugins::calendar::CalendarError,
            > {
                $crate::ExchangeCalendar::special_days(&$calendar, year)
                    .map(|days| days.into_iter().map(exported_calendar_conversions::special_day).collect())
                    .map_err(exported_calendar_conversions::error)
            }
        }

        export!(ExportedCalendar);
    };
}
