//! `tickstock.toml`: an optional file of command-line options. Its top-level keys are the
//! global options (`plugins = "plugins"`, `log-format = "json"`), its sections the
//! subcommands (`[serve]`, `[worker]`, `[load]`, `[plan]`, `[refresh]`), and every key is
//! the long name of a flag of that place. Flags beat environment variables, which beat the
//! file, which beats the built-in defaults.
//!
//! The file is applied before clap parses, by adding `--key value` to the command line for
//! every key whose flag the command line lacks and whose environment variable is unset.
//! The rejected alternative, a serde struct mirroring the flags, would be a second list of
//! every option to keep in step with the clap definitions; here the clap definitions are
//! the only list (read through `Cli::command()`), so a new flag is a new key for free and an
//! unknown key is refused.
//!
//! A value may be a secret (a database URL with a password, a token): no error here quotes
//! a value, only the file, the section, the key and the line.
//!
//! Depends on `cli` (the `Cli` definition), `text` and the `toml` crate; never on `server`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Arg, ArgAction, CommandFactory as _};
use toml::de::{DeTable, DeValue};

use super::Cli;

/// The file read when neither `--config` nor `TICKSTOCK_CONFIG` names one, if it exists.
pub const DEFAULT_FILE: &str = "tickstock.toml";

/// Environment variable naming the file (same as `--config`).
pub const ENV: &str = "TICKSTOCK_CONFIG";

/// Largest file read: a config file is a few dozen lines.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Environment variables that set an option without clap knowing (`cli::logging` reads
/// them itself), so that a value in the file does not override them either.
const EXTRA_ENV: &[(&str, &[&str])] = &[("log-level", &["RUST_LOG", "TICKSTOCK_LOG"])];

/// Subcommands that may have a section: those with options of their own and no
/// subcommands under them.
const SECTIONS: &[&str] = &["serve", "worker", "load", "plan", "refresh"];

/// `argv` with the config file's options added where neither a flag nor an environment
/// variable gives them; `argv` unchanged when there is no file.
pub fn apply(argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let Some((path, explicit)) = locate(&argv) else {
        return Ok(argv);
    };
    let text = match read_file(&path) {
        Ok(text) => text,
        Err(error) if !explicit && error.kind() == std::io::ErrorKind::NotFound => return Ok(argv),
        Err(error) => {
            return Err(error).with_context(|| format!("reading the config file {}", path.display()));
        }
    };
    apply_text(argv, &text, &path.display().to_string())
}

/// The config file to read and whether it was named (`--config`, `TICKSTOCK_CONFIG`) rather
/// than the implicit `./tickstock.toml`.
fn locate(argv: &[OsString]) -> Option<(PathBuf, bool)> {
    let mut tokens = argv.iter().skip(1);
    while let Some(token) = tokens.next() {
        if token == "--" {
            break;
        }
        if token == "--config" {
            // A missing value is clap's error to report.
            return tokens.next().map(|value| (PathBuf::from(value), true));
        }
        if let Some(value) = token.to_str().and_then(|token| token.strip_prefix("--config=")) {
            return Some((PathBuf::from(value), true));
        }
    }
    if let Some(value) = std::env::var_os(ENV).filter(|value| !value.is_empty()) {
        return Some((PathBuf::from(value), true));
    }
    Some((PathBuf::from(DEFAULT_FILE), false))
}

fn read_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("over {MAX_FILE_BYTES} bytes")));
    }
    Ok(text)
}

/// [`apply`] with the file's text in hand; `file` names it in errors.
pub fn apply_text(argv: Vec<OsString>, text: &str, file: &str) -> anyhow::Result<Vec<OsString>> {
    let command = Cli::command();
    let table = DeTable::parse(text).map_err(|error| {
        let line = error.span().map(|span| format!(" line {}:", line_of(text, span.start))).unwrap_or_default();
        // The message only; the error's Display would quote the offending line, which may
        // hold a secret.
        let message = crate::text::quoted_prefix(error.message().lines().next().unwrap_or("invalid TOML"), 200);
        anyhow::anyhow!("config file {file}:{line} not valid TOML: {message}")
    })?;
    let subcommand = find_subcommand(&command, &argv);

    let mut global_args = Vec::new();
    let mut section_args = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        let place = Place { file, section: None, key: name, line: line_of(text, key.span().start) };
        if SECTIONS.contains(&name) {
            let Some(section) = value.get_ref().as_table() else {
                return Err(place.error(format_args!("`{name}` must be a section, [{name}]")));
            };
            let sub = command.find_subcommand(name).with_context(|| format!("the subcommand {name} is missing"))?;
            let applies = subcommand.as_ref().is_some_and(|(found, _)| found == name);
            for (key, value) in section {
                let key_name = key.get_ref().as_ref();
                let place = Place { file, section: Some(name), key: key_name, line: line_of(text, key.span().start) };
                let arg = sub
                    .get_arguments()
                    .filter(|arg| !arg.is_global_set() && !arg.is_positional())
                    .find(|arg| arg.get_long() == Some(key_name))
                    .ok_or_else(|| place.error(format_args!("unknown key; {}", known_keys(sub, false))))?;
                let args = to_args(&place, arg, value.get_ref())?;
                if applies && !given(&argv, arg) && !conflict_given(sub, arg, &argv) {
                    section_args.extend(args);
                }
            }
            continue;
        }
        if value.get_ref().is_table() {
            return Err(place.error(format_args!("unknown section; sections are {}", SECTIONS.join(", "))));
        }
        let arg = global_args_of(&command)
            .find(|arg| arg.get_long() == Some(name))
            .ok_or_else(|| place.error(format_args!("unknown key; {}", known_keys(&command, true))))?;
        let args = to_args(&place, arg, value.get_ref())?;
        if !given(&argv, arg) {
            global_args.extend(args);
        }
    }

    // Global options and the section's options go right after the subcommand's name, so a
    // `--` or a positional argument later on the line keeps its meaning. Without a
    // subcommand (`tickstock --help`) nothing is added: clap has nothing to run.
    let Some((_, position)) = subcommand else {
        return Ok(argv);
    };
    let mut out = Vec::with_capacity(argv.len() + global_args.len() + section_args.len());
    out.extend(argv[..=position].iter().cloned());
    out.extend(global_args);
    out.extend(section_args);
    out.extend(argv[position + 1..].iter().cloned());
    Ok(out)
}

/// Where a key is, for errors: `config file F: [serve] max-pending (line 3): ...`.
struct Place<'a> {
    file: &'a str,
    section: Option<&'a str>,
    key: &'a str,
    line: usize,
}

impl Place<'_> {
    fn error(&self, what: std::fmt::Arguments<'_>) -> anyhow::Error {
        let section = self.section.map(|section| format!("[{section}] ")).unwrap_or_default();
        // Keys come from the file too, but are never secrets; still bounded.
        let key = crate::text::quoted_prefix(self.key, 80);
        anyhow::anyhow!("config file {}: {section}{key} (line {}): {what}", self.file, self.line)
    }
}

fn global_args_of(command: &clap::Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| arg.is_global_set() && arg.get_long().is_some_and(|long| long != "config"))
}

fn known_keys(command: &clap::Command, global: bool) -> String {
    let keys: Vec<&str> = if global {
        global_args_of(command).filter_map(Arg::get_long).collect()
    } else {
        command
            .get_arguments()
            .filter(|arg| !arg.is_global_set() && !arg.is_positional())
            .filter_map(Arg::get_long)
            .filter(|long| *long != "help")
            .collect()
    };
    format!("known keys here: {}", keys.join(", "))
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|byte| **byte == b'\n').count() + 1
}

/// The subcommand on the command line and its index in `argv`: the first token that is
/// not a global option or a global option's value.
fn find_subcommand(command: &clap::Command, argv: &[OsString]) -> Option<(String, usize)> {
    let mut index = 1;
    while index < argv.len() {
        let token = argv[index].to_str()?;
        if let Some(long) = token.strip_prefix("--") {
            if long.is_empty() {
                return None;
            }
            let takes_value = !long.contains('=')
                && command.get_arguments().any(|arg| arg.get_long() == Some(long) && arg.get_action().takes_values());
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        if token.starts_with('-') {
            // `-h`, `-V`: clap prints and exits.
            return None;
        }
        return command.find_subcommand(token).map(|found| (found.get_name().to_string(), index));
    }
    None
}

/// Whether the command line gives this option (`--key`, `--key=..`, an alias, `-k`).
fn given(argv: &[OsString], arg: &Arg) -> bool {
    let mut longs: Vec<&str> = arg.get_long().into_iter().collect();
    longs.extend(arg.get_all_aliases().unwrap_or_default());
    let short = arg.get_short();
    argv.iter().skip(1).take_while(|token| *token != "--").filter_map(|token| token.to_str()).any(|token| {
        if let Some(long) = token.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(name, _)| name);
            return longs.contains(&name);
        }
        match (short, token.strip_prefix('-')) {
            (Some(short), Some(rest)) => rest.starts_with(short),
            _ => false,
        }
    }) || env_set(arg)
}

/// Whether an environment variable gives this option (its clap `env`, or one the
/// library reads itself, see `EXTRA_ENV`).
fn env_set(arg: &Arg) -> bool {
    let is_set =
        |name: &OsStr| std::env::var_os(name).is_some_and(|value| !value.as_encoded_bytes().trim_ascii().is_empty());
    let extra = EXTRA_ENV.iter().filter(|(long, _)| arg.get_long() == Some(long)).flat_map(|(_, names)| names.iter());
    arg.get_env().is_some_and(is_set) || extra.into_iter().any(|name| is_set(OsStr::new(name)))
}

/// Whether an option this one conflicts with is given: then the flag wins and the file's
/// value is left out, as if the flag had overridden it.
fn conflict_given(command: &clap::Command, arg: &Arg, argv: &[OsString]) -> bool {
    command.get_arg_conflicts_with(arg).into_iter().any(|other| given(argv, other))
}

/// The command-line tokens that state `value` for `arg`, after checking it with the
/// option's own value parser (so `max-pending = "ten"` is refused here, naming the key,
/// and not by clap, whose message would quote the value).
fn to_args(place: &Place<'_>, arg: &Arg, value: &DeValue<'_>) -> anyhow::Result<Vec<OsString>> {
    let long = arg.get_long().unwrap_or_default();
    let flag = OsString::from(format!("--{long}"));
    if !arg.get_action().takes_values() {
        return match (arg.get_action(), value) {
            (ArgAction::SetTrue, DeValue::Boolean(true)) => Ok(vec![flag]),
            (ArgAction::SetTrue, DeValue::Boolean(false)) => Ok(Vec::new()),
            (ArgAction::SetTrue, other) => {
                Err(place.error(format_args!("expected true or false, found {}", other.type_str())))
            }
            _ => Err(place.error(format_args!("--{long} is not an option a file can set"))),
        };
    }
    let many = matches!(arg.get_action(), ArgAction::Append) || arg.get_value_delimiter().is_some();
    let items: Vec<&DeValue<'_>> = match value {
        DeValue::Array(items) if many => items.iter().map(|item| item.get_ref()).collect(),
        DeValue::Array(_) => return Err(place.error(format_args!("expected one value, found an array"))),
        single => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = match item {
            DeValue::String(text) => text.to_string(),
            DeValue::Integer(integer) if integer.radix() == 10 => integer.as_str().to_string(),
            DeValue::Integer(integer) => {
                let number = i128::from_str_radix(integer.as_str(), integer.radix())
                    .map_err(|_| place.error(format_args!("the number is out of range")))?;
                number.to_string()
            }
            DeValue::Float(float) => float.as_str().to_string(),
            other => {
                return Err(place.error(format_args!(
                    "expected a string or a number, found {} (see `tickstock help` for --{long})",
                    other.type_str()
                )));
            }
        };
        check_value(arg, &text)
            .map_err(|expected| place.error(format_args!("not a valid value for --{long}{expected}")))?;
        // One `--key=value` token, so a value starting with `-` is not taken for a flag.
        out.push(OsString::from(format!("--{long}={text}")));
    }
    Ok(out)
}

/// Runs the option's own value parser on `text`, in a command of that one option. On
/// refusal, what the option expects (its possible values, when it has a list).
fn check_value(arg: &Arg, text: &str) -> Result<(), String> {
    let mut probe = Arg::new("value").long("value").action(ArgAction::Set).value_parser(arg.get_value_parser().clone());
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter);
    }
    let command = clap::Command::new("check").no_binary_name(true).arg(probe);
    let probe_argv = [OsString::from(format!("--value={text}"))];
    match command.try_get_matches_from(probe_argv) {
        Ok(_) => Ok(()),
        Err(_) => {
            let possible: Vec<String> =
                arg.get_possible_values().iter().map(|value| value.get_name().to_string()).collect();
            Err(if possible.is_empty() { String::new() } else { format!(" (one of {})", possible.join(", ")) })
        }
    }
}
