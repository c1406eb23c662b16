//! A loaded application: compiled components, their permissions, the router
//! and the shared stores; and how one request or message runs in a fresh
//! instance of a pre-instantiated component.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::BodyExt;
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::redis_handler::RedisHandlerPre;
use crate::host::{kv::KvStore, sqlite::SqliteDb, ComponentCtx, InstanceState, Stores};
use crate::manifest::{HttpRoute, Manifest};
use crate::outbound::OutboundHooks;
use crate::routes::{RouteMatch, Router};
use crate::runtime_config::{KvBackend, RuntimeConfig, SqliteBackend};
use crate::variables::Variables;

pub struct App {
    pub name: String,
    engine: Engine,
    components: HashMap<String, ComponentRuntime>,
    router: Router,
    stores: Arc<Stores>,
}

struct ComponentRuntime {
    ctx: Arc<ComponentCtx>,
    http: Option<ProxyPre<InstanceState>>,
    redis: Option<RedisHandlerPre<InstanceState>>,
    private: bool,
}

/// The address Spin reports for a request that came by service chaining.
const CHAINED_CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

pub type Response = hyper::Response<HyperOutgoingBody>;

impl App {
    pub async fn load(manifest: &Manifest, runtime: &RuntimeConfig, variables: Variables) -> Result<Arc<App>> {
        let engine = engine()?;
        let linker = crate::host::linker(&engine)?;

        // Only components that a trigger uses are loaded, as in Spin.
        let mut triggered: BTreeMap<&str, (bool, bool, bool)> = BTreeMap::new();
        for t in &manifest.http_triggers {
            let e = triggered.entry(&t.component).or_default();
            e.0 = true;
            e.2 = t.route == HttpRoute::Private;
        }
        for t in &manifest.redis_triggers {
            triggered.entry(&t.component).or_default().1 = true;
        }

        let stores = Arc::new(open_stores(manifest, runtime, &triggered).await?);

        let mut components = HashMap::new();
        for (id, (http, redis, private)) in triggered {
            let decl = &manifest.components[id];
            let ctx = component_ctx(decl, &variables).with_context(|| format!("component '{id}'"))?;
            let component = crate::cache::load_component(&engine, &decl.source)
                .with_context(|| format!("component '{id}': loading {}", decl.source.display()))?;
            let pre = linker.instantiate_pre(&component).map_err(|e| {
                anyhow!("component '{id}' cannot be linked (it imports something devhost does not provide): {e:#}")
            })?;
            let http_pre = if http {
                Some(ProxyPre::new(pre.clone()).map_err(|e| {
                    anyhow!(
                        "component '{id}' has an HTTP trigger but does not export wasi:http/incoming-handler: {e:#}"
                    )
                })?)
            } else {
                None
            };
            let redis_pre = if redis {
                Some(RedisHandlerPre::new(pre).map_err(|e| {
                    anyhow!(
                        "component '{id}' has a Redis trigger but does not export fermyon:spin/inbound-redis: {e:#}"
                    )
                })?)
            } else {
                None
            };
            components.insert(
                id.to_owned(),
                ComponentRuntime {
                    ctx: Arc::new(ctx),
                    http: http_pre,
                    redis: redis_pre,
                    private,
                },
            );
        }

        let public = manifest.http_triggers.iter().filter_map(|t| match &t.route {
            HttpRoute::Public(r) => Some((t.component.as_str(), r.as_str())),
            HttpRoute::Private => None,
        });
        let (router, replaced) = Router::build(public)?;
        for r in replaced {
            crate::log::info(format_args!("warning: {r}"));
        }

        Ok(Arc::new(App {
            name: manifest.name.clone(),
            engine,
            components,
            router,
            stores,
        }))
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn private_components(&self) -> impl Iterator<Item = &str> {
        self.components
            .iter()
            .filter(|(_, c)| c.private)
            .map(|(id, _)| id.as_str())
    }

    fn new_store(self: &Arc<Self>, component: &ComponentRuntime) -> Store<InstanceState> {
        let ctx = component.ctx.clone();
        let id: Arc<str> = Arc::from(ctx.id.as_str());
        let wasi = WasiCtx::builder()
            .envs(&ctx.environment)
            .stdout(crate::log::ComponentOutput::new(id.clone(), "stdout"))
            .stderr(crate::log::ComponentOutput::new(id, "stderr"))
            .build();
        let state = InstanceState {
            wasi,
            http: WasiHttpCtx::new(),
            table: Default::default(),
            hooks: OutboundHooks {
                component: ctx.clone(),
                app: Arc::downgrade(self),
            },
            component: ctx,
            stores: self.stores.clone(),
        };
        Store::new(&self.engine, state)
    }

    /// Run one HTTP request in a fresh instance of the matched component.
    pub async fn handle_http<B>(
        self: &Arc<Self>,
        route: &RouteMatch,
        req: hyper::Request<B>,
        client: SocketAddr,
    ) -> Result<Response>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let component = self
            .components
            .get(&route.component)
            .ok_or_else(|| anyhow!("no component '{}'", route.component))?;
        let pre = component
            .http
            .clone()
            .ok_or_else(|| anyhow!("component '{}' has no HTTP trigger", route.component))?;
        let (mut parts, body) = req.into_parts();
        set_spin_headers(&mut parts, route, client)?;
        let req = hyper::Request::from_parts(parts, body);

        let mut store = self.new_store(component);
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let out = store.data_mut().http().new_response_outparam(tx)?;
        // The guest may go on streaming the body after it has sent the head.
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(anyhow!("component answered with error code {code:?}")),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(anyhow!("component returned without setting a response")),
                Ok(Err(e)) => Err(anyhow::Error::from(e).context("component trapped")),
                Err(e) => Err(anyhow!(e).context("component task failed")),
            },
        }
    }

    /// A request a component sent to `http://<target>.spin.internal`.
    pub async fn handle_chained(
        self: &Arc<Self>,
        caller: &str,
        target: &str,
        mut req: http::Request<wasmtime_wasi_http::WasiBody>,
    ) -> Result<Response, wasmtime_wasi_http::Error> {
        let started = Instant::now();
        if self.components.get(target).is_none_or(|c| c.http.is_none()) {
            // Spin expands `*.spin.internal` to the app's own components, so
            // any other name is a destination the allow-list does not hold.
            crate::log::info(format_args!(
                "component '{caller}': destination not allowed: service chaining to '{target}', which is not an HTTP component of this app"
            ));
            return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
        }
        // As Spin does: the chained request carries no Host header of its own.
        req.headers_mut().remove(http::header::HOST);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let route = RouteMatch::chained(target, &path);
        let result = self.handle_http(&route, req, CHAINED_CLIENT).await;
        let status = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(500);
        crate::log::info(format_args!(
            "{method} {path} {status} {:.1}ms -> {target} (chained from {caller})",
            started.elapsed().as_secs_f64() * 1000.0
        ));
        result.map_err(|e| {
            crate::log::info(format_args!("component '{target}' failed: {e:#}"));
            wasmtime_wasi_http::Error::InternalError(Some(format!("component '{target}' failed")))
        })
    }

    /// Deliver one Redis message to a component's inbound-redis handler.
    pub async fn handle_redis(self: &Arc<Self>, component: &str, payload: Vec<u8>) -> Result<()> {
        let runtime = self
            .components
            .get(component)
            .ok_or_else(|| anyhow!("no component '{component}'"))?;
        let pre = runtime
            .redis
            .clone()
            .ok_or_else(|| anyhow!("component '{component}' has no Redis trigger"))?;
        let mut store = self.new_store(runtime);
        let handler = pre.instantiate_async(&mut store).await?;
        let result = handler
            .fermyon_spin_inbound_redis()
            .call_handle_message(&mut store, &payload)
            .await?;
        result.map_err(|e| anyhow!("component '{component}' returned {e:?}"))
    }
}

fn engine() -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    // Spin pre-allocates instance slots too; a fresh instance per request
    // then costs a few microseconds instead of fresh mmaps.
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(1000)
        .total_core_instances(4000)
        .total_memories(4000)
        .total_tables(4000)
        .max_memory_size(1 << 30);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

async fn open_stores(
    manifest: &Manifest,
    runtime: &RuntimeConfig,
    triggered: &BTreeMap<&str, (bool, bool, bool)>,
) -> Result<Stores> {
    let mut kv = HashMap::new();
    let mut sqlite = HashMap::new();
    for id in triggered.keys() {
        let decl = &manifest.components[*id];
        for label in &decl.key_value_stores {
            if kv.contains_key(label) {
                continue;
            }
            let backend = runtime.key_value_stores.get(label).ok_or_else(|| {
                // Spin's wording, so start-up errors read the same on both hosts.
                anyhow!("unknown key_value_stores label \"{label}\" for component \"{id}\" (the runtime config does not define it)")
            })?;
            let store = match backend {
                KvBackend::Spin(path) => KvStore::sqlite(path.as_deref(), label)?,
                KvBackend::Redis(url) => KvStore::redis(url).await?,
            };
            kv.insert(label.clone(), Arc::new(store));
        }
        for label in &decl.sqlite_databases {
            if sqlite.contains_key(label) {
                continue;
            }
            let backend = runtime.sqlite_databases.get(label).ok_or_else(|| {
                anyhow!("One or more components use SQLite databases which are not defined. Check the spelling, or pass a runtime configuration file that defines these stores.\nDetails:\n- Component {id} uses database '{label}'")
            })?;
            let db = match backend {
                SqliteBackend::Spin(path) => SqliteDb::new(path.as_deref())?,
            };
            sqlite.insert(label.clone(), Arc::new(db));
        }
    }
    Ok(Stores::new(kv, sqlite))
}

fn component_ctx(decl: &crate::manifest::ComponentDecl, variables: &Variables) -> Result<ComponentCtx> {
    let mut rendered = BTreeMap::new();
    for (name, template) in &decl.variables {
        let value = variables
            .render(template)
            .with_context(|| format!("variable '{name}' = {template:?}"))?;
        rendered.insert(name.clone(), value);
    }
    Ok(ComponentCtx {
        id: decl.id.clone(),
        allowed_hosts: AllowedHosts::parse(&decl.allowed_outbound_hosts, variables)?,
        key_value_stores: decl.key_value_stores.iter().cloned().collect(),
        sqlite_databases: decl.sqlite_databases.iter().cloned().collect(),
        variables: rendered,
        environment: decl.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

/// The `spin-*` headers Spin adds to every request a component receives.
fn set_spin_headers(parts: &mut http::request::Parts, route: &RouteMatch, client: SocketAddr) -> Result<()> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let full_url = format!("http://{host}{path_and_query}");
    let mut headers: Vec<(String, String)> = vec![
        ("spin-full-url".into(), full_url),
        ("spin-path-info".into(), route.path_info.clone()),
        ("spin-matched-route".into(), route.raw_route.clone()),
        ("spin-base-path".into(), "/".into()),
        ("spin-raw-component-route".into(), route.raw_route.clone()),
        ("spin-component-route".into(), route.component_route().to_owned()),
        ("spin-client-addr".into(), client.to_string()),
    ];
    for (name, value) in &route.captures {
        headers.push((format!("spin-path-match-{}", name.to_ascii_lowercase()), value.clone()));
    }
    for (name, value) in headers {
        parts.headers.insert(
            HeaderName::try_from(name.as_str())?,
            HeaderValue::try_from(value.as_str()).context("header value")?,
        );
    }
    // The incoming request needs an authority; a request without Host gets ours.
    if !parts.headers.contains_key(http::header::HOST) && parts.uri.authority().is_none() {
        parts
            .headers
            .insert(http::header::HOST, HeaderValue::from_static("localhost"));
    }
    Ok(())
}

/// A plain-text response from devhost itself (404, 500), as Spin sends them.
pub fn plain(status: u16, text: &'static str) -> Response {
    let body = http_body_util::Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp
}
