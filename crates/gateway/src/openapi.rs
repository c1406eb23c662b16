//! The OpenAPI document as the gateway serves it at `/api/openapi.json`:
//! `docs/openapi.json` with each bound that moves with the calendar stated
//! for today. A release year may be next year at most, so the document
//! marks that bound `"x-maximum": "next-year"` and the served copy adds
//! `"maximum": <next year>` beside it: the contract a client reads is the
//! rule the API applies now, not the year the file was last edited.

use serde_json::Value;

/// The mark of a `maximum` that is next year's number.
pub const NEXT_YEAR: &str = "next-year";

/// `document` with every `"x-maximum": "next-year"` stated as `maximum`.
pub fn served(document: &str, current_year: u32) -> Result<String, serde_json::Error> {
    let mut doc: Value = serde_json::from_str(document)?;
    state_bounds(&mut doc, current_year);
    serde_json::to_string(&doc)
}

fn state_bounds(value: &mut Value, current_year: u32) {
    match value {
        Value::Object(map) => {
            if map.get("x-maximum").and_then(Value::as_str) == Some(NEXT_YEAR) {
                map.insert("maximum".into(), (current_year + 1).into());
            }
            map.values_mut().for_each(|v| state_bounds(v, current_year));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| state_bounds(v, current_year)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_marked_next_year_is_stated_for_the_current_year() {
        let doc = r#"{"ReleaseYear":{"type":"integer","minimum":1888,"x-maximum":"next-year"},
            "params":[{"schema":{"x-maximum":"next-year"}}],"Other":{"maximum":5}}"#;
        let served: Value = serde_json::from_str(&served(doc, 2026).unwrap()).unwrap();
        assert_eq!(served["ReleaseYear"]["maximum"], 2027);
        assert_eq!(served["ReleaseYear"]["minimum"], 1888);
        assert_eq!(served["params"][0]["schema"]["maximum"], 2027);
        assert_eq!(served["Other"]["maximum"], 5, "other bounds stay");
        assert!(served.get("maximum").is_none());
    }

    #[test]
    fn the_repositorys_document_marks_the_release_year_and_parses() {
        let text = include_str!("../../../docs/openapi.json");
        let served: Value = serde_json::from_str(&served(text, 2030).unwrap()).unwrap();
        assert_eq!(served["components"]["schemas"]["ReleaseYear"]["maximum"], 2031);
    }
}
