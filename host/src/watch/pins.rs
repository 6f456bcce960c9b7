//! The pin manifest of a plugin folder: `pins.txt` in `sha256sum` format, and the check
//! every file must pass against it when the folder has one. Pure text handling; the folder
//! reads the file.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The pin manifest's file name.
pub const PINS_FILE_NAME: &str = "pins.txt";

/// The manifest as read: file name -> sha256, or why it cannot be trusted.
pub(super) type Pins = Option<Result<HashMap<String, BTreeSet<String>>, String>>;

pub(super) fn read_pins(dir: &Path) -> Pins {
    let path = dir.join(PINS_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(parse_pins(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => Some(Err(format!("{}: {error}", path.display()))),
    }
}

/// `sha256sum` format: `<64 hex>  <name>` or `<64 hex> *<name>` (binary mode), `#` comments.
/// A name may be listed several times: each listed hash is approved (a roll-forward and
/// its rollback pinned together). A name must be a plain file name of the folder.
pub fn parse_pins(text: &str) -> Result<HashMap<String, BTreeSet<String>>, String> {
    let mut pins = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("{PINS_FILE_NAME} line {}: expected `<sha256>  <file name>`, got {line:?}", index + 1);
        let (sha256, name) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let name = name.trim_start();
        let name = name.strip_prefix('*').unwrap_or(name);
        if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) || name.is_empty() {
            return Err(bad());
        }
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(format!(
                "{PINS_FILE_NAME} line {}: {name:?} is not a file name of this folder (no paths)",
                index + 1
            ));
        }
        pins.entry(name.to_string()).or_insert_with(BTreeSet::new).insert(sha256.to_ascii_lowercase());
    }
    Ok(pins)
}

pub(super) fn check_pin(pins: &Pins, path: &Path, sha256: &str) -> Result<(), String> {
    let Some(pins) = pins else { return Ok(()) };
    let pins = pins.as_ref().map_err(|reason| format!("the pin manifest is unusable, so nothing loads: {reason}"))?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    match pins.get(&name) {
        None => Err(format!("{name} is not listed in {PINS_FILE_NAME}")),
        Some(pinned) if !pinned.contains(sha256) => {
            let listed: Vec<&str> = pinned.iter().map(|pin| pin.get(..12).unwrap_or(pin)).collect();
            Err(format!(
                "sha256 {sha256} does not match the pin of {name} in {PINS_FILE_NAME} ({} listed: {}...)",
                pinned.len(),
                listed.join("..., ")
            ))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_read_sha256sum_output_in_text_and_binary_mode() {
        let sha_a = "a".repeat(64);
        let sha_b = "B".repeat(64);
        let pins = parse_pins(&format!("# pinned\n{sha_a}  one.wasm\n\n{sha_b} *two.wasm\n")).unwrap();
        assert_eq!(pins.get("one.wasm"), Some(&BTreeSet::from([sha_a])));
        assert_eq!(pins.get("two.wasm"), Some(&BTreeSet::from(["b".repeat(64)])));
    }

    #[test]
    fn a_malformed_pin_line_makes_the_manifest_unusable() {
        let error = parse_pins("deadbeef  one.wasm\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn unpinned_and_mismatched_files_are_refused_when_a_manifest_exists() {
        let sha = "c".repeat(64);
        let pins: Pins = Some(Ok(HashMap::from([("one.wasm".to_string(), BTreeSet::from([sha.clone()]))])));
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &sha).is_ok());
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &"d".repeat(64)).unwrap_err().contains("does not match"));
        assert!(check_pin(&pins, Path::new("/p/two.wasm"), &sha).unwrap_err().contains("not listed"));
        assert!(check_pin(&None, Path::new("/p/two.wasm"), &sha).is_ok());
    }

    #[test]
    fn a_file_may_be_pinned_to_several_hashes_for_roll_forward_and_rollback() {
        let (old, new, other) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let parsed = parse_pins(&format!("{old}  nightly.wasm\n{new}  nightly.wasm\n")).unwrap();
        let pins: Pins = Some(Ok(parsed));
        assert!(check_pin(&pins, Path::new("/p/nightly.wasm"), &old).is_ok(), "the rollback hash is approved");
        assert!(check_pin(&pins, Path::new("/p/nightly.wasm"), &new).is_ok(), "the roll-forward hash is approved");
        assert!(check_pin(&pins, Path::new("/p/nightly.wasm"), &other).is_err());
    }

    #[test]
    fn a_pin_naming_a_path_is_refused_with_its_line() {
        let error = parse_pins(&format!("# ok\n{}  ../escape.wasm\n", "a".repeat(64))).unwrap_err();
        assert!(error.contains("line 2") && error.contains("no paths"), "{error}");
    }
}
