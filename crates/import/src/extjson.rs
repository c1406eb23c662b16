//! Values of MongoDB Extended JSON v2 as `mongoexport` writes them.
//!
//! Relaxed (its default): numbers as JSON numbers, dates as
//! `{"$date": "2021-03-04T05:06:07.089Z"}` (or `{"$date": {"$numberLong":
//! "…"}}` outside years 1970–9999). Canonical (`--jsonFormat=canonical`):
//! `{"$numberInt": "5"}`, `{"$numberLong": "…"}`, `{"$numberDouble": "4.5"}`,
//! `{"$date": {"$numberLong": "…"}}`. ObjectIds are `{"$oid": "<24 hex>"}`
//! in both.

use serde_json::Value;

use crate::ids::ObjectId;

/// Why a field could not be read; the caller adds file, line and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn wrapped<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(key),
        _ => None,
    }
}

fn describe(value: &Value) -> String {
    let text = value.to_string();
    match text.chars().count() > 60 {
        true => format!("{}…", text.chars().take(60).collect::<String>()),
        false => text,
    }
}

/// `{"$oid": "…"}` (a bare 24-hex string is taken too: some exports, and
/// references Mongoose stored as strings, have them).
pub fn object_id(value: &Value) -> Result<ObjectId, ValueError> {
    let hex = match (wrapped(value, "$oid"), value) {
        (Some(Value::String(hex)), _) | (None, Value::String(hex)) => hex,
        _ => return Err(ValueError(format!("expected an ObjectId, found {}", describe(value)))),
    };
    ObjectId::parse(hex).map_err(ValueError)
}

/// A date as milliseconds since the Unix epoch.
pub fn date_ms(value: &Value) -> Result<i64, ValueError> {
    let not_a_date = || ValueError(format!("expected a date, found {}", describe(value)));
    match wrapped(value, "$date") {
        Some(Value::String(text)) => {
            let at = humantime::parse_rfc3339_weak(text).map_err(|_| not_a_date())?;
            let ms = match at.duration_since(std::time::UNIX_EPOCH) {
                Ok(after) => after.as_millis() as i64,
                Err(before) => -(before.duration().as_millis() as i64),
            };
            Ok(ms)
        }
        Some(inner @ Value::Object(_)) => wrapped(inner, "$numberLong")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok())
            .ok_or_else(not_a_date),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(not_a_date),
        _ => Err(not_a_date()),
    }
}

/// A number in either form, as a float (`$numberDecimal` too).
pub fn number(value: &Value) -> Result<f64, ValueError> {
    let not_a_number = || ValueError(format!("expected a number, found {}", describe(value)));
    if let Some(n) = value.as_f64() {
        return Ok(n);
    }
    for key in ["$numberInt", "$numberLong", "$numberDouble", "$numberDecimal"] {
        if let Some(text) = wrapped(value, key) {
            return text
                .as_str()
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|n| n.is_finite())
                .ok_or_else(not_a_number);
        }
    }
    Err(not_a_number())
}

/// A whole number in either form (4.0 is 4; 4.5 is not whole).
pub fn integer(value: &Value) -> Result<i64, ValueError> {
    let n = number(value)?;
    match n.fract() == 0.0 && n.abs() < 9e15 {
        true => Ok(n as i64),
        false => Err(ValueError(format!(
            "expected a whole number, found {}",
            describe(value)
        ))),
    }
}

/// A string (MongoDB strings are the same in both forms).
pub fn string(value: &Value) -> Result<&str, ValueError> {
    value
        .as_str()
        .ok_or_else(|| ValueError(format!("expected a string, found {}", describe(value))))
}

/// A boolean.
pub fn boolean(value: &Value) -> Result<bool, ValueError> {
    value
        .as_bool()
        .ok_or_else(|| ValueError(format!("expected true or false, found {}", describe(value))))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OID: &str = "5f1d7f3b8c9d440012345678";

    #[test]
    fn object_ids_in_both_forms_and_as_strings() {
        let expected = ObjectId::parse(OID).unwrap();
        assert_eq!(object_id(&json!({"$oid": OID})), Ok(expected));
        assert_eq!(object_id(&json!(OID)), Ok(expected));
        assert!(object_id(&json!({"$oid": "5f1d"})).is_err());
        assert!(object_id(&json!({"$oid": OID, "x": 1})).is_err());
        assert!(object_id(&json!(42)).is_err());
    }

    #[test]
    fn dates_relaxed_canonical_and_before_1970() {
        let at = 1_615_000_000_089;
        assert_eq!(date_ms(&json!({"$date": "2021-03-06T03:06:40.089Z"})), Ok(at));
        assert_eq!(date_ms(&json!({"$date": {"$numberLong": at.to_string()}})), Ok(at));
        assert_eq!(date_ms(&json!({"$date": "2021-03-06T03:06:40Z"})), Ok(at - 89));
        assert_eq!(
            date_ms(&json!({"$date": {"$numberLong": "-86400000"}})),
            Ok(-86_400_000)
        );
        let err = date_ms(&json!({"$date": "last tuesday"})).unwrap_err();
        assert_eq!(err.0, r#"expected a date, found {"$date":"last tuesday"}"#);
        assert!(
            date_ms(&json!("2021-03-06T03:06:40Z")).is_err(),
            "a bare string is not a date"
        );
    }

    #[test]
    fn numbers_relaxed_and_canonical() {
        assert_eq!(number(&json!(4.5)), Ok(4.5));
        assert_eq!(integer(&json!(4)), Ok(4));
        assert_eq!(integer(&json!({"$numberInt": "5"})), Ok(5));
        assert_eq!(integer(&json!({"$numberLong": "7"})), Ok(7));
        assert_eq!(integer(&json!({"$numberDouble": "3.0"})), Ok(3));
        assert_eq!(number(&json!({"$numberDecimal": "4.25"})), Ok(4.25));
        assert!(integer(&json!({"$numberDouble": "3.5"})).is_err());
        assert!(number(&json!({"$numberDouble": "NaN"})).is_err());
        assert!(number(&json!({"$numberDouble": "Infinity"})).is_err());
        assert!(number(&json!("5")).is_err());
    }
}
