//! `tickstock plugins new <calendar|policy|profile> <name>`: writes a ready-to-build guest
//! crate from the templates in plugins/templates/ and the repository's own WIT files.
//!
//! Both are embedded with `include_str!`, so the binary carries them (a plugin author
//! needs no checkout) and the WIT copied into a new crate is always the WIT this host
//! was built against. The templates are `*.tmpl` files rather than crates so neither the
//! guest workspace nor host/build.rs mistakes them for plugins; the test suite builds
//! what they generate instead (tests/all/plugins_new.rs).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Which world the new plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateKind {
    /// An exchange trading calendar (`calendar-plugin`).
    Calendar,
    /// A batch policy (`batch-policy-plugin`).
    Policy,
    /// A set of refresh profiles (`refresh-profile-plugin`).
    Profile,
}

#[derive(Debug, clap::Args)]
pub struct NewPluginArgs {
    /// What kind of plugin to create.
    pub kind: TemplateKind,
    /// The plugin's name: the exchange's MIC for a calendar (e.g. XWAR), the policy or
    /// profile-set name otherwise. ASCII letters, digits, `-` and `_`, starting with a
    /// letter.
    pub name: String,
    /// Folder to create; it must not exist or be empty [default: ./<crate name>].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// IANA timezone of the exchange, for a calendar.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
}

/// One template: a file's path in the generated crate and its text with placeholders.
type TemplateFile = (&'static str, &'static str);

const CALENDAR_TEMPLATE: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("../../../plugins/templates/calendar/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../plugins/templates/calendar/src/lib.rs.tmpl")),
    ("README.md", include_str!("../../../plugins/templates/calendar/README.md.tmpl")),
];
const POLICY_TEMPLATE: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("../../../plugins/templates/policy/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../plugins/templates/policy/src/lib.rs.tmpl")),
    ("README.md", include_str!("../../../plugins/templates/policy/README.md.tmpl")),
];
const PROFILE_TEMPLATE: &[TemplateFile] = &[
    ("Cargo.toml", include_str!("../../../plugins/templates/profile/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../../plugins/templates/profile/src/lib.rs.tmpl")),
    ("README.md", include_str!("../../../plugins/templates/profile/README.md.tmpl")),
];

/// Every WIT file of the package: wit-bindgen reads the whole folder, so a crate needs
/// all of them even though it implements one world.
const WIT_FILES: &[TemplateFile] = &[
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    ("wit/calendar.wit", include_str!("../../../wit/calendar.wit")),
    ("wit/policy.wit", include_str!("../../../wit/policy.wit")),
    ("wit/profile.wit", include_str!("../../../wit/profile.wit")),
];

/// A generated crate, before it is written.
#[derive(Debug)]
pub struct GeneratedCrate {
    /// Cargo package name, e.g. `calendar-xwar`.
    pub crate_name: String,
    /// File name of the built component, e.g. `calendar_xwar.wasm`.
    pub artifact: String,
    /// (relative path, contents).
    pub files: Vec<(String, String)>,
}

pub fn run(args: &NewPluginArgs) -> anyhow::Result<()> {
    let generated = generate(args.kind, &args.name, &args.timezone)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&generated.crate_name));
    write_crate(&dir, &generated)?;
    let shown = dir.display();
    println!("created {} in {shown}", generated.crate_name);
    println!("next:");
    println!("  cd {shown}");
    println!("  cargo build --release --target wasm32-wasip2");
    println!("  tickstock plugins check target/wasm32-wasip2/release/{}", generated.artifact);
    Ok(())
}

/// Fills the template of `kind` for a plugin called `name`. Pure: nothing is written.
pub fn generate(kind: TemplateKind, name: &str, timezone: &str) -> anyhow::Result<GeneratedCrate> {
    let starts_with_letter = name.chars().next().is_some_and(|first| first.is_ascii_alphabetic());
    let allowed = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    anyhow::ensure!(
        starts_with_letter && allowed,
        "plugin name {name:?} must start with a letter and hold only ASCII letters, digits, `-` and `_`"
    );
    let (prefix, template, plugin_name) = match kind {
        TemplateKind::Calendar => {
            anyhow::ensure!(
                name.len() == crate::plugin::limits::MIC_BYTES && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "a calendar is named by its MIC (ISO 10383, e.g. XTSE): four letters or digits, not {name:?}"
            );
            timezone.parse::<chrono_tz::Tz>().map_err(|_| {
                anyhow::anyhow!("--timezone {timezone:?} is not an IANA timezone name such as America/Toronto")
            })?;
            ("calendar", CALENDAR_TEMPLATE, name.to_ascii_uppercase())
        }
        TemplateKind::Policy => ("policy", POLICY_TEMPLATE, name.to_string()),
        TemplateKind::Profile => ("profile", PROFILE_TEMPLATE, name.to_string()),
    };
    let crate_name = format!("{prefix}-{}", name.to_ascii_lowercase().replace('_', "-"));
    let artifact = format!("{}.wasm", crate_name.replace('-', "_"));
    let description = match kind {
        TemplateKind::Calendar => format!("Calendar plugin: {plugin_name} trading calendar"),
        TemplateKind::Policy => format!("Batch policy: {plugin_name}"),
        TemplateKind::Profile => format!("Refresh profiles: {plugin_name}"),
    };
    let placeholders = [
        ("{{name}}", plugin_name.clone()),
        ("{{mic}}", plugin_name.clone()),
        ("{{kind}}", prefix.to_string()),
        ("{{crate_name}}", crate_name.clone()),
        ("{{artifact}}", artifact.clone()),
        ("{{type_name}}", type_name(&plugin_name)),
        ("{{timezone}}", timezone.to_string()),
        ("{{description}}", description),
    ];
    let mut files = Vec::new();
    for &(path, text) in template {
        let mut filled = text.to_string();
        for (placeholder, value) in &placeholders {
            filled = filled.replace(placeholder, value);
        }
        // A placeholder left over is a template bug, caught here rather than as a
        // confusing compile error in the user's new crate.
        anyhow::ensure!(!filled.contains("{{"), "template {prefix}/{path} has an unknown placeholder");
        files.push((path.to_string(), filled));
    }
    for &(path, text) in WIT_FILES {
        files.push((path.to_string(), text.to_string()));
    }
    files.push((".gitignore".to_string(), "/target\n".to_string()));
    Ok(GeneratedCrate { crate_name, artifact, files })
}

/// `XWAR` -> `Xwar`, `wide-tiers` -> `WideTiers`: the exported struct's name.
fn type_name(plugin_name: &str) -> String {
    plugin_name
        .split(['-', '_'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Writes the crate into `dir`, which must be missing or empty: overwriting someone's
/// edited plugin would lose work.
fn write_crate(dir: &Path, generated: &GeneratedCrate) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("{} is not a folder", dir.display()))?;
        anyhow::ensure!(
            entries.next().is_none(),
            "{} already exists and is not empty; choose another --dir",
            dir.display()
        );
    }
    for (relative, contents) in &generated.files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_fills_every_placeholder() {
        for kind in [TemplateKind::Calendar, TemplateKind::Policy, TemplateKind::Profile] {
            let generated = generate(kind, "xwar", "Europe/Warsaw").unwrap();
            let paths: Vec<&str> = generated.files.iter().map(|(path, _)| path.as_str()).collect();
            for expected in ["Cargo.toml", "src/lib.rs", "README.md", "wit/types.wit", "wit/calendar.wit"] {
                assert!(paths.contains(&expected), "{kind:?}: {paths:?}");
            }
        }
    }

    #[test]
    fn names_become_crate_artifact_and_type_names() {
        let calendar = generate(TemplateKind::Calendar, "xwar", "UTC").unwrap();
        assert_eq!((calendar.crate_name.as_str(), calendar.artifact.as_str()), ("calendar-xwar", "calendar_xwar.wasm"));
        let lib = &calendar.files.iter().find(|(path, _)| path == "src/lib.rs").unwrap().1;
        assert!(lib.contains("const MIC: &str = \"XWAR\";") && lib.contains("struct Xwar;"));
        let policy = generate(TemplateKind::Policy, "wide_tiers", "UTC").unwrap();
        assert_eq!(
            (policy.crate_name.as_str(), policy.artifact.as_str()),
            ("policy-wide-tiers", "policy_wide_tiers.wasm")
        );
        assert_eq!(type_name("wide_tiers"), "WideTiers");
    }

    #[test]
    fn bad_names_and_timezones_are_refused() {
        assert!(generate(TemplateKind::Policy, "9lives", "UTC").is_err());
        assert!(generate(TemplateKind::Policy, "a b", "UTC").is_err());
        assert!(generate(TemplateKind::Calendar, "X-WAR", "UTC").is_err());
        assert!(generate(TemplateKind::Calendar, "XWAR", "Mars/Olympus").is_err());
    }
}
