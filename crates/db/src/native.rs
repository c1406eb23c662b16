//! rusqlite behind [`Db`], so services' SQL runs in native unit tests.

use std::cell::RefCell;

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::{Db, DbError, Rows, Value};

pub struct MemoryDb(RefCell<rusqlite::Connection>);

impl MemoryDb {
    pub fn new() -> Self {
        MemoryDb(RefCell::new(
            rusqlite::Connection::open_in_memory().expect("in-memory SQLite opens"),
        ))
    }
}

impl Default for MemoryDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Db for MemoryDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let conn = self.0.borrow();
        let err = |e: rusqlite::Error| DbError::from_message(e.to_string());
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let params = params.iter().map(|p| match p {
            Value::Integer(i) => SqlValue::Integer(*i),
            Value::Real(f) => SqlValue::Real(*f),
            Value::Text(s) => SqlValue::Text(s.clone()),
            Value::Blob(b) => SqlValue::Blob(b.clone()),
            Value::Null => SqlValue::Null,
        });
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(Rows::new(columns, out))
    }
}
