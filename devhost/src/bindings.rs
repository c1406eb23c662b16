//! Host bindings generated from `wit/world.wit`, over the project's one copy
//! of Spin's WIT (`../wit/deps/spin*`, which the components' worlds use too).

/// The `fermyon:spin@2.0.0` imports that spin-sdk 5.2 components use.
pub mod spin {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/spin@2.0.0", "../wit/deps/spin-unversioned", "wit"],
        world: "streamia:devhost/spin-imports",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::host::kv::KvHandle,
            "fermyon:spin/sqlite.connection": crate::host::sqlite::SqliteHandle,
            "fermyon:spin/redis.connection": crate::host::redis::RedisHandle,
        },
        anyhow: true,
    });
}

/// The export of a `#[redis_component]`.
pub mod redis_handler {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/spin@2.0.0", "../wit/deps/spin-unversioned", "wit"],
        world: "streamia:devhost/redis-handler",
        exports: { default: async },
        anyhow: true,
    });
}
