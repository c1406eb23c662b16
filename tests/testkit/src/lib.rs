//! Test harness shared by devhost's tests and the end-to-end tests. Not
//! product code: it lives beside the tests that use it.
//!
//! Layout: [`components`] finds the workspace and builds the components for
//! wasm32-wasip2 once per test binary, and finds the hosts (devhost, the
//! Spin CLI); [`host`] serves an app for a test ([`App`] writes its
//! spin.toml, [`Devhost`] runs it on devhost or `spin up`); [`http`] talks
//! to it (and runs a tiny [`upstream`]); [`redis`] starts a real
//! redis-server, [`registry`] a real OCI registry; [`fakes`] are Cloudinary and SendGrid on loopback,
//! speaking their real HTTP APIs.

pub mod components;
pub mod fakes;
pub mod host;
pub mod http;
pub mod redis;
pub mod registry;

pub use components::*;
pub use fakes::cloudinary::*;
pub use fakes::sendgrid::*;
pub use host::*;
pub use http::*;
pub use redis::*;
pub use registry::*;
