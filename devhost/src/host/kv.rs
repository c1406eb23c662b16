//! `fermyon:spin/key-value@2.0.0` and `wasi:keyvalue@0.2.0-draft2` (store and
//! atomic increments) over the same stores: SQLite (Spin's `type = "spin"`,
//! same table layout as Spin, a file or in memory) and Redis (`type = "redis"`).
//! As in Spin, an increment's counter is 8 little-endian bytes in SQLite and
//! Redis's own decimal integer (`INCRBY`) in Redis.

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

/// What a guest holds after `Store::open` (or `wasi:keyvalue/store.open`).
pub struct KvHandle {
    store: Arc<KvStore>,
}

/// `wasi:keyvalue/atomics.cas`: not offered (no component uses it); `new` fails.
pub struct CasHandle;

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

    /// Adds `delta` to the counter at `key` (missing: 0) in one transaction.
    pub async fn increment(&self, key: String, delta: i64) -> Result<i64, Error> {
        match self {
            KvStore::Sqlite { conn, label } => {
                let label = label.clone();
                let conn = conn.clone();
                tokio::task::spawn_blocking(move || {
                    use rusqlite::OptionalExtension;
                    let mut conn = conn.lock().map_err(|_| "key-value connection poisoned".to_owned())?;
                    let tx = conn.transaction().map_err(|e| e.to_string())?;
                    let current: Option<Vec<u8>> = tx
                        .query_row(
                            "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                            (&label, &key),
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(|e| e.to_string())?;
                    let current = match current {
                        None => 0,
                        Some(bytes) => i64::from_le_bytes(
                            bytes
                                .try_into()
                                .map_err(|_| format!("the value at {key:?} is not a counter"))?,
                        ),
                    };
                    let value = current + delta;
                    tx.execute(
                        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                        (&label, &key, value.to_le_bytes().to_vec()),
                    )
                    .map_err(|e| e.to_string())?;
                    tx.commit().map_err(|e| e.to_string())?;
                    Ok::<_, String>(value)
                })
                .await
                .map_err(|e| Error::Other(e.to_string()))?
                .map_err(Error::Other)
            }
            KvStore::Redis { conn } => conn.clone().incr(key, delta).await.map_err(redis_error),
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

mod wasi_keyvalue {
    //! `wasi:keyvalue/store` and `atomics` on the same stores and labels as
    //! `fermyon:spin/key-value` (Spin serves both from one configuration).

    use anyhow::Result;
    use wasmtime::component::Resource;

    use super::{CasHandle, KvHandle};
    use crate::bindings::spin::fermyon::spin2_0_0::key_value::Error as SpinError;
    use crate::bindings::spin::wasi::keyvalue::atomics::{self, CasError};
    use crate::bindings::spin::wasi::keyvalue::store::{self, Error, KeyResponse};
    use crate::host::InstanceState;

    fn error(e: SpinError) -> Error {
        match e {
            SpinError::AccessDenied => Error::AccessDenied,
            SpinError::NoSuchStore => Error::NoSuchStore,
            SpinError::StoreTableFull => Error::Other("too many stores open".into()),
            SpinError::Other(message) => Error::Other(message),
        }
    }

    impl store::Host for InstanceState {
        async fn open(&mut self, identifier: String) -> Result<Result<Resource<KvHandle>, Error>> {
            if !self.component.key_value_stores.contains(&identifier) {
                return Ok(Err(Error::AccessDenied));
            }
            let Some(store) = self.stores.kv.get(&identifier) else {
                return Ok(Err(Error::NoSuchStore));
            };
            let handle = KvHandle { store: store.clone() };
            Ok(Ok(self.table.push(handle)?))
        }
    }

    impl store::HostBucket for InstanceState {
        async fn get(&mut self, bucket: Resource<KvHandle>, key: String) -> Result<Result<Option<Vec<u8>>, Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store.get(key).await.map_err(error))
        }

        async fn set(&mut self, bucket: Resource<KvHandle>, key: String, value: Vec<u8>) -> Result<Result<(), Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store.set(key, value).await.map_err(error))
        }

        async fn delete(&mut self, bucket: Resource<KvHandle>, key: String) -> Result<Result<(), Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store.delete(key).await.map_err(error))
        }

        async fn exists(&mut self, bucket: Resource<KvHandle>, key: String) -> Result<Result<bool, Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store.exists(key).await.map_err(error))
        }

        /// Every key at once, as Spin answers (no cursor).
        async fn list_keys(
            &mut self,
            bucket: Resource<KvHandle>,
            _cursor: Option<String>,
        ) -> Result<Result<KeyResponse, Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store
                .keys()
                .await
                .map(|keys| KeyResponse { keys, cursor: None })
                .map_err(error))
        }

        async fn drop(&mut self, bucket: Resource<KvHandle>) -> Result<()> {
            self.table.delete(bucket)?;
            Ok(())
        }
    }

    impl atomics::Host for InstanceState {
        async fn increment(
            &mut self,
            bucket: Resource<KvHandle>,
            key: String,
            delta: i64,
        ) -> Result<Result<i64, Error>> {
            let store = self.table.get(&bucket)?.store.clone();
            Ok(store.increment(key, delta).await.map_err(error))
        }

        async fn swap(&mut self, cas: Resource<CasHandle>, _value: Vec<u8>) -> Result<Result<(), CasError>> {
            self.table.delete(cas)?;
            Ok(Err(CasError::StoreError(Error::Other(
                "compare-and-swap is not supported by devhost".into(),
            ))))
        }
    }

    impl atomics::HostCas for InstanceState {
        async fn new(
            &mut self,
            _bucket: Resource<KvHandle>,
            _key: String,
        ) -> Result<Result<Resource<CasHandle>, Error>> {
            Ok(Err(Error::Other("compare-and-swap is not supported by devhost".into())))
        }

        async fn current(&mut self, _cas: Resource<CasHandle>) -> Result<Result<Option<Vec<u8>>, Error>> {
            Ok(Err(Error::Other("compare-and-swap is not supported by devhost".into())))
        }

        async fn drop(&mut self, cas: Resource<CasHandle>) -> Result<()> {
            self.table.delete(cas)?;
            Ok(())
        }
    }
}
