//! The pin manifest of a plugin folder: `pins.txt` in `sha256sum` format, and the check
//! every file must pass against it when the folder has one. Pure text handling; the folder
//! reads the file.

use std::collections::HashMap;
use std::path::Path;

/// The pin manifest's file name.
pub const PINS_FILE_NAME: &str = "pins.txt";

/// The manifest as read: file name -> sha256, or why it cannot be trusted.
pub(super) type Pins = Option<Result<HashMap<String, String>, String>>;

pub(super) fn read_pins(dir: &Path) -> Pins {
    let path = dir.join(PINS_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(parse_pins(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => Some(Err(format!("{}: {error}", path.display()))),
    }
}

/// `sha256sum` format: `<64 hex>  <name>` or `<64 hex> *<name>` (binary mode), `#` comments.
pub fn parse_pins(text: &str) -> Result<HashMap<String, String>, String> {
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
        pins.insert(name.to_string(), sha256.to_ascii_lowercase());
    }
    Ok(pins)
}

pub(super) fn check_pin(pins: &Pins, path: &Path, sha256: &str) -> Result<(), String> {
    let Some(pins) = pins else { return Ok(()) };
    let pins = pins.as_ref().map_err(|reason| format!("the pin manifest is unusable, so nothing loads: {reason}"))?;
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    match pins.get(&name) {
        None => Err(format!("{name} is not listed in {PINS_FILE_NAME}")),
        Some(pinned) if pinned != sha256 => {
            Err(format!("sha256 {sha256} does not match the pin {pinned} in {PINS_FILE_NAME}"))
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
        assert_eq!(pins.get("one.wasm"), Some(&sha_a));
        assert_eq!(pins.get("two.wasm"), Some(&"b".repeat(64)));
    }

    #[test]
    fn a_malformed_pin_line_makes_the_manifest_unusable() {
        let error = parse_pins("deadbeef  one.wasm\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn unpinned_and_mismatched_files_are_refused_when_a_manifest_exists() {
        let sha = "c".repeat(64);
        let pins: Pins = Some(Ok(HashMap::from([("one.wasm".to_string(), sha.clone())])));
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &sha).is_ok());
        assert!(check_pin(&pins, Path::new("/p/one.wasm"), &"d".repeat(64)).unwrap_err().contains("does not match"));
        assert!(check_pin(&pins, Path::new("/p/two.wasm"), &sha).unwrap_err().contains("not listed"));
        assert!(check_pin(&None, Path::new("/p/two.wasm"), &sha).is_ok());
    }
}
