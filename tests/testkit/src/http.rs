//! Talking HTTP to the app, and a tiny upstream that answers everything.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn request(method: &str, url: &str, body: &str) -> Reply {
    call(method, url, &[], body)
}

/// Any request, with headers; an HTTP error status is a reply, not a failure.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    call_bytes(method, url, headers, body.as_bytes().to_vec())
}

/// [`call`] with a binary body.
pub fn call_bytes(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(body).unwrap();
    let mut resp = agent().run(req).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Reply { status, body, headers }
}

pub fn get(url: &str) -> Reply {
    request("GET", url, "")
}

/// Whether something accepts connections on the loopback `port` yet.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An HTTP server that answers every request with 200 and `upstream <path>`.
pub fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let Some(request) = crate::fakes::read_request(&mut stream) else {
                    return;
                };
                let path = request.path;
                let body = format!("upstream {path}");
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .ok();
            });
        }
    });
    port
}
