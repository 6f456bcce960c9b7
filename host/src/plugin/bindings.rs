//! The only place the host runs `bindgen!`: one module per plugin world, all generated from
//! the WIT files in the repository's `wit/` folder (the same files the guests use).
//!
//! The shared `types` interface is generated once (in `calendar_world`) and reused by the
//! other two worlds through `with`, so an `Identity` is one Rust type whatever the world.

/// Bindings for the `calendar-plugin` world.
pub mod calendar_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "calendar-plugin",
    });
}

/// Bindings for the `batch-policy-plugin` world.
pub mod policy_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "batch-policy-plugin",
        with: { "tickstock:plugins/types": crate::plugin::bindings::calendar_world::tickstock::plugins::types },
    });
}

/// Bindings for the `refresh-profile-plugin` world.
pub mod profile_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "refresh-profile-plugin",
        with: { "tickstock:plugins/types": crate::plugin::bindings::calendar_world::tickstock::plugins::types },
    });
}
