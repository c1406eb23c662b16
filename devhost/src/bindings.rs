//! Host bindings generated from `wit/world.wit`, over the project's one copy
//! of Spin's WIT (`../wit/deps/spin*`, which the components' worlds use too).

/// The `fermyon:spin@2.0.0` and `wasi:keyvalue@0.2.0-draft2` imports that spin-sdk 5.2 components use.
pub mod spin {
    wasmtime::component::bindgen!({
        path: [
            "../wit/deps/spin@2.0.0",
            "../wit/deps/spin-unversioned",
            "../wit/deps/keyvalue@0.2.0-draft2",
            "wit",
        ],
        world: "streamia:devhost/spin-imports",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::host::kv::KvHandle,
            "fermyon:spin/sqlite.connection": crate::host::sqlite::SqliteHandle,
            "fermyon:spin/redis.connection": crate::host::redis::RedisHandle,
            "wasi:keyvalue/store.bucket": crate::host::kv::KvHandle,
            "wasi:keyvalue/atomics.cas": crate::host::kv::CasHandle,
        },
        anyhow: true,
    });
}

/// The export of a `#[redis_component]`.
pub mod redis_handler {
    wasmtime::component::bindgen!({
        path: [
            "../wit/deps/spin@2.0.0",
            "../wit/deps/spin-unversioned",
            "../wit/deps/keyvalue@0.2.0-draft2",
            "wit",
        ],
        world: "streamia:devhost/redis-handler",
        exports: { default: async },
        anyhow: true,
    });
}
