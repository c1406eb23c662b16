//! A real OCI registry for a test: Debian's `docker-registry` (the CNCF
//! Distribution registry, what most registries run) on a free loopback port,
//! plain HTTP, its blobs in a temporary directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{free_port, get};

pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`: the registry part of an image reference.
    pub address: String,
    _data: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let data = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let config = data.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
                data.path().join("blobs").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts (Debian package docker-registry; scripts/test.sh installs it)");
        let registry = Registry {
            child,
            address,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&registry.address).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let api = get(&format!("http://{}/v2/", registry.address));
        assert_eq!(api.status, 200, "the registry's API: {}", api.body);
        registry
    }

    /// The tags the registry holds for `repository` (`GET /v2/<name>/tags/list`).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let reply = get(&format!("http://{}/v2/{repository}/tags/list", self.address));
        if reply.status != 200 {
            return Vec::new();
        }
        reply.json()["tags"]
            .as_array()
            .map(|tags| tags.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
