//! The plugins compiled into the binary: every guest under `calendars/` and `plugins/`,
//! built for wasm32-wasip2 by `host/build.rs` and embedded here.

/// One embedded plugin component.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    /// The artifact's file name, e.g. `calendar_xnys.wasm`; shown as the plugin's source.
    pub file_name: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

/// Every built-in plugin, in file-name order.
pub const BUILTINS: &[BuiltinPlugin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
