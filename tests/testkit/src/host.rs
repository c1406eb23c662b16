//! The app served for a test: a spin.toml written for it, state in a
//! temporary directory, on devhost or on `spin up`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::components::{devhost_binary, fixture, on_spin, spin_binary, target_dir, workspace_root};
use crate::http::free_port;

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
    /// Arguments of `up` beyond the manifest, runtime config and address.
    args: Vec<String>,
    binary: Option<PathBuf>,
    /// An OCI reference to run instead of `spin_toml` (`spin up --from`).
    reference: Option<String>,
    /// The loopback port to listen on; a free one when `None`.
    port: Option<u16>,
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
            args: Vec::new(),
            binary: None,
            reference: None,
            port: None,
        }
    }

    /// An app pushed to a plain-HTTP registry (`spin up --from <reference>
    /// --insecure`): Spin only, its HTTP trigger on a free port.
    pub fn from_registry(reference: &str) -> Self {
        App {
            reference: Some(reference.to_owned()),
            ..App::new("[[trigger.http]]\n")
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

    /// Listen on this loopback port (to come back where a stopped host was).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Run only these components of the manifest (`spin up -c …`: Spin's
    /// selective deployment, as a SpinApp's `components` does).
    pub fn components(mut self, ids: &[&str]) -> Self {
        for id in ids {
            self.args.extend(["-c".to_owned(), (*id).to_owned()]);
        }
        self
    }

    /// `devhost up`, or `spin up` when `STREAMIA_TEST_HOST=spin` (then on a
    /// free port: both print `Serving http://…`). Tests that read devhost's
    /// log format are devhost's own.
    fn command(&self, dir: &Path) -> Command {
        std::fs::write(dir.join("spin.toml"), &self.spin_toml).unwrap();
        let (program, listen) = if self.binary.is_none() && on_spin() {
            (
                spin_binary(),
                format!("127.0.0.1:{}", self.port.unwrap_or_else(free_port)),
            )
        } else {
            (
                self.binary.clone().unwrap_or_else(devhost_binary),
                format!("127.0.0.1:{}", self.port.unwrap_or(0)),
            )
        };
        let mut cmd = Command::new(program);
        // Its own process group, so that stopping it stops what it started:
        // `spin up` serves through a `spin trigger http` child process,
        // which outlived a kill of `spin up` alone (hundreds of orphaned
        // hosts per test run, still listening and competing for the CPU).
        cmd.process_group(0);
        // Spin resolves relative SQLite paths against its working directory.
        cmd.current_dir(dir).arg("up");
        match &self.reference {
            Some(reference) => cmd.args(["--from", reference, "--insecure"]),
            None => cmd.arg("-f").arg(dir.join("spin.toml")),
        };
        cmd.args(&self.args);
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
    /// `spin up` listens on a port picked free a moment before: another
    /// test's host may take it first, and then a new port is tried.
    pub fn start_in(self, dir: tempfile::TempDir) -> Devhost {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.try_start(dir.path()) {
                Ok((child, base, log)) => return Devhost { child, base, dir, log },
                Err(log) if attempts < 3 && log.contains("is already in use") => continue,
                Err(log) => panic!("the host did not start:\n{log}"),
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn try_start(&self, dir: &Path) -> Result<(Child, String, Arc<Mutex<Vec<String>>>), String> {
        let mut child = self
            .command(dir)
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
            return Err(format!("({status})\n{}", log.lock().unwrap().join("\n")));
        };
        Ok((child, base, log))
    }

    /// Start an app without an HTTP trigger (only Redis consumers, say),
    /// which prints no address: the caller waits for what it serves.
    pub fn start_background(self) -> Devhost {
        let dir = tempfile::tempdir().unwrap();
        let mut child = self
            .command(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the host starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Devhost {
            child,
            base: String::new(),
            dir,
            log,
        }
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

    /// The JSON log lines (a component's own, `{…}`, whatever the host put
    /// before them) whose fields include every `(name, value)` of `fields`.
    pub fn json_lines(&self, fields: &[(&str, &str)]) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l[l.find('{')?..]).ok())
            .filter(|v| fields.iter().all(|(name, value)| v[*name].as_str() == Some(*value)))
            .collect()
    }

    /// How many events `service` logged with `outcome` (`Applied`,
    /// `Duplicate`, `Failed`, `DeadLettered`…) for `event_type`.
    pub fn events_logged(&self, service: &str, event_type: &str, outcome: &str) -> usize {
        self.json_lines(&[
            ("msg", "event"),
            ("service", service),
            ("eventType", event_type),
            ("outcome", outcome),
        ])
        .len()
    }

    /// Wait until `service` logged `outcome` for the event `event_id`.
    pub fn wait_for_event(&self, service: &str, event_id: &str, outcome: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let fields = [
            ("msg", "event"),
            ("service", service),
            ("eventId", event_id),
            ("outcome", outcome),
        ];
        while self.json_lines(&fields).is_empty() {
            assert!(
                Instant::now() < deadline,
                "{service} never logged {outcome} for {event_id}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many log lines contain `needle`.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
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

    /// Kill the host and every process it started (its process group); its log stays readable.
    pub fn kill(&mut self) {
        let group = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) takes plain integers; a negative pid names the
        // group the host leads (`process_group(0)` at spawn).
        unsafe { libc::kill(-group, libc::SIGKILL) };
        self.child.kill().ok();
        self.child.wait().ok();
    }

    /// Stop and hand back the state directory, for restart tests.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.kill();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for Devhost {
    fn drop(&mut self) {
        self.kill();
    }
}
