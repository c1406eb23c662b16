//! A real redis-server for a test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::free_port;

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
