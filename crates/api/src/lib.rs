//! HTTP conventions shared by every Streamia service (SPEC §3).
//!
//! Layout: [`ApiError`] is the one error type handlers return, turned into
//! the JSON error shape in one place ([`ApiError::to_response`]); [`body`]
//! reads JSON request bodies with the 415/413/400 checks; [`page`] parses
//! `page`/`limit` and shapes paginated lists; [`MovieId`] parses ids from paths; [`request_id`] takes or makes
//! the `X-Request-Id`; [`Ctx`] carries the request id and the parsed query.

mod error;
pub mod health;
mod ids;
pub mod import;
pub mod page;
pub mod request_id;

use std::collections::HashMap;

pub use error::{ApiError, FieldError, Validator, DEPENDENCY_HEADER};
pub use ids::MovieId;
pub use page::{Page, Paginated};
pub use streamia_settings::{self as settings, Settings};

/// A JSON number that is a whole number, as JSON Schema's `integer` means
/// it: `4` and `4.0` are, `4.5`, `"4"` and `true` are not.
pub fn whole_number(value: &serde_json::Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// `#[serde(default, deserialize_with = ...)]` for a field that may be left
/// out but not sent as null: absent is `None`, null a 400 like any other
/// value of the wrong type.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `#[serde(deserialize_with = ...)]` for an optional [`whole_number`]
/// field: null or absent is `None`, any other non-whole value an error.
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => whole_number(&value)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{value} is not a whole number"))),
    }
}

/// `#[serde(deserialize_with = ...)]` for a required [`whole_number`] field.
pub fn required_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::Deserialize;
    let value = serde_json::Value::deserialize(d)?;
    whole_number(&value).ok_or_else(|| serde::de::Error::custom(format!("{value} is not a whole number")))
}

use serde::de::DeserializeOwned;
use serde::Serialize;
use spin_sdk::http::{OutgoingBody, OutgoingResponse, Request, Response, ResponseOutparam};

/// The largest JSON body a non-upload route accepts (SPEC §3: 1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What every handler needs besides the request itself.
pub struct Ctx {
    pub request_id: String,
    query: HashMap<String, String>,
}

impl Ctx {
    pub fn new(req: &Request) -> Self {
        Ctx {
            request_id: request_id::from_request(req),
            query: parse_query(req.query()),
        }
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// `page`/`limit` from the query string (SPEC §3).
    pub fn page(&self) -> Result<Page, ApiError> {
        Page::parse(self.query("page"), self.query("limit"))
    }

    /// A JSON response carrying this request's id.
    pub fn json<T: Serialize>(&self, status: u16, value: &T) -> Response {
        json_response(status, value, &self.request_id)
    }

    pub fn no_content(&self) -> Response {
        Response::builder()
            .status(204)
            .header(request_id::HEADER, self.request_id.as_str())
            .build()
    }

    /// Turn a handler's result into the response, errors in the JSON shape.
    pub fn respond(&self, result: Result<Response, ApiError>) -> Response {
        match result {
            Ok(resp) => resp,
            Err(e) => e.to_response(&self.request_id),
        }
    }
}

pub fn parse_query(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

pub fn json_response<T: Serialize>(status: u16, value: &T, request_id: &str) -> Response {
    // Serialising our own response types cannot fail; an empty object is a
    // safer answer than a panic if one ever did.
    json_bytes(
        status,
        serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
        request_id,
    )
}

/// A response whose body is JSON already serialised.
pub fn json_bytes(status: u16, body: Vec<u8>, request_id: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(request_id::HEADER, request_id)
        .body(body)
        .build()
}

/// Hand `resp` to the host, head and body together when it can take the
/// body at once. The host writes what it has when it gets the head; a body
/// that follows later leaves in a second small segment, which on a
/// keep-alive connection waits for the client's delayed ACK (Nagle's
/// algorithm): ~40 ms per request, which capped a connection at ~25
/// requests a second. So the length is declared, and the body is written
/// and finished before the head is set; a body larger than the host's
/// buffer is streamed after it.
pub fn send_response(out: ResponseOutparam, mut resp: Response) {
    let length = resp.body().len().to_string();
    resp.set_header("content-length", length);
    let body = std::mem::take(resp.body_mut());
    let head = match OutgoingResponse::try_from(resp) {
        Ok(head) => head,
        Err(e) => return not_sent("response not sent", e.to_string()),
    };
    let Ok(outgoing) = head.body() else {
        return not_sent("response not sent", "its body was taken".into());
    };
    let Ok(stream) = outgoing.write() else {
        return not_sent("response not sent", "its body is not writable".into());
    };
    let whole = matches!(stream.check_write(), Ok(n) if usize::try_from(n).is_ok_and(|n| n >= body.len()));
    let written = if whole {
        let written = stream.write(&body);
        out.set(head);
        written
    } else {
        out.set(head);
        // 4096 bytes is the most one blocking write may take.
        body.chunks(4096)
            .try_for_each(|chunk| stream.blocking_write_and_flush(chunk))
    };
    drop(stream);
    match written {
        Ok(()) => {
            if let Err(e) = OutgoingBody::finish(outgoing, None) {
                not_sent("response body not finished", format!("{e:?}"));
            }
        }
        // The client went away: nothing more to send.
        Err(e) => not_sent("response body not sent", format!("{e:?}")),
    }
}

/// Read a JSON body: 415 unless it is `application/json`, 413 above `limit`
/// bytes, 400 unless it is a JSON object (serde would read a struct from an
/// array, field by field: `[]` must not pass for `{}`), 400 with the
/// parser's reason when it does not fit `T`.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let content_type = req.header("content-type").and_then(|v| v.as_str()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let body = req.body();
    if body.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest {
            code: "invalid_json",
            message: "request body must be a JSON object".into(),
        });
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        message: format!(
            "request body is not valid JSON for this route: {}",
            describe_json_error(&e)
        ),
    })
}

/// serde's message without the echo of input values it sometimes includes.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    // Keep it short; a client only needs the gist.
    text.chars().take(200).collect()
}

fn not_sent(what: &str, why: String) {
    streamia_log::warn(streamia_log::component(), what, streamia_log::json!({ "error": why }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_what_json_schema_calls_integers() {
        use serde_json::json;
        let cases = [
            (json!(4), Some(4)),
            (json!(4.0), Some(4)),
            (json!(-3), Some(-3)),
            (json!(1e2), Some(100)),
            (json!(4.5), None),
            (json!("4"), None),
            (json!(true), None),
            (json!(null), None),
        ];
        for (value, want) in cases {
            assert_eq!(whole_number(&value), want, "{value}");
        }
    }

    #[test]
    fn a_present_field_may_be_left_out_but_not_sent_as_null() {
        #[derive(serde::Deserialize, Debug)]
        struct Profile {
            #[serde(default, deserialize_with = "present")]
            name: Option<String>,
        }
        let parse = |text: &str| serde_json::from_str::<Profile>(text).map(|p| p.name);
        assert_eq!(parse("{}").unwrap(), None);
        assert_eq!(parse(r#"{"name":"ana"}"#).unwrap(), Some("ana".into()));
        assert!(parse(r#"{"name":null}"#).is_err());
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        let q = parse_query("search=the%20matrix&genre=sci-fi&x=a+b");
        assert_eq!(q["search"], "the matrix");
        assert_eq!(q["genre"], "sci-fi");
        assert_eq!(q["x"], "a b");
    }

    fn request(content_type: Option<&str>, body: &[u8]) -> Request {
        let mut b = Request::builder();
        b.method(spin_sdk::http::Method::Post).uri("/x");
        if let Some(ct) = content_type {
            b.header("content-type", ct);
        }
        b.body(body.to_vec()).build()
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        email: String,
    }

    #[test]
    fn json_bodies_are_checked_before_parsing() {
        let ok = json_body::<Login>(
            &request(Some("application/json; charset=utf-8"), br#"{"email":"a@b.c"}"#),
            100,
        );
        assert!(ok.is_ok());
        let cases: [(Option<&str>, &[u8], usize, u16); 7] = [
            (None, b"{}", 100, 415),
            (Some("text/plain"), b"{}", 100, 415),
            (Some("application/json"), br#"{"email":"a@b.c"}"#, 5, 413),
            (Some("application/json"), b"{not json", 100, 400),
            (Some("application/json"), br#"["a@b.c"]"#, 100, 400),
            (Some("application/json"), b" null", 100, 400),
            (Some("application/json"), b"", 100, 400),
        ];
        for (ct, body, limit, status) in cases {
            let err = json_body::<Login>(&request(ct, body), limit).unwrap_err();
            assert_eq!(err.status(), status, "{ct:?} {:?}", String::from_utf8_lossy(body));
        }
    }
}
