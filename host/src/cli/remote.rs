//! `--server URL`: the client the commands that can ask a running `tickstock serve` use
//! instead of this process (`plugins list`, `plugins reload`, `calendar
//! status|sessions|holidays`); each command prints the answers as it prints its own.
//!
//! The server is another process and its answers cross a boundary like any other input:
//! the URL must be `http(s)://host[:port]` without credentials, answers are read up to
//! [`MAX_ANSWER_BYTES`], requests time out, and an error quotes at most a short prefix of
//! what the server said. The token comes from `TICKSTOCK_TOKEN`, never from a flag, so it
//! stays out of shell history and process listings.

use std::time::Duration;

use anyhow::{Context as _, bail};

use chrono::{DateTime, NaiveDate, Utc};

use super::GlobalOptions;
use crate::api::calendar::{HolidayRow, SessionRow, StatusRow, utc_text};
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

impl Remote {
    /// `GET /calendars/{mic}/sessions`.
    pub fn sessions(&self, mic: &str, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<SessionRow>> {
        let path = format!("calendars/{}/sessions", path_segment(mic)?);
        let answer: SessionsAnswer = self.get(&path, &[("from", from.to_string()), ("to", to.to_string())])?;
        Ok(answer.sessions)
    }

    /// `GET /calendars/{mic}/status` for each MIC, or for every calendar the server has.
    pub fn status(&self, mics: &[String], at: Option<DateTime<Utc>>) -> anyhow::Result<Vec<StatusRow>> {
        let mics: Vec<String> = if mics.is_empty() {
            let answer: Vec<CalendarEntry> = self.get("calendars", &[])?;
            answer.into_iter().map(|entry| entry.mic).collect()
        } else {
            mics.to_vec()
        };
        let query: Vec<(&str, String)> = at.map(|at| ("at", utc_text(at))).into_iter().collect();
        mics.iter().map(|mic| self.get(&format!("calendars/{}/status", path_segment(mic)?), &query)).collect()
    }

    /// `GET /calendars/{mic}/holidays?year=`.
    pub fn holidays(&self, mic: &str, year: i32) -> anyhow::Result<Vec<HolidayRow>> {
        let path = format!("calendars/{}/holidays", path_segment(mic)?);
        let answer: HolidaysAnswer = self.get(&path, &[("year", year.to_string())])?;
        Ok(answer.holidays)
    }

    /// `GET /plugins`: the live plugins and the failed loads, as the server serialises them.
    pub fn plugins(&self) -> anyhow::Result<(Vec<serde_json::Value>, Vec<serde_json::Value>)> {
        let answer: serde_json::Value = self.get("plugins", &[])?;
        let list = |key: &str| answer.get(key).and_then(|value| value.as_array()).cloned().unwrap_or_default();
        Ok((list("plugins"), list("failures")))
    }

    /// `POST /plugins/reload`: what happened to each file of the server's folder.
    pub fn reload(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let answer: serde_json::Value = self.post("plugins/reload")?;
        Ok(answer.get("outcomes").and_then(|value| value.as_array()).cloned().unwrap_or_default())
    }
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
