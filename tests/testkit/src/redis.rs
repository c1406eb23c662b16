//! A real redis-server for a test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::free_port;

/// A real `redis-server` on a free loopback port: without persistence, or
/// ([`Redis::start_durable`]) with an append-only file that survives a restart.
pub struct Redis {
    child: Child,
    pub port: u16,
    /// Where a durable server keeps its data.
    data: Option<tempfile::TempDir>,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let child = spawn(port, None);
        Redis {
            child,
            port,
            data: None,
        }
    }

    /// A server that writes every change to its append-only file before
    /// answering, as a Redis that holds the event stream should.
    pub fn start_durable() -> Redis {
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        let child = spawn(port, Some(data.path()));
        Redis {
            child,
            port,
            data: Some(data),
        }
    }

    /// Shut the server down (SIGTERM, as an orchestrator does) and wait.
    pub fn stop(&mut self) {
        // SAFETY: kill(2) with a pid this process spawned.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().ok();
    }

    /// Start it again on the same port and data.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.data.as_ref().map(|d| d.path()));
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

    /// Append an event envelope to the app's event stream and ring its
    /// doorbell, as a producer does (a redelivery, to consumers).
    pub fn append_event(&self, envelope: &serde_json::Value) {
        let event_type = envelope["eventType"].as_str().expect("an envelope has an eventType");
        let reply = self.command(&["XADD", "streamia:events", "*", "e", &envelope.to_string()]);
        assert!(!reply.starts_with('-'), "XADD: {reply}");
        self.command(&["PUBLISH", &format!("streamia.{event_type}"), "doorbell"]);
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

fn spawn(port: u16, data: Option<&std::path::Path>) -> Child {
    let port_arg = port.to_string();
    let mut args = vec!["--port", &port_arg, "--bind", "127.0.0.1", "--save", ""];
    let dir;
    match data {
        None => args.extend(["--appendonly", "no"]),
        Some(path) => {
            dir = path.display().to_string();
            args.extend(["--appendonly", "yes", "--appendfsync", "always", "--dir", &dir]);
        }
    }
    let child = Command::new("redis-server")
        .args(&args)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server; the test command does this)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
