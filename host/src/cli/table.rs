//! Cells of the aligned tables the commands print. Plugin answers end up in them (names,
//! versions, descriptions), so a cell is cut to a fixed width with an ellipsis: a long
//! text neither stretches every row nor reaches `format!`'s width limit (a width above
//! `u16::MAX` panics), and JSON and CSV output keep the full text.

use std::borrow::Cow;

/// The widest cell, in characters, ellipsis included.
pub const CELL_CHARS: usize = 80;

/// `text` as a table cell: at most `CELL_CHARS` characters, the last one `…` when cut,
/// control characters shown as `?` so a row stays one line.
pub fn cell(text: &str) -> Cow<'_, str> {
    let fits = text.chars().take(CELL_CHARS + 1).count() <= CELL_CHARS;
    if fits && !text.contains(char::is_control) {
        return Cow::Borrowed(text);
    }
    let keep = if fits { CELL_CHARS } else { CELL_CHARS - 1 };
    let mut shown: String = text.chars().take(keep).map(|c| if c.is_control() { '?' } else { c }).collect();
    if !fits {
        shown.push('…');
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_an_ellipsis_and_short_ones_kept() {
        let long = "é".repeat(100_000);
        let shown = cell(&long);
        assert_eq!(shown.chars().count(), CELL_CHARS);
        assert!(shown.ends_with('…'));
        assert_eq!(cell("Good Friday"), "Good Friday");
        assert_eq!(cell(&"x".repeat(CELL_CHARS)), "x".repeat(CELL_CHARS));
        assert_eq!(cell("two\nlines"), "two?lines");
    }
}
