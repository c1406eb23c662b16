//! `fermyon:spin/sqlite@2.0.0` on SQLite files, as Spin's `type = "spin"`
//! databases: each guest `open` gets its own connection (a transaction a
//! request begins is its own), opened as Spin opens it — SQLite's default
//! rollback journal (no WAL) and rusqlite's 5 s busy timeout, so concurrent
//! writers wait on the lock for up to 5 s and then fail with "database is
//! locked", on both hosts. A database without a `path` is in memory and, as in
//! Spin, private to the connection that opened it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use rusqlite::types::{Value as SqlValue, ValueRef};
use wasmtime::component::Resource;

use super::InstanceState;
use crate::bindings::spin::fermyon::spin2_0_0::sqlite::{Error, Host, HostConnection, QueryResult, RowResult, Value};

/// What rusqlite sets on every connection it opens (and so Spin's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A configured database: a file, or `None` for a fresh in-memory database
/// per connection.
pub struct SqliteDb {
    path: Option<PathBuf>,
}

pub struct SqliteHandle {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

/// Open a SQLite file, creating its directory; `None` is an in-memory database.
pub fn open_file(path: Option<&Path>) -> Result<rusqlite::Connection> {
    let conn = match path {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            rusqlite::Connection::open(path).with_context(|| format!("opening SQLite file {}", path.display()))?
        }
        None => rusqlite::Connection::open_in_memory()?,
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl SqliteDb {
    /// Checks at start-up that the file can be opened (Spin creates its
    /// directory then, and fails on the first query otherwise).
    pub fn new(path: Option<&Path>) -> Result<Self> {
        if let Some(path) = path {
            open_file(Some(path))?;
        }
        Ok(SqliteDb {
            path: path.map(Path::to_path_buf),
        })
    }

    fn connect(&self) -> Result<rusqlite::Connection> {
        open_file(self.path.as_deref())
    }
}

fn execute(conn: &rusqlite::Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let params = params.into_iter().map(|v| match v {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(f) => SqlValue::Real(f),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

impl Host for InstanceState {}

impl HostConnection for InstanceState {
    async fn open(&mut self, database: String) -> Result<Result<Resource<SqliteHandle>, Error>> {
        if !self.component.sqlite_databases.contains(&database) {
            return Ok(Err(Error::AccessDenied));
        }
        let Some(db) = self.stores.sqlite.get(&database).cloned() else {
            return Ok(Err(Error::NoSuchDatabase));
        };
        let conn = match tokio::task::spawn_blocking(move || db.connect()).await? {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(Error::Io(format!("{e:#}")))),
        };
        let handle = SqliteHandle {
            conn: Arc::new(Mutex::new(conn)),
        };
        Ok(Ok(self.table.push(handle)?))
    }

    async fn execute(
        &mut self,
        conn: Resource<SqliteHandle>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Result<QueryResult, Error>> {
        let conn = self.table.get(&conn)?.conn.clone();
        let result = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| anyhow!("sqlite connection poisoned"))?;
            Ok::<_, anyhow::Error>(execute(&conn, &statement, parameters))
        })
        .await??;
        Ok(result.map_err(|e| Error::Io(e.to_string())))
    }

    async fn drop(&mut self, conn: Resource<SqliteHandle>) -> Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}
