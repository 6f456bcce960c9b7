//! The kinds of plugin: one table of each kind's name, WIT world and identifying export.
//! Depends on nothing else of the plugin runtime, so every part of it may use it.

/// The three kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Calendar,
    BatchPolicy,
    RefreshProfile,
}

impl PluginKind {
    /// Every kind, in the order listings show them.
    pub const ALL: [PluginKind; 3] = [PluginKind::Calendar, PluginKind::BatchPolicy, PluginKind::RefreshProfile];

    /// The one table of kinds: (name, WIT world, the interface export that identifies the
    /// world, without its version).
    const fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            PluginKind::Calendar => ("calendar", "calendar-plugin", "tickstock:plugins/calendar@"),
            PluginKind::BatchPolicy => ("batch-policy", "batch-policy-plugin", "tickstock:plugins/batch-policy@"),
            PluginKind::RefreshProfile => {
                ("refresh-profile", "refresh-profile-plugin", "tickstock:plugins/refresh-profile@")
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        self.names().0
    }

    /// The WIT world a plugin of this kind implements.
    pub fn world(self) -> &'static str {
        self.names().1
    }

    /// The interface export that identifies the world, without its version.
    pub(super) fn interface_export(self) -> &'static str {
        self.names().2
    }

    /// The kind named `text` (`calendar`, `batch-policy`, `refresh-profile`).
    pub fn from_name(text: &str) -> Option<PluginKind> {
        PluginKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
