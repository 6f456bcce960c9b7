//! The bounds on everything a plugin answers, one table per world, and the checks that
//! apply them. Every answer is measured here before the host converts it, copies it or
//! does work in proportion to it, so the host's cost of accepting the largest allowed
//! answer is fixed by these numbers, not by the plugin.
//!
//! The numbers are generous for real plugins (the largest built-in calendar answers
//! under a tenth of each) and small enough that the largest allowed answer is checked in
//! well under a millisecond. An answer over a limit is refused with one line that names
//! the field, the limit and the size found, and never quotes the value: a 100 MB name in
//! an error line, a log or a metric label is the harm these limits exist to prevent.
//! `tickstock plugins check` prints the table of the plugin's world.

use std::fmt::{Display, Write as _};

use super::kind::PluginKind;

/// A plugin's name (`describe`): also a path segment, a URL segment and a metric label.
pub const NAME_BYTES: usize = 64;
/// A plugin's version string (`describe`).
pub const VERSION_BYTES: usize = 64;
/// Human text: descriptions, exchange names, special-day names, rules, sources.
pub const TEXT_BYTES: usize = 4096;
/// An IANA timezone name (the longest real one is 32 bytes).
pub const TIMEZONE_BYTES: usize = 64;
/// A MIC is exactly this many upper-case ASCII letters or digits (ISO 10383).
pub const MIC_BYTES: usize = 4;
/// Distinct weekend days: a week has seven.
pub const WEEKEND_DAYS: usize = 7;
/// Entries of regular hours over a calendar's history.
pub const HOURS_ENTRIES: usize = 256;
/// Special days of one year: at most one per date.
pub const SPECIAL_DAYS_PER_YEAR: usize = 366;
/// `first-year..=last-year` may span at most this many years after the first.
pub const YEAR_SPAN: i32 = 200;
/// Years a calendar may declare at all (chrono's dates and the engine's tables hold them).
pub const YEAR_RANGE: std::ops::RangeInclusive<i32> = 1..=9999;
/// Profiles one refresh-profile plugin offers.
pub const PROFILES: usize = 256;
/// Explicit listings of one profile, and of all the profiles of one answer together.
pub const LISTINGS_PER_PROFILE: usize = 10_000;
pub const LISTINGS_PER_ANSWER: usize = 100_000;
/// A symbol of a listing, a universe name or a feature tag.
pub const SHORT_TEXT_BYTES: usize = 64;
/// Exchanges, and feature tags, of one profile.
pub const EXCHANGES_PER_PROFILE: usize = 64;
pub const FEATURE_TAGS_PER_PROFILE: usize = 64;
/// A plugin's own error message (a policy's refusal, a calendar's `other`) is cut to this
/// many characters before it is shown.
pub const MESSAGE_CHARS: usize = 200;

/// The limits of one world, as `plugins check` prints them.
pub fn summary(kind: PluginKind) -> String {
    let mut text = format!(
        "limits: name {NAME_BYTES} B, version {VERSION_BYTES} B, description {TEXT_BYTES} B (no control characters)"
    );
    let _ = match kind {
        PluginKind::Calendar => write!(
            text,
            "; MIC {MIC_BYTES} upper-case letters or digits, exchange name and special-day name/rule/source \
             {TEXT_BYTES} B, timezone {TIMEZONE_BYTES} B, weekend {WEEKEND_DAYS} distinct days, hours \
             {HOURS_ENTRIES} entries, special days {SPECIAL_DAYS_PER_YEAR} per year (one per date), years in \
             {}..={} spanning at most {YEAR_SPAN}",
            YEAR_RANGE.start(),
            YEAR_RANGE.end()
        ),
        PluginKind::BatchPolicy => write!(
            text,
            "; jobs at most one per gap of the request, gap indices in all jobs together at most the \
             request's gaps (each exactly once)"
        ),
        PluginKind::RefreshProfile => write!(
            text,
            "; {PROFILES} profiles, names {NAME_BYTES} B unique ignoring case and `-`/`_`, description \
             {TEXT_BYTES} B, {LISTINGS_PER_PROFILE} listings a profile and {LISTINGS_PER_ANSWER} in all, {EXCHANGES_PER_PROFILE} exchanges (MICs), \
             {FEATURE_TAGS_PER_PROFILE} feature tags, symbols/universe/tags {SHORT_TEXT_BYTES} B"
        ),
    };
    text
}

/// A refusal of one field, e.g. "special day 3 `name` is 104857600 bytes, over the
/// limit of 4096". `field` is built by the host, never from the answer.
pub fn too_long(field: impl Display, size: usize, limit: usize, unit: &str) -> String {
    format!("{field} is {size} {unit}, over the limit of {limit}")
}

/// Human text: at most `limit` bytes and no control characters (which would break the
/// one-line errors, logs and tables the text ends up in).
pub fn check_text(field: impl Display, text: &str, limit: usize) -> Result<(), String> {
    if text.len() > limit {
        return Err(too_long(field, text.len(), limit, "bytes"));
    }
    if let Some(position) = control_character(text) {
        return Err(format!("{field} holds a control character at byte {position}"));
    }
    Ok(())
}

/// The byte offset of the first control character (Unicode `Cc`: U+0000-U+001F, U+007F,
/// U+0080-U+009F), found on bytes rather than decoded chars: this runs over every text
/// of every answer, up to megabytes per call. In UTF-8 the C1 controls are 0xC2 followed
/// by 0x80..=0x9F, and 0xC2 is never a continuation byte, so no char is split.
fn control_character(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    // A branch-free pass the compiler vectorises answers the common case (no candidate
    // byte at all) at memory speed; only a text holding one is scanned byte by byte.
    if !bytes.iter().fold(false, |seen, &byte| seen | (byte < 0x20) | (byte == 0x7F) | (byte == 0xC2)) {
        return None;
    }
    bytes.iter().enumerate().position(|(index, &byte)| {
        byte < 0x20
            || byte == 0x7F
            || (byte == 0xC2 && bytes.get(index + 1).is_some_and(|next| (0x80..=0x9F).contains(next)))
    })
}

/// A plain identifier: 1..=`limit` bytes of ASCII letters, digits, `-`, `_` (and `.`
/// and `+` when `version_like`). Quoted in errors only once known to be short.
pub fn check_plain(field: impl Display, text: &str, limit: usize, version_like: bool) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if text.len() > limit {
        return Err(too_long(field, text.len(), limit, "bytes"));
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (version_like && (c == '.' || c == '+'));
    if !text.chars().all(allowed) {
        let extra = if version_like { ", `.`, `+`" } else { "" };
        return Err(format!("{field} {} may hold only ASCII letters, digits, `-`, `_`{extra}", excerpt(text)));
    }
    Ok(())
}

/// A MIC: exactly four upper-case ASCII letters or digits.
pub fn check_mic(field: impl Display, mic: &str) -> Result<(), String> {
    if mic.len() != MIC_BYTES || !mic.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return Err(format!(
            "{field} {} is not a MIC: {MIC_BYTES} upper-case ASCII letters or digits, e.g. XNYS",
            excerpt(mic)
        ));
    }
    Ok(())
}

/// A list length before the list is walked.
pub fn check_count(field: impl Display, count: usize, limit: usize) -> Result<(), String> {
    if count > limit {
        return Err(too_long(field, count, limit, "entries"));
    }
    Ok(())
}

/// At most `MESSAGE_CHARS` characters of `text`, quoted, with control characters escaped
/// and an ellipsis and the full size when cut: safe to put in any one-line message.
pub fn excerpt(text: &str) -> String {
    let mut shown = String::with_capacity(MESSAGE_CHARS.min(text.len()) + 2);
    for (chars, c) in text.chars().enumerate() {
        if chars == MESSAGE_CHARS {
            return format!("\"{shown}…\" ({} bytes)", text.len());
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    format!("\"{shown}\"")
}

/// The key under which profiles, and their datasets, must be unique: ASCII case folded
/// and `-` read as `_`, because the PostgreSQL schema `dev_<name>` folds both.
pub fn dataset_key(profile_name: &str) -> String {
    profile_name.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_short_one_line_and_says_the_size() {
        let long = "a".repeat(1_000_000);
        let shown = excerpt(&long);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.ends_with("…\" (1000000 bytes)"), "{shown}");
        assert_eq!(excerpt("two\nlines"), "\"two\\nlines\"");
        assert_eq!(excerpt("short"), "\"short\"");
    }

    #[test]
    fn text_over_the_limit_is_refused_by_size_without_quoting_it() {
        let error = check_text("`description`", &"x".repeat(5000), TEXT_BYTES).unwrap_err();
        assert_eq!(error, "`description` is 5000 bytes, over the limit of 4096");
        let error = check_text("`name`", "bell\u{7}", TEXT_BYTES).unwrap_err();
        assert_eq!(error, "`name` holds a control character at byte 4");
        let error = check_text("`name`", "é\u{85}", TEXT_BYTES).unwrap_err();
        assert_eq!(error, "`name` holds a control character at byte 2");
        assert!(check_text("`name`", "Tōkyō ÀÂ ¡", TEXT_BYTES).is_ok());
        assert!(check_text("`name`", "Good Friday", TEXT_BYTES).is_ok());
    }

    #[test]
    fn a_mic_is_four_upper_case_letters_or_digits() {
        for good in ["XNYS", "XTKS", "ZZ01"] {
            assert!(check_mic("`mic`", good).is_ok(), "{good}");
        }
        for bad in ["xnys", "XNY", "XNYSE", "XN-S", "", "ZZHOSTILE"] {
            assert!(check_mic("`mic`", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dataset_keys_fold_case_and_dashes() {
        assert_eq!(dataset_key("ui-Testing"), dataset_key("UI_testing"));
        assert_ne!(dataset_key("patterns"), dataset_key("pattern"));
    }
}
