//! Test harness shared by devhost's tests and the end-to-end tests: builds
//! components for wasm32-wasip2 once, starts devhost on a free port with a
//! spin.toml written for the test (state in a temporary directory), talks
//! HTTP, and starts real servers (redis-server, a tiny upstream HTTP server)
//! on loopback when a test needs them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Cargo's target directory (`$CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Build devhost's fixture components for wasm32-wasip2 (once per test
/// binary) and return the directory holding the `.wasm` files.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir().join("fixtures");
        let status = cargo()
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(workspace_root().join("devhost/tests/fixtures/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the fixture components failed");
        target.join("wasm32-wasip2/release")
    })
}

pub fn fixture(name: &str) -> String {
    fixtures().join(format!("fixture_{name}.wasm")).display().to_string()
}

/// Build workspace components for wasm32-wasip2 (release), where spin.toml's
/// `source` paths point. Each package at most once per test binary.
pub fn build_components(packages: &[&str]) {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !built.iter().any(|b| b == p))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"));
    for p in &missing {
        cmd.args(["-p", p]);
    }
    assert!(
        cmd.status().expect("cargo runs").success(),
        "building {missing:?} for wasm32-wasip2 failed"
    );
    built.extend(missing.iter().map(|p| p.to_string()));
}

/// A workspace component's release build: `event-sink` → `…/event_sink.wasm`.
pub fn component_wasm(package: &str) -> PathBuf {
    target_dir().join(format!("wasm32-wasip2/release/{}.wasm", package.replace('-', "_")))
}

/// The devhost binary: `$DEVHOST_BIN`, or the workspace's, built on first use.
pub fn devhost_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DEVHOST_BIN") {
            return PathBuf::from(bin);
        }
        let status = cargo()
            .args(["build", "-p", "devhost", "--manifest-path"])
            .arg(workspace_root().join("Cargo.toml"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building devhost failed");
        target_dir().join("debug/devhost")
    })
    .clone()
}

/// Which host the tests run the app on: `STREAMIA_TEST_HOST=spin` for the
/// Spin CLI, devhost otherwise.
pub fn on_spin() -> bool {
    std::env::var("STREAMIA_TEST_HOST").as_deref() == Ok("spin")
}

/// The Spin CLI: `spin` on PATH, else the project's `../shared/bin/spin`.
pub fn spin_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("spin"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| workspace_root().join("../shared/bin/spin"))
}

/// A running `devhost up` (or `spin up` under `STREAMIA_TEST_HOST=spin`). Killed on drop.
pub struct Devhost {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
}

pub struct App {
    pub spin_toml: String,
    pub runtime_config: Option<String>,
    /// Where the runtime config is written, relative to the app's directory.
    runtime_config_path: String,
    /// Other files written into the app's directory (the host's working directory).
    files: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    binary: Option<PathBuf>,
}

impl App {
    /// `{http}`, `{redis}` and `{noop}` in the manifest become the paths of
    /// devhost's fixture components.
    pub fn new(spin_toml: &str) -> Self {
        let mut spin_toml = spin_toml.to_owned();
        for name in ["http", "redis", "noop"] {
            let placeholder = format!("{{{name}}}");
            if spin_toml.contains(&placeholder) {
                spin_toml = spin_toml.replace(&placeholder, &fixture(name));
            }
        }
        App {
            spin_toml,
            runtime_config: None,
            runtime_config_path: "runtime-config.toml".to_owned(),
            files: Vec::new(),
            env: Vec::new(),
            binary: None,
        }
    }

    /// A manifest (and optionally runtime config) from the repository, its
    /// `source = "target/..."` paths made absolute so that it runs from a
    /// temporary directory holding the state.
    pub fn from_repo(manifest: &str, runtime_config: Option<&str>) -> Self {
        let root = workspace_root();
        let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let text = read(manifest).replace("source = \"target/", &format!("source = \"{}/", target_dir().display()));
        let mut app = App::new(&text);
        app.runtime_config = runtime_config.map(read);
        app
    }

    /// Run this binary instead of the workspace's devhost.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    pub fn runtime_config(mut self, text: &str) -> Self {
        self.runtime_config = Some(text.to_owned());
        self
    }

    /// The runtime config, written at `path` under the app's directory.
    pub fn runtime_config_at(mut self, path: &str, text: &str) -> Self {
        self.runtime_config_path = path.to_owned();
        self.runtime_config(text)
    }

    /// A file in the app's directory, which is the host's working directory.
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.to_owned(), contents.to_owned()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    /// `devhost up`, or `spin up` when `STREAMIA_TEST_HOST=spin` (then on a
    /// free port: both print `Serving http://…`). Tests that read devhost's
    /// log format are devhost's own.
    fn command(&self, dir: &Path) -> Command {
        std::fs::write(dir.join("spin.toml"), &self.spin_toml).unwrap();
        let (program, listen) = if self.binary.is_none() && on_spin() {
            (spin_binary(), format!("127.0.0.1:{}", free_port()))
        } else {
            (
                self.binary.clone().unwrap_or_else(devhost_binary),
                "127.0.0.1:0".to_owned(),
            )
        };
        let mut cmd = Command::new(program);
        // Spin resolves relative SQLite paths against its working directory.
        cmd.current_dir(dir).arg("up").arg("-f").arg(dir.join("spin.toml"));
        // `spin up` refuses --listen for an app without an HTTP trigger.
        if self.spin_toml.contains("[[trigger.http]]") {
            cmd.args(["--listen", &listen]);
        }
        let write = |path: &Path, contents: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        };
        for (path, contents) in &self.files {
            write(&dir.join(path), contents);
        }
        if let Some(rc) = &self.runtime_config {
            let path = dir.join(&self.runtime_config_path);
            write(&path, rc);
            cmd.arg("--runtime-config-file").arg(path);
        }
        cmd.env("DEVHOST_CACHE_DIR", target_dir().join("devhost-cache"));
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn start(self) -> Devhost {
        let dir = tempfile::tempdir().unwrap();
        self.start_in(dir)
    }

    /// Start in a directory that may hold state from an earlier run.
    pub fn start_in(self, dir: tempfile::TempDir) -> Devhost {
        let mut child = self
            .command(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("devhost starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut base = None;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(addr) = line.trim().strip_prefix("Serving ") {
                base = Some(addr.to_owned());
                break;
            }
            line.clear();
        }
        // Keep draining stdout so devhost never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let Some(base) = base else {
            let status = child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            panic!("the host did not start ({status}):\n{}", log.lock().unwrap().join("\n"));
        };
        Devhost { child, base, dir, log }
    }

    /// Run devhost expecting it to refuse to start; returns its stderr.
    pub fn start_failure(self) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = self
            .command(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("devhost runs");
        assert!(!out.status.success(), "devhost should have refused to start");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Devhost {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Wait until the log holds `needle` (logs are written asynchronously).
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "log never showed {needle:?}:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait up to `timeout` for the host to exit by itself; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stop and hand back the state directory, for restart tests.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.child.kill().ok();
        self.child.wait().ok();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Devhost {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real `redis-server` on a free loopback port, without persistence.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server; the test command does this)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Wait until every channel has a subscriber (`PUBSUB NUMSUB`): pub/sub
    /// drops what is published before a trigger has subscribed, and neither
    /// host says so in a log line the other shares.
    pub fn wait_for_subscribers(&self, channels: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut args = vec!["PUBSUB", "NUMSUB"];
            args.extend_from_slice(channels);
            let reply = self.command(&args);
            // *2N, then per channel: $len, name, :count
            let counts: Vec<&str> = reply.split("\r\n").filter_map(|l| l.strip_prefix(':')).collect();
            if counts.len() == channels.len() && counts.iter().all(|c| *c != "0") {
                return;
            }
            assert!(Instant::now() < deadline, "no subscriber on {channels:?}: {reply:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send one command in RESP and return the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(cmd.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// An HTTP server that answers every request with 200 and `upstream <path>`.
pub fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).ok();
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
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

/// A local stand-in for Cloudinary's Upload API: `POST /v1_1/<cloud>/<type>/upload`
/// (multipart, with a file) and `…/destroy` (form), answered only when the
/// signature is valid the way Cloudinary checks it (sorted parameters, API
/// secret appended, SHA-1 hex; timestamp within the hour).
pub struct FakeCloudinary {
    pub port: u16,
    calls: Arc<Mutex<Vec<CloudinaryCall>>>,
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

/// The rest of an HTTP/1.1 request after its first line: its headers
/// (lower-cased names), then a body framed by Content-Length or chunked.
fn read_request(reader: &mut impl BufRead) -> (Vec<(String, String)>, Vec<u8>) {
    let mut headers = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 2 {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        line.clear();
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mut body = Vec::new();
    if !header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        body.resize(header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0), 0);
        reader.read_exact(&mut body).ok();
        return (headers, body);
    }
    loop {
        line.clear();
        reader.read_line(&mut line).ok();
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if size == 0 {
            return (headers, body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok();
        line.clear();
        reader.read_line(&mut line).ok();
    }
}

/// `(name, value)` of each part of a multipart/form-data body.
fn multipart_fields(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"')) else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut fields = Vec::new();
    let positions: Vec<usize> = text
        .windows(delimiter.len())
        .enumerate()
        .filter(|(_, w)| *w == delimiter.as_bytes())
        .map(|(i, _)| i)
        .collect();
    for pair in positions.windows(2) {
        let part = &text[pair[0] + delimiter.len()..pair[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned();
        fields.push((name, part[split + 4..].to_vec()));
    }
    fields
}

impl FakeCloudinary {
    pub fn start(cloud_name: &str, api_key: &str, api_secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (cloud, key, secret, log) = (
            cloud_name.to_owned(),
            api_key.to_owned(),
            api_secret.to_owned(),
            calls.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).ok();
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (headers, body) = read_request(&mut reader);
                let content_type = headers
                    .iter()
                    .find(|(k, _)| k == "content-type")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let mut file_bytes = 0;
                let params: Vec<(String, String)> = if content_type.starts_with("multipart/form-data") {
                    multipart_fields(&content_type, &body)
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
                    form_urlencoded::parse(&body).into_owned().collect()
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
                let (status, reply) = if accepted && path.ends_with("/upload") && file_bytes > 0 {
                    let public_id = get("public_id");
                    let url = format!("https://res.cloudinary.com/{cloud}/{kind}/upload/v1/{public_id}");
                    ("200 OK", format!("{{\"public_id\":\"{public_id}\",\"secure_url\":\"{url}\",\"resource_type\":\"{kind}\",\"bytes\":{file_bytes}}}"))
                } else if accepted && path.ends_with("/destroy") {
                    ("200 OK", "{\"result\":\"ok\"}".to_owned())
                } else {
                    (
                        "401 Unauthorized",
                        "{\"error\":{\"message\":\"Invalid Signature\"}}".to_owned(),
                    )
                };
                log.lock().unwrap().push(CloudinaryCall { path, params, accepted });
                write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .ok();
            }
        });
        FakeCloudinary { port, calls }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<CloudinaryCall> {
        self.calls.lock().unwrap().clone()
    }
}

/// A local stand-in for SendGrid's v3 Mail Send API (`POST /v3/mail/send`),
/// checking a request the way SendGrid does: `Authorization: Bearer <key>`
/// (401 otherwise), a JSON body with at least one personalization holding a
/// `to` address, a `from` address, a subject and content whose first item is
/// `text/plain` (400 with SendGrid's `{"errors":[{message,field}]}` otherwise).
/// Accepted mail gets 202 and an `X-Message-Id`. Answers can be scripted:
/// [`FakeSendGrid::answer_next`] queues statuses for the next requests,
/// [`FakeSendGrid::always_fail`] makes one recipient always get a status.
pub struct FakeSendGrid {
    pub port: u16,
    state: Arc<Mutex<SendGridState>>,
}

#[derive(Default)]
struct SendGridState {
    requests: Vec<SendGridRequest>,
    queued: std::collections::VecDeque<u16>,
    failing: Vec<(String, u16)>,
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
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).ok();
                let mut words = first.split_whitespace();
                let (method, path) = (
                    words.next().unwrap_or("").to_owned(),
                    words.next().unwrap_or("/").to_owned(),
                );
                let (headers, body) = read_request(&mut reader);
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                let mut st = shared.lock().unwrap();
                let checked = if method != "POST" || path != "/v3/mail/send" {
                    Err((404, "Not found".to_owned(), String::new()))
                } else {
                    sendgrid_check(&headers, &json, &key)
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

    /// Every request received, in order, with the status it got.
    pub fn requests(&self) -> Vec<SendGridRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The mail SendGrid accepted (202), in order.
    pub fn delivered(&self) -> Vec<SendGridRequest> {
        self.requests().into_iter().filter(|r| r.status == 202).collect()
    }
}
