//! Keeping secrets and hostile text out of output.
//!
//! [`SecretUrl`] holds a store, queue or provider location that may carry a password or
//! an API key; its `Display` and `Debug` show the redacted form, and only
//! [`SecretUrl::expose`] gives the raw string, to the code that connects. So an error,
//! a log line, a banner or a report that formats one cannot leak the secret.
//! [`untrusted_text`] bounds and cleans text that came from outside (a vendor's error
//! body, an HTTP rejection) before it reaches a log or an error.

use std::fmt;

/// Query parameters whose value is hidden: a parameter whose lower-cased name contains
/// one of these (`apikey`, `api_key`, `access_token`, `sslpassword`, ...).
const SECRET_PARAMETER_PARTS: &[&str] =
    &["password", "passwd", "pwd", "secret", "token", "key", "auth", "credential", "signature"];

/// What a hidden value reads as.
const HIDDEN: &str = "***";

/// A location that may hold a secret: shown redacted, exposed only to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(raw: impl Into<String>) -> SecretUrl {
        SecretUrl(raw.into())
    }

    /// The raw string, password and keys included: for the code that connects, never for
    /// a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form as an owned string.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(SecretUrl::new(raw))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SecretUrl({:?})", redact_url(&self.0))
    }
}

/// `location` with the password of its user info and the values of secret-looking query
/// parameters replaced by `***`. Anything that is not a URL (a file path) is returned as it
/// is, apart from its query. Errs on the side of hiding: the user info ends at the last
/// `@`, so a password holding an unescaped `/` or `@` is still hidden whole.
pub fn redact_url(location: &str) -> String {
    let (scheme, rest) = match location.find("://") {
        Some(end) => location.split_at(end + 3),
        None => ("", location),
    };
    let (user_info, after_user_info) = match rest.rfind('@') {
        Some(at) if !scheme.is_empty() => (Some(&rest[..at]), &rest[at..]),
        _ => (None, rest),
    };
    let mut redacted = String::with_capacity(location.len());
    redacted.push_str(scheme);
    if let Some(user_info) = user_info {
        match user_info.split_once(':') {
            Some((user, _password)) => {
                redacted.push_str(user);
                redacted.push(':');
                redacted.push_str(HIDDEN);
            }
            None => redacted.push_str(user_info),
        }
    }
    match after_user_info.split_once('?') {
        None => redacted.push_str(after_user_info),
        Some((before_query, query)) => {
            redacted.push_str(before_query);
            redacted.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((query, fragment)) => (query, Some(fragment)),
                None => (query, None),
            };
            for (index, parameter) in query.split('&').enumerate() {
                if index > 0 {
                    redacted.push('&');
                }
                match parameter.split_once('=') {
                    Some((name, _value)) if is_secret_parameter(name) => {
                        redacted.push_str(name);
                        redacted.push('=');
                        redacted.push_str(HIDDEN);
                    }
                    _ => redacted.push_str(parameter),
                }
            }
            if fragment.is_some() {
                redacted.push_str("#***");
            }
        }
    }
    redacted
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETER_PARTS.iter().any(|part| name.contains(part))
}

/// At most `limit` characters of `text` from outside, on one line: control characters
/// (newlines, escapes that would repaint a terminal) become spaces, runs of whitespace
/// collapse, and a cut text ends with `...`.
pub fn untrusted_text(text: &str, limit: usize) -> String {
    let mut cleaned = String::with_capacity(text.len().min(limit + 3));
    let mut kept = 0;
    let mut last_was_space = true;
    for character in text.chars() {
        let character = if character.is_control() || character.is_whitespace() { ' ' } else { character };
        if character == ' ' && last_was_space {
            continue;
        }
        if kept == limit {
            cleaned.push_str("...");
            return cleaned;
        }
        last_was_space = character == ' ';
        cleaned.push(character);
        kept += 1;
    }
    cleaned.truncate(cleaned.trim_end().len());
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_keys_are_hidden_wherever_they_sit() {
        for (raw, shown) in [
            ("postgres://user:s3cret@host:5432/db", "postgres://user:***@host:5432/db"),
            ("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test"),
            ("redis://:s3cret@127.0.0.1:6379", "redis://:***@127.0.0.1:6379"),
            ("postgres://u:pa/ss@w@host/db", "postgres://u:***@host/db"),
            ("postgres://host/db?password=s3cret&sslmode=require", "postgres://host/db?password=***&sslmode=require"),
            (
                "https://api.example/v1?apikey=K&symbol=A&api_key=K&token=T",
                "https://api.example/v1?apikey=***&symbol=A&api_key=***&token=***",
            ),
            ("/tmp/tickstock.db", "/tmp/tickstock.db"),
            ("sqlite:/tmp/x.db?mode=rwc", "sqlite:/tmp/x.db?mode=rwc"),
            ("https://host/path?q=1#access_token=T", "https://host/path?q=1#***"),
        ] {
            assert_eq!(redact_url(raw), shown, "{raw}");
            assert_eq!(SecretUrl::new(raw).to_string(), shown);
            assert!(!format!("{:?}", SecretUrl::new(raw)).contains("s3cret"));
        }
    }

    #[test]
    fn untrusted_text_is_one_bounded_line() {
        assert_eq!(untrusted_text("bad\r\nrequest\x1b[2J  now", 100), "bad request [2J now");
        assert_eq!(untrusted_text(&"x".repeat(1000), 10), format!("{}...", "x".repeat(10)));
        assert_eq!(untrusted_text("  \n ", 10), "");
    }
}
