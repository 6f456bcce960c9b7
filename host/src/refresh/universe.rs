//! Universes: named, ordered lists of listings a refresh profile draws its symbols from
//! (`us-large-cap`, `us-etfs`). They ship as plain text files in `host/universes/`, one
//! `SYMBOL,MIC` per line with `#` comments, embedded with `include_str!` so the binary
//! works from any folder; a universe folder (`--universes`) adds more or replaces one.
//!
//! Data files rather than a plugin call: a universe is a list people edit and review in a
//! diff, and a profile plugin only names it, so the same list serves every profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::Listing;

/// The universes built into the binary: (name, file contents).
const BUILTIN: &[(&str, &str)] = &[
    ("us-large-cap", include_str!("../../universes/us-large-cap.txt")),
    ("us-etfs", include_str!("../../universes/us-etfs.txt")),
];

#[derive(Debug, thiserror::Error)]
pub enum UniverseError {
    #[error("{origin}, line {line}: expected `SYMBOL,MIC` (e.g. `AAPL,XNAS`), got {text:?}")]
    BadLine { origin: String, line: usize, text: String },
    #[error("{origin} lists no symbols")]
    Empty { origin: String },
    #[error("{origin} lists {symbol} twice")]
    Duplicate { origin: String, symbol: String },
    #[error("cannot read the universe folder {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Every universe known to this process, by name.
#[derive(Debug, Clone)]
pub struct Universes {
    by_name: BTreeMap<String, Universe>,
}

/// One universe: its listings in file order, and where it came from.
#[derive(Debug, Clone)]
pub struct Universe {
    pub listings: Vec<Listing>,
    /// `built-in` or the file's path, for messages.
    pub origin: String,
}

impl Universes {
    /// The built-in universes only.
    pub fn builtin() -> Universes {
        let by_name = BUILTIN
            .iter()
            .map(|(name, text)| {
                let origin = format!("built-in universe {name}");
                let listings =
                    parse(text, &origin).unwrap_or_else(|error| panic!("a built-in universe is malformed: {error}"));
                (name.to_string(), Universe { listings, origin })
            })
            .collect();
        Universes { by_name }
    }

    /// The built-ins, then every `<name>.txt` of `folder` on top (a file replaces the
    /// built-in of the same name).
    pub fn with_folder(folder: &Path) -> Result<Universes, UniverseError> {
        let mut universes = Universes::builtin();
        let io_error = |source| UniverseError::Io { path: folder.to_path_buf(), source };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
            .map_err(io_error)?
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
            .collect();
        paths.sort();
        for path in paths {
            let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else { continue };
            let text =
                std::fs::read_to_string(&path).map_err(|source| UniverseError::Io { path: path.clone(), source })?;
            let origin = path.display().to_string();
            let listings = parse(&text, &origin)?;
            universes.by_name.insert(name.to_string(), Universe { listings, origin });
        }
        Ok(universes)
    }

    pub fn get(&self, name: &str) -> Option<&Universe> {
        self.by_name.get(name)
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

/// Parses a universe file: `SYMBOL,MIC` per line, blank lines and `#` comments ignored,
/// symbols and MICs upper-cased, no symbol twice on one exchange.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Listing>, UniverseError> {
    let mut listings: Vec<Listing> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad_line =
            || UniverseError::BadLine { origin: origin.to_string(), line: index + 1, text: raw_line.to_string() };
        let (symbol, exchange) = line.split_once(',').ok_or_else(bad_line)?;
        let (symbol, exchange) = (symbol.trim().to_ascii_uppercase(), exchange.trim().to_ascii_uppercase());
        let symbol_ok = !symbol.is_empty() && symbol.chars().all(|c| c.is_ascii_alphanumeric() || ".-_^".contains(c));
        let exchange_ok = exchange.len() == 4 && exchange.chars().all(|c| c.is_ascii_alphanumeric());
        if !symbol_ok || !exchange_ok {
            return Err(bad_line());
        }
        let listing = Listing { symbol, exchange };
        if listings.contains(&listing) {
            return Err(UniverseError::Duplicate { origin: origin.to_string(), symbol: listing.symbol });
        }
        listings.push(listing);
    }
    if listings.is_empty() {
        return Err(UniverseError::Empty { origin: origin.to_string() });
    }
    Ok(listings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_universes_parse_and_are_large_enough_for_the_dev_profiles() {
        let universes = Universes::builtin();
        let large_cap = &universes.get("us-large-cap").unwrap().listings;
        assert!(large_cap.len() >= 100, "backtesting takes 100 of us-large-cap");
        assert!(large_cap.iter().all(|listing| listing.exchange == "XNYS" || listing.exchange == "XNAS"));
        let etfs = &universes.get("us-etfs").unwrap().listings;
        assert!(etfs.len() >= 40, "etf_analysis takes 40 of us-etfs");
        assert_eq!(etfs[0], Listing { symbol: "SPY".into(), exchange: "XNYS".into() });
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_bad_lines_name_their_line() {
        let listings = parse("# header\n\naapl, xnas  # Apple\nBRK.B,XNYS\n", "test").unwrap();
        assert_eq!(listings.len(), 2);
        assert_eq!(listings[0], Listing { symbol: "AAPL".into(), exchange: "XNAS".into() });
        let error = parse("AAPL,XNAS\nMSFT\n", "test").unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(parse("AAPL,XNAS\nAAPL,XNAS\n", "test").is_err());
        assert!(parse("# nothing\n", "test").is_err());
    }
}
