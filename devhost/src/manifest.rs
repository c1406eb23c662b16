//! `spin.toml` (manifest version 2): the parts devhost runs.
//!
//! Parsing is strict where Spin is strict (manifest version, component ids,
//! references between triggers and components) and says what it does not
//! support rather than silently ignoring it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// A loaded application: its directory, variables, components and triggers.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    /// Directory that holds `spin.toml`; relative paths in the manifest start here.
    pub dir: PathBuf,
    pub variables: BTreeMap<String, VariableDecl>,
    pub components: BTreeMap<String, ComponentDecl>,
    pub http_triggers: Vec<HttpTrigger>,
    pub redis_triggers: Vec<RedisTrigger>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ComponentDecl {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    /// Component variable name → template over application variables.
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HttpRoute {
    Public(String),
    Private,
}

#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub component: String,
    pub route: HttpRoute,
}

#[derive(Debug, Clone)]
pub struct RedisTrigger {
    pub component: String,
    pub channel: String,
    /// Template; falls back to `[application.trigger.redis] address`.
    pub address: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Table>,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    dependencies: toml::Table,
    #[serde(default)]
    ai_models: Vec<String>,
    // Accepted and ignored, as `spin up` ignores them at run time.
    #[serde(default, rename = "build")]
    _build: Option<toml::Value>,
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default, rename = "exclude_files")]
    _exclude_files: Option<toml::Value>,
    #[serde(default, rename = "tool")]
    _tool: Option<toml::Value>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Self::parse(&text, &dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version.as_integer() != Some(2) {
            bail!("only spin_manifest_version = 2 is supported");
        }
        for name in raw.variables.keys() {
            check_variable_name(name)?;
        }
        for (name, decl) in &raw.variables {
            if decl.required && decl.default.is_some() {
                bail!("variable '{name}' cannot be both required and have a default");
            }
            if !decl.required && decl.default.is_none() {
                bail!("variable '{name}' must either be required or have a default");
            }
        }

        let mut components = BTreeMap::new();
        for (id, raw) in raw.component {
            check_component_id(&id)?;
            components.insert(id.clone(), component_decl(id, raw, dir)?);
        }

        let mut http_triggers = Vec::new();
        let mut redis_triggers = Vec::new();
        let app_redis_address = raw
            .application
            .trigger
            .get("redis")
            .and_then(|t| t.get("address"))
            .and_then(|a| a.as_str())
            .map(str::to_owned);
        for (kind, triggers) in raw.trigger {
            for t in triggers {
                let component = trigger_component(&t, &components)?;
                match kind.as_str() {
                    "http" => http_triggers.push(HttpTrigger {
                        route: http_route(&t, &component)?,
                        component,
                    }),
                    "redis" => {
                        let channel = t
                            .get("channel")
                            .and_then(|c| c.as_str())
                            .ok_or_else(|| anyhow!("redis trigger for '{component}' needs a channel"))?
                            .to_owned();
                        let address = t
                            .get("address")
                            .and_then(|a| a.as_str())
                            .map(str::to_owned)
                            .or_else(|| app_redis_address.clone())
                            .ok_or_else(|| {
                                anyhow!("redis trigger for '{component}' has no address and [application.trigger.redis] sets none")
                            })?;
                        redis_triggers.push(RedisTrigger {
                            component,
                            channel,
                            address,
                        });
                    }
                    other => bail!("trigger type '{other}' is not supported by devhost (http and redis are)"),
                }
            }
        }

        Ok(Manifest {
            name: raw.application.name,
            dir: dir.to_path_buf(),
            variables: raw.variables,
            components,
            http_triggers,
            redis_triggers,
        })
    }
}

fn component_decl(id: String, raw: RawComponent, dir: &Path) -> Result<ComponentDecl> {
    let source = match &raw.source {
        toml::Value::String(path) => dir.join(path),
        _ => bail!("component '{id}': only a local file `source = \"path.wasm\"` is supported by devhost"),
    };
    if !raw.files.is_empty() {
        bail!("component '{id}': `files` mounts are not supported by devhost");
    }
    if !raw.dependencies.is_empty() {
        bail!("component '{id}': component `dependencies` are not supported by devhost");
    }
    if !raw.ai_models.is_empty() {
        bail!("component '{id}': `ai_models` are not supported by devhost");
    }
    for name in raw.variables.keys() {
        check_variable_name(name).with_context(|| format!("component '{id}'"))?;
    }
    let mut allowed_outbound_hosts = raw.allowed_outbound_hosts;
    // Spin still honours the manifest v1 spelling by translating it.
    for host in raw.allowed_http_hosts {
        if host.contains("://") {
            allowed_outbound_hosts.push(host);
        } else {
            allowed_outbound_hosts.push(format!("https://{host}"));
        }
    }
    Ok(ComponentDecl {
        id,
        source,
        allowed_outbound_hosts,
        key_value_stores: raw.key_value_stores,
        sqlite_databases: raw.sqlite_databases,
        variables: raw.variables,
        environment: raw.environment,
    })
}

fn trigger_component(t: &toml::Table, components: &BTreeMap<String, ComponentDecl>) -> Result<String> {
    match t.get("component") {
        Some(toml::Value::String(id)) => {
            if !components.contains_key(id) {
                bail!("trigger refers to component '{id}', which is not defined");
            }
            Ok(id.clone())
        }
        Some(_) => {
            bail!("inline trigger components are not supported by devhost; use component = \"id\"")
        }
        None => bail!("trigger without a component"),
    }
}

fn http_route(t: &toml::Table, component: &str) -> Result<HttpRoute> {
    match t.get("route") {
        Some(toml::Value::String(route)) => Ok(HttpRoute::Public(route.clone())),
        Some(toml::Value::Table(tbl)) => match tbl.get("private") {
            Some(toml::Value::Boolean(true)) => Ok(HttpRoute::Private),
            _ => bail!("route must be a string pattern or '{{ private = true }}': component '{component}'"),
        },
        _ => bail!("http trigger for component '{component}' needs a route"),
    }
}

/// Spin's rule: kebab-case of lower-case letters and digits, starting with a letter.
fn check_component_id(id: &str) -> Result<()> {
    let ok = id
        .split('-')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && id.starts_with(|c: char| c.is_ascii_lowercase());
    if !ok {
        bail!("component id '{id}' must be kebab-case: lower-case letters, digits and single dashes, starting with a letter");
    }
    Ok(())
}

/// Spin's rule: lower-case letters, digits and single underscores, starting with a letter.
pub fn check_variable_name(name: &str) -> Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_');
    if !ok {
        bail!("variable name '{name}' must be lower_snake_case (letters, digits, single underscores)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[application.trigger.redis]
address = "redis://127.0.0.1:6379"
[variables]
greeting = { default = "hi" }
token = { required = true, secret = true }
[[trigger.http]]
route = "/api/..."
component = "front"
[[trigger.http]]
route = { private = true }
component = "back"
[[trigger.redis]]
channel = "jobs"
component = "back"
[component.front]
source = "front.wasm"
allowed_outbound_hosts = ["http://back.spin.internal"]
[component.front.variables]
greeting = "{{ greeting }}, friend"
[component.back]
source = "target/back.wasm"
key_value_stores = ["default"]
"#;

    #[test]
    fn parses_components_triggers_and_variables() {
        let m = Manifest::parse(APP, Path::new("/app")).unwrap();
        assert_eq!(m.name, "demo");
        assert_eq!(m.components["back"].source, PathBuf::from("/app/target/back.wasm"));
        assert_eq!(m.http_triggers.len(), 2);
        assert_eq!(m.http_triggers[0].route, HttpRoute::Public("/api/...".into()));
        assert_eq!(m.http_triggers[1].route, HttpRoute::Private);
        assert_eq!(m.redis_triggers[0].address, "redis://127.0.0.1:6379");
        assert_eq!(m.redis_triggers[0].channel, "jobs");
        assert!(m.variables["token"].secret);
        assert_eq!(m.components["front"].variables["greeting"], "{{ greeting }}, friend");
    }

    #[test]
    fn rejects_what_spin_rejects() {
        let cases = [
            (
                APP.replace("spin_manifest_version = 2", "spin_manifest_version = 1"),
                "version 1",
            ),
            (
                APP.replace("component = \"front\"", "component = \"nope\""),
                "unknown component",
            ),
            (
                APP.replace("[component.front]", "[component.Front]"),
                "id not kebab-case",
            ),
            (
                APP.replace(
                    "greeting = { default = \"hi\" }",
                    "greeting = { default = \"hi\", required = true }",
                ),
                "required with default",
            ),
            (
                APP.replace("route = { private = true }", "route = { private = false }"),
                "private = false",
            ),
        ];
        for (text, why) in cases {
            assert!(Manifest::parse(&text, Path::new(".")).is_err(), "should reject: {why}");
        }
    }

    #[test]
    fn variable_names_follow_spin() {
        for ok in ["a", "jwt_secret", "x1_y2"] {
            assert!(check_variable_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "1a", "a__b", "a-b", "a_"] {
            assert!(check_variable_name(bad).is_err(), "{bad}");
        }
    }
}
