//! `--server URL`: the commands that can ask a running `tickstock serve` instead of this
//! process (`plugins list`, `plugins reload`, `calendar status|sessions|holidays`), and
//! print its answers in the same formats as the local commands.
//!
//! The server is another process and its answers cross a boundary like any other input:
//! the URL must be `http(s)://host[:port]` without credentials, answers are read up to
//! [`MAX_ANSWER_BYTES`], requests time out, and an error quotes at most a short prefix of
//! what the server said. The token comes from `TICKSTOCK_TOKEN`, never from a flag, so it
//! stays out of shell history and process listings.

use std::time::Duration;

use anyhow::{Context as _, bail};

use super::calendar::{CalendarCommand, Format};
use super::{GlobalOptions, calendar};
use crate::api::calendar::{HolidayRow, SessionRow, StatusRow, parse_date, parse_instant};
use crate::api::quoted_prefix;

/// Largest answer read from a server; more is an error, not an allocation.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Environment variable holding the server's bearer token.
pub const TOKEN_ENVIRONMENT_VARIABLE: &str = "TICKSTOCK_TOKEN";

/// A running server the command talks to.
pub struct Remote {
    base: reqwest::Url,
    token: Option<String>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// The server `--server` (or `TICKSTOCK_SERVER`) names, if any.
    pub fn from_options(options: &GlobalOptions) -> anyhow::Result<Option<Remote>> {
        let Some(text) = options.server.as_deref().map(str::trim).filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        let base = reqwest::Url::parse(text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
            .with_context(|| format!("--server {} is not an http(s)://host:port URL", quoted_prefix(text, 80)))?;
        if !base.username().is_empty() || base.password().is_some() {
            bail!("--server must not carry credentials; put the token in {TOKEN_ENVIRONMENT_VARIABLE}");
        }
        let token = std::env::var(TOKEN_ENVIRONMENT_VARIABLE).ok().filter(|token| !token.trim().is_empty());
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
        Ok(Some(Remote { base, token, client, runtime }))
    }

    /// The server's URL for display: scheme, host and port only.
    pub fn origin(&self) -> String {
        self.base.origin().ascii_serialization()
    }

    /// GET `path` (with `query`) and decode the JSON answer.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<T> {
        self.send(reqwest::Method::GET, path, query)
    }

    /// POST `path` with an empty body (the mutating routes), with the token if one is set.
    pub fn post<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(reqwest::Method::POST, path, &[])
    }

    fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let mut url = self.base.join(path).with_context(|| format!("{path} is not a path"))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        }
        let origin = self.origin();
        let (status, body) = self.runtime.block_on(async {
            let mut request = self.client.request(method.clone(), url);
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let mut response = request.send().await.with_context(|| format!("asking the server {origin}"))?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.with_context(|| format!("reading {origin}'s answer"))? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    bail!("the server {origin} answered more than {} MiB", MAX_ANSWER_BYTES / 1024 / 1024);
                }
                body.extend_from_slice(&chunk);
            }
            anyhow::Ok((status, body))
        })?;
        if !status.is_success() {
            let said = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|value| value.get("error").and_then(|error| error.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let said: String = said.chars().filter(|c| !c.is_control()).collect();
            bail!("the server {origin} answered {method} {path} with {status}: {}", quoted_prefix(&said, 300));
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("the server {origin} answered {path} with unexpected JSON"))
    }
}

#[derive(serde::Deserialize)]
struct SessionsAnswer {
    sessions: Vec<SessionRow>,
}

#[derive(serde::Deserialize)]
struct HolidaysAnswer {
    holidays: Vec<HolidayRow>,
}

#[derive(serde::Deserialize)]
struct CalendarEntry {
    mic: String,
}

/// `calendar ...` against a server; the commands it cannot answer say so.
pub fn calendar(remote: &Remote, command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Sessions { mic, from, to, format } => {
            let (from, to) = (parse_date(&from, "--from")?, parse_date(&to, "--to")?);
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let path = format!("calendars/{}/sessions", path_segment(&mic)?);
            let answer: SessionsAnswer = remote.get(&path, &[("from", from.to_string()), ("to", to.to_string())])?;
            calendar::print_session_rows(&answer.sessions, format)
        }
        CalendarCommand::Status { mics, at, format } => {
            let at = match at {
                Some(text) => Some(parse_instant(&text, "--at")?),
                None => None,
            };
            let mics = if mics.is_empty() {
                let answer: Vec<CalendarEntry> = remote.get("calendars", &[])?;
                answer.into_iter().map(|entry| entry.mic).collect()
            } else {
                mics
            };
            let query: Vec<(&str, String)> =
                at.map(|at| ("at", crate::api::calendar::utc_text(at))).into_iter().collect();
            let mut rows = Vec::new();
            for mic in &mics {
                rows.push(remote.get::<StatusRow>(&format!("calendars/{}/status", path_segment(mic)?), &query)?);
            }
            calendar::print_status_rows(&rows, format)
        }
        CalendarCommand::Holidays { mic, year, format } => {
            let path = format!("calendars/{}/holidays", path_segment(&mic)?);
            let answer: HolidaysAnswer = remote.get(&path, &[("year", year.to_string())])?;
            calendar::print_holidays(&answer.holidays, format)
        }
        CalendarCommand::Explain { .. } | CalendarCommand::Windows { .. } => {
            bail!("this calendar command runs locally only; drop --server (or TICKSTOCK_SERVER) to run it here")
        }
    }
}

/// `plugins list` against a server, printed as the local command prints it.
pub fn plugins_list(remote: &Remote, format: Format) -> anyhow::Result<()> {
    let answer: serde_json::Value = remote.get("plugins", &[])?;
    let entries = answer.get("plugins").and_then(|plugins| plugins.as_array()).cloned().unwrap_or_default();
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let text = |entry: &serde_json::Value, key: &str| -> String {
        match entry.get(key) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    };
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|entry| {
            let sha256 = text(entry, "sha256");
            [
                text(entry, "kind"),
                text(entry, "name"),
                text(entry, "version"),
                sha256.chars().take(12).collect(),
                text(entry, "source"),
                text(entry, "generation"),
            ]
        })
        .collect();
    super::plugins::print_table(&["KIND", "NAME", "VERSION", "SHA256", "SOURCE", "GENERATION"], &rows);
    for failure in answer.get("failures").and_then(|failures| failures.as_array()).into_iter().flatten() {
        println!("not loaded: {}: {}", text(failure, "origin"), text(failure, "message"));
    }
    Ok(())
}

/// `plugins reload`: the server rescans its folder; one line per file.
pub fn plugins_reload(remote: &Remote) -> anyhow::Result<()> {
    let answer: serde_json::Value = remote.post("plugins/reload")?;
    for outcome in answer.get("outcomes").and_then(|outcomes| outcomes.as_array()).into_iter().flatten() {
        let field = |key: &str| outcome.get(key).and_then(|value| value.as_str()).unwrap_or_default().to_string();
        println!("{}: {} {}", field("outcome"), field("file"), field("message"));
    }
    Ok(())
}

/// An exchange code for a URL path: letters and digits only, so nothing in it can change
/// the path; the server says whether it knows the exchange.
fn path_segment(mic: &str) -> anyhow::Result<String> {
    let code = mic.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 16 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("exchange {} is not an exchange code (letters and digits, e.g. XNYS)", quoted_prefix(mic, 16));
    }
    Ok(code)
}
