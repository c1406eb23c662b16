//! The runtime configuration file (`--runtime-config-file`), Spin's format:
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"            # or "spin" (a SQLite file; in memory without `path`)
//! url = "redis://127.0.0.1:6379"
//!
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/app.db"      # relative to the working directory
//! ```
//!
//! Relative paths resolve as Spin resolves them: a SQLite database's against
//! the working directory of `up`, a key-value store's against this file's
//! directory.
//!
//! Without a file, or for a `default` label the file leaves out, Spin's
//! defaults apply: `.spin/sqlite_key_value.db` and `.spin/sqlite_db.db` in the
//! application's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub enum KvBackend {
    /// A SQLite file, or an in-memory store when `None`.
    Spin(Option<PathBuf>),
    Redis(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum SqliteBackend {
    Spin(Option<PathBuf>),
}

#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub key_value_stores: BTreeMap<String, KvBackend>,
    pub sqlite_databases: BTreeMap<String, SqliteBackend>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    key_value_store: BTreeMap<String, RawStore>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawStore>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(rename = "type")]
    kind: String,
    path: Option<PathBuf>,
    url: Option<String>,
    token: Option<String>,
}

impl RuntimeConfig {
    /// `state_dir` is the application's `.spin` directory.
    pub fn load(file: Option<&Path>, state_dir: &Path) -> Result<Self> {
        let mut config = match file {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read runtime config {}", file.display()))?;
                let file_dir = file.parent().unwrap_or(Path::new("."));
                let cwd = std::env::current_dir().context("reading the working directory")?;
                Self::parse(&text, file_dir, &cwd)
                    .with_context(|| format!("invalid runtime config {}", file.display()))?
            }
            None => RuntimeConfig::default(),
        };
        config
            .key_value_stores
            .entry("default".into())
            .or_insert_with(|| KvBackend::Spin(Some(state_dir.join("sqlite_key_value.db"))));
        config
            .sqlite_databases
            .entry("default".into())
            .or_insert_with(|| SqliteBackend::Spin(Some(state_dir.join("sqlite_db.db"))));
        Ok(config)
    }

    /// `kv_base` resolves relative key-value paths, `sqlite_base` SQLite ones.
    pub fn parse(text: &str, kv_base: &Path, sqlite_base: &Path) -> Result<Self> {
        let raw: Raw = toml::from_str(text)?;
        if let Some(key) = raw.other.keys().next() {
            bail!(
                "runtime config section '{key}' is not supported by devhost (key_value_store and sqlite_database are)"
            );
        }
        let mut config = RuntimeConfig::default();
        for (label, store) in raw.key_value_store {
            let backend = match store.kind.as_str() {
                "spin" => KvBackend::Spin(store.path.map(|p| kv_base.join(p))),
                "redis" => KvBackend::Redis(
                    store
                        .url
                        .with_context(|| format!("key_value_store.{label}: redis needs a url"))?,
                ),
                other => bail!("key_value_store.{label}: type '{other}' is not supported by devhost (spin, redis)"),
            };
            config.key_value_stores.insert(label, backend);
        }
        for (label, db) in raw.sqlite_database {
            let backend = match db.kind.as_str() {
                "spin" => SqliteBackend::Spin(db.path.map(|p| sqlite_base.join(p))),
                other => bail!("sqlite_database.{label}: type '{other}' is not supported by devhost (spin); libsql runs on Spin only"),
            };
            if db.token.is_some() || db.url.is_some() {
                bail!("sqlite_database.{label}: url/token only apply to libsql");
            }
            config.sqlite_databases.insert(label, backend);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_live_in_the_state_directory() {
        let c = RuntimeConfig::load(None, Path::new("/app/.spin")).unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KvBackend::Spin(Some("/app/.spin/sqlite_key_value.db".into()))
        );
        assert_eq!(
            c.sqlite_databases["default"],
            SqliteBackend::Spin(Some("/app/.spin/sqlite_db.db".into()))
        );
    }

    #[test]
    fn key_value_paths_resolve_against_the_file_and_sqlite_paths_against_the_working_directory_as_in_spin() {
        let text = r#"
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:6380"
[key_value_store.scratch]
type = "spin"
[key_value_store.cache]
type = "spin"
path = "data/cache.db"
[sqlite_database.movies]
type = "spin"
path = "data/movies.db"
"#;
        let c = RuntimeConfig::parse(text, Path::new("/cfg"), Path::new("/cwd")).unwrap();
        assert_eq!(
            c.key_value_stores["default"],
            KvBackend::Redis("redis://127.0.0.1:6380".into())
        );
        assert_eq!(c.key_value_stores["scratch"], KvBackend::Spin(None));
        assert_eq!(
            c.key_value_stores["cache"],
            KvBackend::Spin(Some("/cfg/data/cache.db".into()))
        );
        assert_eq!(
            c.sqlite_databases["movies"],
            SqliteBackend::Spin(Some("/cwd/data/movies.db".into()))
        );
    }

    #[test]
    fn unsupported_backends_are_refused_clearly() {
        for text in [
            "[key_value_store.x]\ntype = \"azure_cosmos\"",
            "[sqlite_database.x]\ntype = \"libsql\"\nurl = \"https://db\"\ntoken = \"t\"",
            "[key_value_store.x]\ntype = \"redis\"",
            "[llm_compute]\ntype = \"spin\"",
        ] {
            assert!(
                RuntimeConfig::parse(text, Path::new("."), Path::new(".")).is_err(),
                "{text}"
            );
        }
    }
}
