//! The `csv:<dir>` provider: one file per symbol, `<dir>/<SYMBOL>.csv`.
//!
//! Layout: a header row, then one bar per row. Columns are found by name, ignoring case
//! and order; others (such as `Adj Close`) are ignored:
//! - daily files: `Date,Open,High,Low,Close,Volume` with dates as `YYYY-MM-DD` (the
//!   session date);
//! - minute files: `timestamp` instead of `Date`, as RFC 3339 (`2024-01-02T14:30:00Z`),
//!   `YYYY-MM-DD HH:MM[:SS]` taken as UTC, or integer Unix seconds.
//!
//! The whole file is parsed and checked before any bar is returned: a row that does not
//! parse, breaks `low <= open, close <= high`, or repeats a date fails the symbol's job
//! with the file name and line number, and nothing from the file is written. Rows outside
//! the requested sessions (other dates, holidays, pre-market minutes) are skipped.
//!
//! Bars are stamped with the earlier of the request's `observed_at` and the file's
//! modification time: a file written during a session holds a partial bar for that day,
//! which must stay stale however late it is loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{FetchFuture, FetchRequest, PermanentError, Provider, ProviderError, TransientError, session_index_of};
use crate::store::{Bar, Timeframe};

/// Reads bars from CSV files in one directory; see the module documentation.
#[derive(Debug, Clone)]
pub struct CsvProvider {
    directory: PathBuf,
}

impl CsvProvider {
    pub fn new(directory: impl Into<PathBuf>) -> CsvProvider {
        CsvProvider { directory: directory.into() }
    }

    /// The file holding `symbol`'s bars.
    pub fn file_for(&self, symbol: &str) -> PathBuf {
        self.directory.join(format!("{symbol}.csv"))
    }
}

impl Provider for CsvProvider {
    fn name(&self) -> String {
        format!("csv:{}", self.directory.display())
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            if request.symbol.contains(['/', '\\']) || request.symbol.starts_with('.') {
                return Err(PermanentError::Unsupported {
                    provider: self.name(),
                    what: format!("symbol {:?}, which cannot name a file", request.symbol),
                }
                .into());
            }
            let file = self.file_for(request.symbol);
            let symbol = request.symbol.to_string();
            // Parsing a large file is blocking work; keep it off the async workers.
            let parsed =
                tokio::task::spawn_blocking(move || read_file(&symbol, &file)).await.map_err(|join_error| {
                    ProviderError::Permanent(PermanentError::CsvLayout {
                        file: self.file_for(request.symbol),
                        detail: format!("the parser panicked: {join_error}"),
                    })
                })??;
            if parsed.timeframe != request.timeframe {
                return Err(PermanentError::CsvLayout {
                    file: self.file_for(request.symbol),
                    detail: format!(
                        "holds {} bars (a `{}` column) but {} bars were requested",
                        parsed.timeframe,
                        if parsed.timeframe == Timeframe::Daily { "Date" } else { "timestamp" },
                        request.timeframe
                    ),
                }
                .into());
            }
            let written_at = parsed.modified.map_or(request.observed_at, |modified| modified.min(request.observed_at));
            Ok(parsed
                .rows
                .into_iter()
                .filter(|row| session_index_of(request.timeframe, request.sessions, row.start).is_some())
                .map(|row| Bar {
                    symbol: request.symbol.to_string(),
                    exchange: request.exchange.to_string(),
                    timeframe: request.timeframe,
                    start: row.start,
                    open: row.open,
                    high: row.high,
                    low: row.low,
                    close: row.close,
                    volume: row.volume,
                    written_at,
                })
                .collect())
        })
    }
}

struct ParsedFile {
    timeframe: Timeframe,
    rows: Vec<Row>,
    modified: Option<DateTime<Utc>>,
}

struct Row {
    start: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: i64,
}

/// Column positions, found by header name.
struct Columns {
    time: usize,
    timeframe: Timeframe,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: usize,
}

fn read_file(symbol: &str, file: &Path) -> Result<ParsedFile, ProviderError> {
    let metadata = match std::fs::metadata(file) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(PermanentError::MissingCsvFile { symbol: symbol.to_string(), file: file.to_path_buf() }.into());
        }
        Err(error) => return Err(TransientError::Io { file: file.to_path_buf(), detail: error.to_string() }.into()),
    };
    let modified = metadata.modified().ok().map(DateTime::<Utc>::from);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(::csv::Trim::All)
        .from_path(file)
        .map_err(|error| TransientError::Io { file: file.to_path_buf(), detail: error.to_string() })?;
    let malformed = |line: u64, detail: String| {
        ProviderError::Permanent(PermanentError::MalformedCsv { file: file.to_path_buf(), line, detail })
    };
    let headers = reader.headers().map_err(|error| malformed(1, format!("unreadable header: {error}")))?.clone();
    let columns = find_columns(&headers).map_err(|detail| malformed(1, detail))?;

    let mut rows = Vec::new();
    let mut line_of_start: HashMap<DateTime<Utc>, u64> = HashMap::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            // The csv crate reports the line of the offending record itself.
            Err(error) => {
                let line = error.position().map_or(line, |position| position.line());
                return Err(malformed(line, error.to_string()));
            }
        }
        let line = record.position().map_or(line, |position| position.line());
        let row = parse_row(&record, &columns).map_err(|detail| malformed(line, detail))?;
        if let Some(first_line) = line_of_start.insert(row.start, line) {
            return Err(malformed(line, format!("{} repeats the bar on line {first_line}", row.start)));
        }
        rows.push(row);
    }
    Ok(ParsedFile { timeframe: columns.timeframe, rows, modified })
}

fn find_columns(headers: &::csv::StringRecord) -> Result<Columns, String> {
    let position = |name: &str| headers.iter().position(|header| header.eq_ignore_ascii_case(name));
    let (time, timeframe) = match (position("date"), position("timestamp")) {
        (Some(_), Some(_)) => return Err("has both `Date` and `timestamp` columns; keep one".into()),
        (Some(column), None) => (column, Timeframe::Daily),
        (None, Some(column)) => (column, Timeframe::Minute),
        (None, None) => return Err("needs a `Date` (daily) or `timestamp` (minute) column".into()),
    };
    let required = |name: &str| position(name).ok_or_else(|| format!("missing the `{name}` column"));
    Ok(Columns {
        time,
        timeframe,
        open: required("open")?,
        high: required("high")?,
        low: required("low")?,
        close: required("close")?,
        volume: required("volume")?,
    })
}

fn parse_row(record: &::csv::StringRecord, columns: &Columns) -> Result<Row, String> {
    let field = |index: usize, name: &str| record.get(index).ok_or_else(|| format!("missing the {name} field"));
    let price = |index: usize, name: &str| -> Result<f64, String> {
        let text = field(index, name)?;
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
            _ => Err(format!("{name} {text:?} is not a positive number")),
        }
    };
    let time_text = field(columns.time, "time")?;
    let start = match columns.timeframe {
        Timeframe::Daily => NaiveDate::parse_from_str(time_text, "%Y-%m-%d")
            .map(Timeframe::daily_bar_start)
            .map_err(|_| format!("date {time_text:?} is not YYYY-MM-DD"))?,
        Timeframe::Minute => parse_timestamp(time_text)?,
    };
    let volume_text = field(columns.volume, "volume")?;
    let volume = volume_text
        .parse::<i64>()
        .ok()
        .or_else(|| {
            volume_text
                .parse::<f64>()
                .ok()
                .filter(|value| value.fract() == 0.0 && *value >= 0.0 && *value < 9.0e18)
                .map(|value| value as i64)
        })
        .filter(|value| *value >= 0)
        .ok_or_else(|| format!("volume {volume_text:?} is not a whole number >= 0"))?;
    let row = Row {
        start,
        open: price(columns.open, "open")?,
        high: price(columns.high, "high")?,
        low: price(columns.low, "low")?,
        close: price(columns.close, "close")?,
        volume,
    };
    if !(row.low <= row.open && row.low <= row.close && row.open <= row.high && row.close <= row.high) {
        return Err(format!(
            "needs low <= open, close <= high; got open {} high {} low {} close {}",
            row.open, row.high, row.low, row.close
        ));
    }
    Ok(row)
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|naive| naive.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").ok().map(|naive| naive.and_utc()))
        .or_else(|| text.parse::<i64>().ok().and_then(|seconds| DateTime::from_timestamp(seconds, 0)));
    let instant = parsed
        .ok_or_else(|| format!("timestamp {text:?} is not RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC) or Unix seconds"))?;
    if instant.timestamp() % 60 != 0 || instant.timestamp_subsec_nanos() != 0 {
        return Err(format!("timestamp {text:?} is not on a whole minute"));
    }
    Ok(instant)
}
