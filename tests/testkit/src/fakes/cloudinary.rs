use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::wire::{multipart_fields, read_request};

/// A local stand-in for Cloudinary's Upload API: `POST /v1_1/<cloud>/<type>/upload`
/// (multipart, with a file) and `…/destroy` (form), answered only when the
/// signature is valid the way Cloudinary checks it (sorted parameters, API
/// secret appended, SHA-1 hex; timestamp within the hour). Like Cloudinary
/// it answers browsers' CORS preflights (a direct upload from a page), and
/// after a video upload that names a `notification_url` it sends the signed
/// upload notification there, to the app given by
/// [`FakeCloudinary::deliver_notifications_to`] (the public host, here).
pub struct FakeCloudinary {
    pub port: u16,
    calls: Arc<Mutex<Vec<CloudinaryCall>>>,
    notify_base: Arc<Mutex<Option<String>>>,
    /// While set, every API call is answered with this status, as
    /// Cloudinary answers when it is failing.
    failing: Arc<Mutex<Option<u16>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloudinaryCall {
    pub path: String,
    pub params: Vec<(String, String)>,
    /// Whether the fake accepted it (valid key and signature).
    pub accepted: bool,
}

/// Cloudinary's request signature, computed independently of the app.
pub fn cloudinary_signature(params: &[(String, String)], secret: &str) -> String {
    use sha1::Digest;
    let mut signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| {
            !matches!(
                k.as_str(),
                "file" | "cloud_name" | "resource_type" | "api_key" | "signature"
            ) && !v.is_empty()
        })
        .collect();
    signed.sort();
    let joined = signed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    sha1::Sha1::digest(format!("{joined}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What Cloudinary's API answers any origin.
const CORS: &str = "access-control-allow-origin: *\r\naccess-control-allow-methods: POST, GET, OPTIONS\r\n\
    access-control-allow-headers: *\r\naccess-control-max-age: 600\r\n";

/// Cloudinary's upload notification: the JSON body, `X-Cld-Timestamp`, and
/// `X-Cld-Signature` = SHA-1 hex of body, timestamp and API secret.
fn notify(base: &str, target: &str, body: &str, secret: &str) {
    use sha1::Digest;
    let path = target
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signature: String = sha1::Sha1::digest(format!("{body}{timestamp}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    crate::http::call(
        "POST",
        &format!("{base}{path}"),
        &[
            ("content-type", "application/json"),
            ("x-cld-timestamp", &timestamp),
            ("x-cld-signature", &signature),
        ],
        body,
    );
}

impl FakeCloudinary {
    pub fn start(cloud_name: &str, api_key: &str, api_secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let notify_base = Arc::new(Mutex::new(None::<String>));
        let failing = Arc::new(Mutex::new(None::<u16>));
        let failing_now = failing.clone();
        let (cloud, key, secret, log, notify_to) = (
            cloud_name.to_owned(),
            api_key.to_owned(),
            api_secret.to_owned(),
            calls.clone(),
            notify_base.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                if request.method == "OPTIONS" {
                    write!(
                        stream,
                        "HTTP/1.1 204 No Content\r\n{CORS}content-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    .ok();
                    continue;
                }
                let (path, body) = (request.path.clone(), &request.body);
                let content_type = request.header("content-type").unwrap_or_default().to_owned();
                let mut file_bytes = 0;
                let params: Vec<(String, String)> = if content_type.starts_with("multipart/form-data") {
                    multipart_fields(&content_type, body)
                        .into_iter()
                        .filter_map(|(name, value)| {
                            if name == "file" {
                                file_bytes = value.len();
                                None
                            } else {
                                Some((name, String::from_utf8_lossy(&value).into_owned()))
                            }
                        })
                        .collect()
                } else {
                    form_urlencoded::parse(body).into_owned().collect()
                };
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let fresh = get("timestamp").parse::<i64>().is_ok_and(|t| (now - t).abs() < 3600);
                let accepted = path.starts_with(&format!("/v1_1/{cloud}/"))
                    && get("api_key") == key
                    && fresh
                    && get("signature") == cloudinary_signature(&params, &secret);
                let kind = path.split('/').nth(3).unwrap_or("image").to_owned();
                let mut notification = None;
                let failure = *failing_now.lock().unwrap();
                let (status, reply) = if let Some(code) = failure {
                    (
                        format!("{code} Failing"),
                        "{\"error\":{\"message\":\"General Error\"}}".to_owned(),
                    )
                } else if accepted && path.ends_with("/upload") && file_bytes > 0 {
                    let public_id = get("public_id");
                    let url = format!("https://res.cloudinary.com/{cloud}/{kind}/upload/v1/{public_id}");
                    let target = get("notification_url");
                    if kind == "video" && !target.is_empty() {
                        let body = serde_json::json!({"notification_type": "upload", "resource_type": kind,
                            "public_id": public_id, "secure_url": url, "bytes": file_bytes});
                        notification = Some((target, body.to_string()));
                    }
                    ("200 OK".to_owned(), format!("{{\"public_id\":\"{public_id}\",\"secure_url\":\"{url}\",\"resource_type\":\"{kind}\",\"bytes\":{file_bytes}}}"))
                } else if accepted && path.ends_with("/destroy") {
                    ("200 OK".to_owned(), "{\"result\":\"ok\"}".to_owned())
                } else {
                    (
                        "401 Unauthorized".to_owned(),
                        "{\"error\":{\"message\":\"Invalid Signature\"}}".to_owned(),
                    )
                };
                log.lock().unwrap().push(CloudinaryCall { path, params, accepted });
                write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{CORS}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .ok();
                drop(stream);
                let base = notify_to.lock().unwrap().clone();
                if let (Some((target, body)), Some(base)) = (notification, base) {
                    notify(&base, &target, &body, &secret);
                }
            }
        });
        FakeCloudinary {
            port,
            calls,
            notify_base,
            failing,
        }
    }

    /// Send upload notifications to this base URL, keeping the path of the
    /// upload's `notification_url` (whose host is the app's public one).
    pub fn deliver_notifications_to(&self, base: &str) {
        *self.notify_base.lock().unwrap() = Some(base.trim_end_matches('/').to_owned());
    }

    /// Answer every call with `status` (a 500, say) from now on; `None`: work again.
    pub fn fail_with(&self, status: Option<u16>) {
        *self.failing.lock().unwrap() = status;
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<CloudinaryCall> {
        self.calls.lock().unwrap().clone()
    }
}
