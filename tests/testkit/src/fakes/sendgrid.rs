use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::wire::read_request;

/// A local stand-in for SendGrid's v3 Mail Send API (`POST /v3/mail/send`),
/// checking a request the way SendGrid does: `Authorization: Bearer <key>`
/// (401 otherwise), a JSON body with at least one personalization holding a
/// `to` address, a `from` address, a subject and content whose first item is
/// `text/plain` (400 with SendGrid's `{"errors":[{message,field}]}` otherwise).
/// Accepted mail gets 202 and an `X-Message-Id`. Answers can be scripted:
/// [`FakeSendGrid::answer_next`] queues statuses for the next requests,
/// [`FakeSendGrid::always_fail`] makes one recipient always get a status,
/// [`FakeSendGrid::hold`] keeps requests unanswered until released.
pub struct FakeSendGrid {
    pub port: u16,
    state: Arc<Mutex<SendGridState>>,
}

#[derive(Default)]
struct SendGridState {
    requests: Vec<SendGridRequest>,
    queued: std::collections::VecDeque<u16>,
    failing: Vec<(String, u16)>,
    /// Requests wait unanswered while this is set.
    held: bool,
    /// Requests read and not yet answered.
    waiting: usize,
}

#[derive(Debug, Clone)]
pub struct SendGridRequest {
    /// The parsed body (Null when it was not JSON).
    pub body: serde_json::Value,
    pub status: u16,
}

impl SendGridRequest {
    pub fn to(&self) -> &str {
        self.body["personalizations"][0]["to"][0]["email"]
            .as_str()
            .unwrap_or("")
    }

    /// The content of this MIME type.
    pub fn content(&self, mime: &str) -> String {
        self.body["content"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == mime)
            .and_then(|c| c["value"].as_str())
            .unwrap_or("")
            .to_owned()
    }
}

fn sendgrid_check(
    headers: &[(String, String)],
    body: &serde_json::Value,
    api_key: &str,
) -> Result<(), (u16, String, String)> {
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if header("authorization") != Some(&format!("Bearer {api_key}")) {
        return Err((
            401,
            "The provided authorization grant is invalid, expired, or revoked".into(),
            String::new(),
        ));
    }
    if !header("content-type").unwrap_or("").starts_with("application/json") || body.is_null() {
        return Err((400, "Bad Request".into(), String::new()));
    }
    let is_address = |v: &serde_json::Value| v.as_str().is_some_and(|s| s.contains('@') && !s.contains(' '));
    if !is_address(&body["personalizations"][0]["to"][0]["email"]) {
        return Err((
            400,
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.".into(),
            "personalizations.0.to".into(),
        ));
    }
    if !is_address(&body["from"]["email"]) {
        return Err((
            400,
            "The from email does not contain a valid address.".into(),
            "from.email".into(),
        ));
    }
    if body["subject"].as_str().is_none_or(str::is_empty) {
        return Err((400, "The subject is required.".into(), "subject".into()));
    }
    let content = body["content"].as_array().cloned().unwrap_or_default();
    if content.is_empty() || content.iter().any(|c| c["value"].as_str().is_none_or(str::is_empty)) {
        return Err((
            400,
            "The content value must be a string at least one character in length.".into(),
            "content.0.value".into(),
        ));
    }
    if content[0]["type"] != "text/plain" && content.iter().any(|c| c["type"] == "text/plain") {
        return Err((
            400,
            "If present, text/plain content must be first, followed by any other content.".into(),
            "content".into(),
        ));
    }
    Ok(())
}

impl FakeSendGrid {
    pub fn start(api_key: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(SendGridState::default()));
        let (key, shared) = (api_key.to_owned(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let (method, path, headers, body) = (&request.method, &request.path, &request.headers, &request.body);
                let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
                let mut st = shared.lock().unwrap();
                st.waiting += 1;
                while st.held {
                    drop(st);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    st = shared.lock().unwrap();
                }
                st.waiting -= 1;
                let checked = if method != "POST" || path != "/v3/mail/send" {
                    Err((404, "Not found".to_owned(), String::new()))
                } else {
                    sendgrid_check(headers, &json, &key)
                };
                let to = json["personalizations"][0]["to"][0]["email"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let scripted = st
                    .failing
                    .iter()
                    .find(|(addr, _)| *addr == to)
                    .map(|(_, s)| *s)
                    .or_else(|| if checked.is_ok() { st.queued.pop_front() } else { None });
                let (status, reply, extra) = match (&checked, scripted) {
                    (Err((status, message, field)), _) => (
                        *status,
                        serde_json::json!({"errors": [{"message": message, "field": if field.is_empty() { serde_json::Value::Null } else { field.clone().into() }, "help": null}]}).to_string(),
                        String::new(),
                    ),
                    (Ok(()), Some(429)) => (
                        429,
                        r#"{"errors":[{"field":null,"message":"too many requests"}]}"#.to_owned(),
                        "retry-after: 1\r\nx-ratelimit-remaining: 0\r\n".to_owned(),
                    ),
                    (Ok(()), Some(status)) if status >= 300 => (
                        status,
                        r#"{"errors":[{"field":null,"message":"internal error"}]}"#.to_owned(),
                        String::new(),
                    ),
                    (Ok(()), _) => (202, String::new(), format!("x-message-id: fake-{}\r\n", st.requests.len() + 1)),
                };
                st.requests.push(SendGridRequest { body: json, status });
                drop(st);
                write!(
                    stream,
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    if status == 202 { "Accepted" } else { "Error" },
                    reply.len()
                )
                .ok();
            }
        });
        FakeSendGrid { port, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next requests that pass the checks get these statuses, in order.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().queued.extend(statuses);
    }

    /// Every request to `address` gets `status`.
    pub fn always_fail(&self, address: &str, status: u16) {
        self.state.lock().unwrap().failing.push((address.to_owned(), status));
    }

    /// Leave requests unanswered until [`FakeSendGrid::release`].
    pub fn hold(&self) {
        self.state.lock().unwrap().held = true;
    }

    pub fn release(&self) {
        self.state.lock().unwrap().held = false;
    }

    /// Requests received and not answered yet (held).
    pub fn waiting(&self) -> usize {
        self.state.lock().unwrap().waiting
    }

    /// Every request answered, in order, with the status it got.
    pub fn requests(&self) -> Vec<SendGridRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The mail SendGrid accepted (202), in order.
    pub fn delivered(&self) -> Vec<SendGridRequest> {
        self.requests().into_iter().filter(|r| r.status == 202).collect()
    }
}
