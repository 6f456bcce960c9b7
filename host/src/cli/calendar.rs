//! `tickstock calendar`: sessions, status, holidays, explanations and maintenance windows
//! from the calendar engine, as CSV, JSON or an aligned table.
//!
//! Dates and instants arrive as plain strings and are parsed here rather than by clap, so
//! a malformed one is a one-line `error: ...` from `main` like every other failure,
//! instead of clap's multi-line usage message.

use std::sync::Arc;

use anyhow::bail;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};

use super::GlobalOptions;
use crate::api::calendar::{
    HolidayRow, certainty_text, day_kind_text, explanation_json, holiday_row, hours_text, parse_date, parse_instant,
    session_row, status_row, utc_text,
};
use crate::calendar::{Calendar, DayExplanation, DayKind, Session};
use crate::exchanges::Exchanges;

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Sessions between two exchange-local dates (inclusive), with instants in UTC.
    Sessions {
        /// Exchange MIC, e.g. XNYS.
        mic: String,
        /// First local date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last local date, YYYY-MM-DD (inclusive).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
    /// Open, on break or closed (and why), and until when; every exchange when none given.
    Status {
        /// Exchange MICs; all known exchanges when empty.
        mics: Vec<String>,
        /// The instant to ask about, RFC 3339 [default: now].
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The special days of one year: holidays, early closes, late opens.
    Holidays {
        mic: String,
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Why one local date is a trading day or not: the rule, the observed-from date, the
    /// source and the resulting session.
    Explain {
        mic: String,
        /// Local date, YYYY-MM-DD.
        date: String,
        #[command(flatten)]
        output: super::FormatArgs,
    },
    /// Intervals in which all the given exchanges are closed (maintenance windows).
    Windows {
        /// Comma-separated MICs, e.g. XNYS,XLON,XTKS.
        #[arg(long, value_delimiter = ',', required = true)]
        exchanges: Vec<String>,
        /// Start, RFC 3339 or YYYY-MM-DD (midnight UTC).
        #[arg(long)]
        from: String,
        /// End (exclusive), RFC 3339 or YYYY-MM-DD (midnight UTC).
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// How a list of rows is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Table,
}

pub fn run(options: &GlobalOptions, command: CalendarCommand) -> anyhow::Result<()> {
    if let Some(remote) = super::remote::Remote::from_options(options)? {
        return run_remote(&remote, command);
    }
    // Arguments are checked before the plugins load, so a typo fails fast.
    match command {
        CalendarCommand::Sessions { mic, from, to, format } => {
            let (from, to) = (parse_date(&from, "--from")?, parse_date(&to, "--to")?);
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let calendar = Exchanges::from_registry(super::open_registry(options)?).calendar(&mic)?;
            sessions(&calendar, from, to, format)
        }
        CalendarCommand::Status { mics, at, format } => {
            let at = match at {
                Some(text) => parse_instant(&text, "--at")?,
                None => Utc::now(),
            };
            let exchanges = Exchanges::from_registry(super::open_registry(options)?);
            if mics.is_empty() {
                // Every exchange: one that cannot answer gets an error row and the others
                // still get theirs. MICs named on the command line fail as a whole, so a
                // typo is an error, not a row.
                let calendars = exchanges.mics().iter().map(|mic| (mic.clone(), exchanges.calendar(mic))).collect();
                return status(calendars, at, format, ErrorRows::Show);
            }
            let calendars = mics.iter().map(|mic| exchanges.calendar(mic)).collect::<anyhow::Result<Vec<_>>>()?;
            let calendars = calendars.into_iter().map(|calendar| (calendar.mic().to_string(), Ok(calendar))).collect();
            status(calendars, at, format, ErrorRows::Fail)
        }
        CalendarCommand::Holidays { mic, year, format } => {
            let calendar = Exchanges::from_registry(super::open_registry(options)?).calendar(&mic)?;
            holidays(&calendar, year, format)
        }
        CalendarCommand::Explain { mic, date, output } => {
            let json = output.json("calendar explain")?;
            let date = parse_date(&date, "the date")?;
            let calendar = Exchanges::from_registry(super::open_registry(options)?).calendar(&mic)?;
            explain(&calendar, date, json)
        }
        CalendarCommand::Windows { exchanges: mics, from, to, format } => {
            let (from, to) = (parse_instant(&from, "--from")?, parse_instant(&to, "--to")?);
            if from > to {
                bail!("--from {} is after --to {}", utc_text(from), utc_text(to));
            }
            let exchanges = Exchanges::from_registry(super::open_registry(options)?);
            let calendars = mics.iter().map(|mic| exchanges.calendar(mic)).collect::<anyhow::Result<Vec<_>>>()?;
            windows(&calendars, from, to, format)
        }
    }
}

fn sessions(calendar: &Calendar, from: NaiveDate, to: NaiveDate, format: Format) -> anyhow::Result<()> {
    let sessions = calendar.sessions(from, to)?;
    let mut table = Table::new(&["date", "open", "close", "break_start", "break_end"]);
    for session in &sessions {
        let row = session_row(session);
        table.push(vec![Some(row.date), Some(row.open), Some(row.close), row.break_start, row.break_end]);
    }
    table.print(format)
}

/// What `status` does with an exchange that cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorRows {
    /// A row with state `error` and the one-line reason.
    Show,
    /// The command fails with the reason.
    Fail,
}

/// One row per exchange (see `ErrorRows` for one that cannot answer).
fn status(
    calendars: Vec<(String, anyhow::Result<Arc<Calendar>>)>,
    at: DateTime<Utc>,
    format: Format,
    error_rows: ErrorRows,
) -> anyhow::Result<()> {
    let mut table = Table::new(&["mic", "local_time", "state", "until", "reason"]);
    for (mic, calendar) in calendars {
        let row = calendar.and_then(|calendar| Ok(status_row(&calendar, at)?));
        match row {
            Err(error) if error_rows == ErrorRows::Fail => return Err(error),
            Ok(row) => table.push(vec![
                Some(row.mic),
                Some(row.local_time),
                Some(row.state.to_string()),
                row.until,
                row.reason,
            ]),
            Err(error) => table.push(vec![
                Some(mic),
                None,
                Some("error".to_string()),
                None,
                Some(format!("{error:#}").replace('\n', " ")),
            ]),
        }
    }
    table.print(format)
}

fn holidays(calendar: &Calendar, year: i32, format: Format) -> anyhow::Result<()> {
    let special_days = calendar.special_days(year)?;
    let rows: Vec<HolidayRow> = special_days.iter().map(holiday_row).collect();
    print_holidays(&rows, format)
}

/// The commands a server can answer, printed as the local ones print.
fn run_remote(remote: &super::remote::Remote, command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Sessions { mic, from, to, format } => {
            let (from, to) = (parse_date(&from, "--from")?, parse_date(&to, "--to")?);
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            print_session_rows(&remote.sessions(&mic, from, to)?, format)
        }
        CalendarCommand::Status { mics, at, format } => {
            let at = at.map(|text| parse_instant(&text, "--at")).transpose()?;
            print_status_rows(&remote.status(&mics, at)?, format)
        }
        CalendarCommand::Holidays { mic, year, format } => print_holidays(&remote.holidays(&mic, year)?, format),
        CalendarCommand::Explain { .. } | CalendarCommand::Windows { .. } => {
            bail!("this calendar command runs locally only; drop --server (or TICKSTOCK_SERVER) to run it here")
        }
    }
}

/// `calendar sessions` rows from a server, printed as the local command prints them.
fn print_session_rows(rows: &[crate::api::calendar::SessionRow], format: Format) -> anyhow::Result<()> {
    let mut table = Table::new(&["date", "open", "close", "break_start", "break_end"]);
    for row in rows {
        let row = row.clone();
        table.push(vec![Some(row.date), Some(row.open), Some(row.close), row.break_start, row.break_end]);
    }
    table.print(format)
}

/// `calendar status` rows from a server, printed as the local command prints them.
fn print_status_rows(rows: &[crate::api::calendar::StatusRow], format: Format) -> anyhow::Result<()> {
    let mut table = Table::new(&["mic", "local_time", "state", "until", "reason"]);
    for row in rows {
        let row = row.clone();
        table.push(vec![Some(row.mic), Some(row.local_time), Some(row.state), row.until, row.reason]);
    }
    table.print(format)
}

/// `calendar holidays` rows, locally computed or from a server.
fn print_holidays(rows: &[HolidayRow], format: Format) -> anyhow::Result<()> {
    let mut table = Table::new(&["date", "name", "kind", "certainty", "rule", "source", "observed_from"]);
    for row in rows {
        table.push(vec![
            Some(row.date.clone()),
            Some(row.name.clone()),
            Some(row.kind.clone()),
            Some(row.certainty.clone()),
            Some(row.rule.clone()),
            Some(row.source.clone()),
            row.observed_from.clone(),
        ]);
    }
    table.print(format)
}

fn explain(calendar: &Calendar, date: NaiveDate, json: bool) -> anyhow::Result<()> {
    let explanation = calendar.explain(date)?;
    let timezone = calendar.spec().timezone;
    if json {
        println!("{}", serde_json::to_string_pretty(&explanation_json(calendar, date, &explanation))?);
        return Ok(());
    }

    let heading = format!("{} {} ({})", calendar.mic(), date, date.format("%A"));
    match &explanation {
        DayExplanation::BeforeFirstSession { first_session, .. } => {
            println!("{heading}: closed, before the exchange's first session on {first_session}");
        }
        DayExplanation::Weekend { .. } => println!("{heading}: closed, weekend"),
        DayExplanation::Regular { session, hours } => {
            println!("{heading}: regular session, {} {timezone}", hours_text(hours));
            println!("  session (UTC):  {}", session_text(session));
        }
        DayExplanation::Special { special, session, hours } => {
            let what = match special.kind {
                DayKind::Closed => "closed".to_string(),
                kind => format!("shortened session, {}", day_kind_text(kind)),
            };
            println!("{heading}: {what}: {}", special.name);
            println!("  rule:           {}", special.rule);
            if let Some(observed_from) = special.observed_from {
                println!("  observed from:  {observed_from} ({})", observed_from.format("%A"));
            }
            println!("  certainty:      {}", certainty_text(special));
            println!("  source:         {}", special.source);
            println!("  regular hours:  {} {timezone}", hours_text(hours));
            if let Some(session) = session {
                println!("  session (UTC):  {}", session_text(session));
            }
        }
    }
    Ok(())
}

fn windows(calendars: &[Arc<Calendar>], from: DateTime<Utc>, to: DateTime<Utc>, format: Format) -> anyhow::Result<()> {
    let references: Vec<&Calendar> = calendars.iter().map(|calendar| calendar.as_ref()).collect();
    let found = crate::calendar::windows(&references, from, to)?;
    let mut table = Table::new(&["start", "end", "duration"]);
    for window in &found {
        let minutes = window.duration().num_minutes();
        table.push(vec![
            Some(utc_text(window.start)),
            Some(utc_text(window.end)),
            Some(format!("{}h{:02}m", minutes / 60, minutes % 60)),
        ]);
    }
    table.print(format)
}

// ---- text ---------------------------------------------------------------------------------

fn session_text(session: &Session) -> String {
    let span = format!("{} - {}", utc_text(session.open), utc_text(session.close));
    match session.lunch_break {
        Some((start, end)) => format!("{span}, break {} - {}", utc_text(start), utc_text(end)),
        None => span,
    }
}

// ---- output -------------------------------------------------------------------------------

/// Rows of optional cells under named columns, printable as CSV (empty cell for None),
/// JSON (an array of objects, null for None) or an aligned table (`-` for None).
struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Option<String>>>,
}

impl Table {
    fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    fn push(&mut self, row: Vec<Option<String>>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
    }

    fn print(&self, format: Format) -> anyhow::Result<()> {
        let text = match format {
            Format::Csv => self.csv(),
            Format::Json => self.json()?,
            Format::Table => self.aligned(),
        };
        print!("{text}");
        Ok(())
    }

    fn csv(&self) -> String {
        let mut out = self.headers.join(",");
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell.as_deref().unwrap_or(""))).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    fn json(&self) -> anyhow::Result<String> {
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows
            .iter()
            .map(|row| {
                self.headers
                    .iter()
                    .zip(row)
                    .map(|(header, cell)| {
                        (header.to_string(), cell.clone().map_or(serde_json::Value::Null, Into::into))
                    })
                    .collect()
            })
            .collect();
        Ok(serde_json::to_string_pretty(&objects)? + "\n")
    }

    fn aligned(&self) -> String {
        let cell_text = |cell: &Option<String>| {
            cell.as_deref().map_or_else(|| "-".to_string(), |text| super::table::cell(text).into_owned())
        };
        let mut widths: Vec<usize> = self.headers.iter().map(|header| header.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell_text(cell).chars().count());
            }
        }
        let line = |cells: Vec<String>| {
            let padded: Vec<String> =
                cells.iter().zip(&widths).map(|(cell, &width)| format!("{cell:<width$}")).collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(self.headers.iter().map(|header| header.to_uppercase()).collect());
        for row in &self.rows {
            out.push_str(&line(row.iter().map(cell_text).collect()));
        }
        out
    }
}

/// RFC 4180 quoting, only where needed (a holiday name with a comma).
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}
