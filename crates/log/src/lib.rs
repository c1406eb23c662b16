//! The one way Streamia writes its log: one JSON object per line,
//! `{"level", "service", "msg", …fields}`, so that an operator's tools
//! (and the tests) find a line by its fields, never by its wording. Every
//! level goes to standard output, one stream in order (Spin keeps it per
//! component); the level is a field. Never a token, a password or a body
//! in a field.

use std::sync::OnceLock;

pub use serde_json::json;
use serde_json::{Map, Value};

static COMPONENT: OnceLock<&'static str> = OnceLock::new();

/// Names the component this instance runs (`movies`, `gateway`): what the
/// crates below a service, which do not know it, log as their `service`.
/// Set once, at the start of a request or event; later calls change nothing.
pub fn set_component(name: &'static str) {
    let _ = COMPONENT.set(name);
}

/// The component named by [`set_component`]; `streamia` before that.
pub fn component() -> &'static str {
    COMPONENT.get().copied().unwrap_or("streamia")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The line for `msg` from `service`, with `fields` (a JSON object; any
/// other value is kept under `detail`). A field cannot replace `level`,
/// `service` or `msg`.
pub fn line(level: Level, service: &str, msg: &str, fields: Value) -> String {
    let mut object = Map::new();
    object.insert("level".into(), level.name().into());
    object.insert("service".into(), service.into());
    object.insert("msg".into(), msg.into());
    match fields {
        Value::Object(fields) => {
            for (name, value) in fields {
                object.entry(name).or_insert(value);
            }
        }
        Value::Null => {}
        other => {
            object.insert("detail".into(), other);
        }
    }
    Value::Object(object).to_string()
}

pub fn write(level: Level, service: &str, msg: &str, fields: Value) {
    println!("{}", line(level, service, msg, fields));
}

pub fn info(service: &str, msg: &str, fields: Value) {
    write(Level::Info, service, msg, fields)
}

pub fn warn(service: &str, msg: &str, fields: Value) {
    write(Level::Warn, service, msg, fields)
}

pub fn error(service: &str, msg: &str, fields: Value) {
    write(Level::Error, service, msg, fields)
}

/// `{"error": "<e>"}`: the usual field of a warning about a failure.
pub fn because(e: impl std::fmt::Display) -> Value {
    serde_json::json!({ "error": e.to_string() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_line_is_one_json_object_whose_fields_cannot_hide_who_said_what() {
        let text = line(
            Level::Warn,
            "gateway",
            "circuit breaker",
            json!({"breaker": "movies.catalogue", "msg": "forged", "level": "info"}),
        );
        assert!(!text.contains('\n'));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["level"], "warn");
        assert_eq!(value["service"], "gateway");
        assert_eq!(value["msg"], "circuit breaker");
        assert_eq!(value["breaker"], "movies.catalogue");
    }

    #[test]
    fn an_error_is_kept_as_text_and_a_bare_value_as_detail() {
        let value: Value = serde_json::from_str(&line(Level::Error, "movies", "x", because("disk full"))).unwrap();
        assert_eq!(value["error"], "disk full");
        let value: Value = serde_json::from_str(&line(Level::Info, "movies", "x", json!(3))).unwrap();
        assert_eq!(value["detail"], 3);
    }
}
