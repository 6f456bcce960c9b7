//! Text from outside in messages: how much of an untrusted string an error or a log line
//! may quote. Pure.

/// At most `limit` characters of `text` for an error message, with an ellipsis when cut,
/// debug-quoted, so a hostile input is never copied whole into an error or a log line.
pub fn quoted_prefix(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}
