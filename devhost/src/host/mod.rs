//! Per-instance state and the Spin host interfaces it implements.

pub mod kv;
pub mod redis;
pub mod sqlite;
pub mod variables;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::outbound::OutboundHooks;

/// What one component may do, fixed at start-up from the manifest.
pub struct ComponentCtx {
    pub id: String,
    pub allowed_hosts: AllowedHosts,
    pub key_value_stores: BTreeSet<String>,
    pub sqlite_databases: BTreeSet<String>,
    /// Component variable → rendered value.
    pub variables: BTreeMap<String, String>,
    pub environment: Vec<(String, String)>,
}

/// Stores shared by every instance of the application.
pub struct Stores {
    pub kv: HashMap<String, Arc<kv::KvStore>>,
    pub sqlite: HashMap<String, Arc<sqlite::SqliteDb>>,
    redis: tokio::sync::Mutex<HashMap<String, ::redis::aio::ConnectionManager>>,
}

impl Stores {
    pub fn new(kv: HashMap<String, Arc<kv::KvStore>>, sqlite: HashMap<String, Arc<sqlite::SqliteDb>>) -> Self {
        Stores {
            kv,
            sqlite,
            redis: Default::default(),
        }
    }

    /// One reconnecting connection per address, shared by all instances.
    pub async fn redis_connection(&self, address: &str) -> Result<::redis::aio::ConnectionManager> {
        let mut conns = self.redis.lock().await;
        if let Some(conn) = conns.get(address) {
            return Ok(conn.clone());
        }
        let client = ::redis::Client::open(address).context("invalid redis address")?;
        // As Spin's outbound Redis: a server that is gone is an error at
        // once, not a reconnection with backoff that holds the guest's call
        // (readiness probes, a producer falling back to its outbox).
        let config = ::redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(std::time::Duration::from_secs(1));
        let conn = ::redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("cannot connect to redis at {}", redact_url(address)))?;
        conns.insert(address.to_owned(), conn.clone());
        Ok(conn)
    }
}

/// The `T` of every `Store<T>`: one per request or message.
pub struct InstanceState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: OutboundHooks,
    pub component: Arc<ComponentCtx>,
    pub stores: Arc<Stores>,
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Everything a spin-sdk 5.2 component may import: WASI 0.2 (cli, clocks,
/// random, io, http) and fermyon:spin@2.0.0 key-value, sqlite, redis, variables.
pub fn linker(engine: &Engine) -> Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::bindings::spin::SpinImports::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// `redis://user:password@host` → `redis://***@host`, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() || !u.username().is_empty() => {
            // Both setters only fail for URLs that cannot have credentials.
            u.set_username("***").ok();
            u.set_password(None).ok();
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
