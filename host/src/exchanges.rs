//! The exchanges the host knows: a thin view over the registry's calendar plugins, for
//! callers that want "the calendar of XNYS now" and a good error when there is none.
//!
//! Depends on `calendar` and `plugin`; never on `cli`, `server` or the store.

use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::calendar::Calendar;
use crate::plugin::{PluginKind, Registry, Runtime, RuntimeOptions};

pub struct Exchanges {
    registry: Arc<Registry>,
}

impl Exchanges {
    /// Only the built-in plugins, default limits, no artifact cache on disk.
    pub fn builtin() -> anyhow::Result<Exchanges> {
        let runtime = Runtime::new(RuntimeOptions::default())?;
        let registry = Registry::with_builtins(runtime).context("loading the built-in plugins")?;
        Ok(Exchanges { registry: Arc::new(registry) })
    }

    pub fn from_registry(registry: Arc<Registry>) -> Exchanges {
        Exchanges { registry }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The current calendar of an exchange; the error lists the exchanges there are.
    pub fn calendar(&self, mic: &str) -> anyhow::Result<Arc<Calendar>> {
        let wanted = mic.trim().to_ascii_uppercase();
        match self.registry.calendar(&wanted) {
            Some(calendar) => Ok(calendar),
            None => bail!("unknown exchange {mic:?}; known exchanges: {}", self.mics().join(", ")),
        }
    }

    /// MICs of every loaded calendar plugin, sorted.
    pub fn mics(&self) -> Vec<String> {
        self.registry.names(PluginKind::Calendar)
    }
}
