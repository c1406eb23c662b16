//! Values and result rows, independent of the driver underneath.

use crate::DbError;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Integer(i64::from(b))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Self {
        Rows { columns, rows }
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn into_rows(self) -> Vec<Vec<Value>> {
        self.rows
    }
}

/// One row, read by column name.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl Row<'_> {
    fn get(&self, column: &str) -> Result<&Value, DbError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DbError::Column(column.to_owned()))
    }

    pub fn text(&self, column: &str) -> Result<String, DbError> {
        match self.get(column)? {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, DbError> {
        match self.get(column)? {
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Null => Ok(None),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, DbError> {
        match self.get(column)? {
            Value::Integer(i) => Ok(*i),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, DbError> {
        match self.get(column)? {
            Value::Integer(i) => Ok(Some(*i)),
            Value::Null => Ok(None),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    pub fn real(&self, column: &str) -> Result<f64, DbError> {
        match self.get(column)? {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            _ => Err(DbError::Column(column.to_owned())),
        }
    }

    pub fn bool(&self, column: &str) -> Result<bool, DbError> {
        Ok(self.int(column)? != 0)
    }
}
