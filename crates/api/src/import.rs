//! What every service's import route takes: a batch of one kind of row, as
//! the import from the old system (crates/import) sends them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// `POST /import/{kind} {"rows": […]}` (admins); the kind is the path's.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBatch {
    #[serde(skip)]
    pub kind: String,
    pub rows: Vec<serde_json::Value>,
}

/// Rows a batch may hold: a batch is one transaction, kept short.
pub const IMPORT_BATCH_MAX: usize = 1000;

/// What a batch did: rows written, and rows already there (a re-run, or a
/// resumed run sending a batch again) that were left as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub written: usize,
    pub unchanged: usize,
}

impl Imported {
    pub fn of(rows: usize, written: usize) -> Self {
        Imported {
            written,
            unchanged: rows.saturating_sub(written),
        }
    }
}

/// An id an imported row carries: a UUID in its hyphenated lower-case text.
pub fn uuid(field: &str, value: &str) -> Result<String, ApiError> {
    match uuid::Uuid::parse_str(value) {
        Ok(id) if id.hyphenated().to_string() == value => Ok(value.to_owned()),
        _ => Err(ApiError::validation(
            field,
            "must be a UUID in lower-case hyphenated text",
        )),
    }
}

/// The latest time an imported row may carry: the end of year 9999.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// A time an imported row carries, in milliseconds since 1970: from 0
/// to [`MAX_TIMESTAMP_MS`].
pub fn timestamp(field: &str, ms: i64) -> Result<i64, ApiError> {
    match (0..=MAX_TIMESTAMP_MS).contains(&ms) {
        true => Ok(ms),
        false => Err(ApiError::validation(
            field,
            format!("must be from 0 to {MAX_TIMESTAMP_MS}"),
        )),
    }
}

impl ImportBatch {
    /// Every row as a `T`; the first that is not one is a 400 naming it.
    pub fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        if self.rows.len() > IMPORT_BATCH_MAX {
            return Err(ApiError::validation(
                "rows",
                format!("at most {IMPORT_BATCH_MAX} rows a batch"),
            ));
        }
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| T::deserialize(row).map_err(|e| ApiError::validation(&format!("rows[{i}]"), e.to_string())))
            .collect()
    }

    /// 404 for a kind this service does not import.
    pub fn unknown_kind(&self, known: &[&str]) -> ApiError {
        ApiError::NotFound(format!("this service imports {} only", known.join(" and ")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Row {
        a: i64,
    }

    #[test]
    fn rows_parse_or_name_the_first_bad_one() {
        let batch = ImportBatch {
            kind: "x".into(),
            rows: vec![json!({"a": 1}), json!({"a": "two"})],
        };
        let parsed: ImportBatch = serde_json::from_value(json!({"rows": []})).unwrap();
        assert_eq!(parsed.kind, "", "the kind comes from the path");
        assert!(serde_json::from_value::<ImportBatch>(json!({"kind": "users", "rows": []})).is_err());
        let err = batch.rows::<Row>().unwrap_err();
        let ApiError::Validation(fields) = err else {
            panic!("{err:?}")
        };
        assert_eq!(fields[0].field, "rows[1]");
        let ok = ImportBatch {
            kind: "x".into(),
            rows: vec![json!({"a": 1})],
        };
        assert_eq!(ok.rows::<Row>().unwrap(), vec![Row { a: 1 }]);
        let many = ImportBatch {
            kind: "x".into(),
            rows: vec![json!({"a": 1}); IMPORT_BATCH_MAX + 1],
        };
        assert!(many.rows::<Row>().is_err());
        assert_eq!(
            Imported::of(10, 4),
            Imported {
                written: 4,
                unchanged: 6
            }
        );
    }
}
