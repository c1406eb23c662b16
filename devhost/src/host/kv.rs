//! `fermyon:spin/key-value@2.0.0`: SQLite-file stores (Spin's `type = "spin"`,
//! same table layout as Spin) and Redis stores (`type = "redis"`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use redis::AsyncCommands;
use wasmtime::component::Resource;

use super::InstanceState;
use crate::bindings::spin::fermyon::spin2_0_0::key_value::{Error, Host, HostStore};

pub enum KvStore {
    Sqlite {
        conn: Arc<Mutex<rusqlite::Connection>>,
        label: String,
    },
    Redis {
        conn: redis::aio::ConnectionManager,
    },
}

/// What a guest holds after `Store::open`.
pub struct KvHandle {
    store: Arc<KvStore>,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS spin_key_value (
    store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))";

impl KvStore {
    pub fn sqlite(path: Option<&Path>, label: &str) -> Result<Self> {
        let conn = super::sqlite::open_file(path)?;
        conn.execute(CREATE_TABLE, []).context("creating the key-value table")?;
        Ok(KvStore::Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            label: label.to_owned(),
        })
    }

    pub async fn redis(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("invalid redis url {url}"))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .with_context(|| format!("cannot connect to the key-value redis at {url}"))?;
        Ok(KvStore::Redis { conn })
    }

    async fn sql<T: Send + 'static>(
        &self,
        conn: &Arc<Mutex<rusqlite::Connection>>,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| anyhow!("key-value connection poisoned"))?;
            f(&conn).map_err(anyhow::Error::from)
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))?
        .map_err(|e| Error::Other(e.to_string()))
    }

    pub async fn get(&self, key: String) -> Result<Option<Vec<u8>>, Error> {
        match self {
            KvStore::Sqlite { conn, label } => {
                let label = label.clone();
                self.sql(conn, move |c| {
                    use rusqlite::OptionalExtension;
                    c.query_row(
                        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                        (label, key),
                        |r| r.get(0),
                    )
                    .optional()
                })
                .await
            }
            KvStore::Redis { conn } => conn.clone().get(key).await.map_err(redis_error),
        }
    }

    pub async fn set(&self, key: String, value: Vec<u8>) -> Result<(), Error> {
        match self {
            KvStore::Sqlite { conn, label } => {
                let label = label.clone();
                self.sql(conn, move |c| {
                    c.execute(
                        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                        (label, key, value),
                    )
                    .map(drop)
                })
                .await
            }
            KvStore::Redis { conn } => conn.clone().set(key, value).await.map_err(redis_error),
        }
    }

    pub async fn delete(&self, key: String) -> Result<(), Error> {
        match self {
            KvStore::Sqlite { conn, label } => {
                let label = label.clone();
                self.sql(conn, move |c| {
                    c.execute("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2", (label, key))
                        .map(drop)
                })
                .await
            }
            KvStore::Redis { conn } => conn.clone().del::<_, ()>(key).await.map_err(redis_error),
        }
    }

    pub async fn exists(&self, key: String) -> Result<bool, Error> {
        match self {
            KvStore::Sqlite { .. } => Ok(self.get(key).await?.is_some()),
            KvStore::Redis { conn } => conn.clone().exists(key).await.map_err(redis_error),
        }
    }

    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        match self {
            KvStore::Sqlite { conn, label } => {
                let label = label.clone();
                self.sql(conn, move |c| {
                    let mut stmt = c.prepare("SELECT key FROM spin_key_value WHERE store = ?1")?;
                    let keys = stmt.query_map([label], |r| r.get(0))?.collect();
                    keys
                })
                .await
            }
            KvStore::Redis { conn } => conn.clone().keys("*").await.map_err(redis_error),
        }
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    Error::Other(e.to_string())
}

impl Host for InstanceState {}

impl HostStore for InstanceState {
    async fn open(&mut self, label: String) -> Result<Result<Resource<KvHandle>, Error>> {
        if !self.component.key_value_stores.contains(&label) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(store) = self.stores.kv.get(&label) else {
            return Ok(Err(Error::NoSuchStore));
        };
        let handle = KvHandle { store: store.clone() };
        Ok(self.table.push(handle).map_err(|_| Error::StoreTableFull))
    }

    async fn get(&mut self, store: Resource<KvHandle>, key: String) -> Result<Result<Option<Vec<u8>>, Error>> {
        let store = self.table.get(&store)?.store.clone();
        Ok(store.get(key).await)
    }

    async fn set(&mut self, store: Resource<KvHandle>, key: String, value: Vec<u8>) -> Result<Result<(), Error>> {
        let store = self.table.get(&store)?.store.clone();
        Ok(store.set(key, value).await)
    }

    async fn delete(&mut self, store: Resource<KvHandle>, key: String) -> Result<Result<(), Error>> {
        let store = self.table.get(&store)?.store.clone();
        Ok(store.delete(key).await)
    }

    async fn exists(&mut self, store: Resource<KvHandle>, key: String) -> Result<Result<bool, Error>> {
        let store = self.table.get(&store)?.store.clone();
        Ok(store.exists(key).await)
    }

    async fn get_keys(&mut self, store: Resource<KvHandle>) -> Result<Result<Vec<String>, Error>> {
        let store = self.table.get(&store)?.store.clone();
        Ok(store.keys().await)
    }

    async fn drop(&mut self, store: Resource<KvHandle>) -> Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
