//! Log lines: one per HTTP request, and every line a component writes to
//! stdout/stderr, tagged with the component id. Secrets never reach here:
//! variable values are not logged.

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

fn now() -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_millis(SystemTime::now())
}

/// A line from devhost itself.
pub fn info(msg: impl std::fmt::Display) {
    write_line(format_args!("{} [devhost] {msg}", now()));
}

fn write_line(line: std::fmt::Arguments<'_>) {
    // A closed stderr has nowhere left to report its own failure to.
    writeln!(std::io::stderr().lock(), "{line}").ok();
}

/// A line a component wrote.
pub fn component_line(component: &str, stream: &str, line: &[u8]) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    write_line(format_args!("{} [{component}] {stream}: {line}", now()));
}

/// A component's stdout or stderr, split into lines for the log.
#[derive(Clone)]
pub struct ComponentOutput {
    component: Arc<str>,
    stream: &'static str,
}

impl ComponentOutput {
    pub fn new(component: Arc<str>, stream: &'static str) -> Self {
        ComponentOutput { component, stream }
    }
}

impl IsTerminal for ComponentOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ComponentOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct LineWriter {
    out: ComponentOutput,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit_complete_lines(&mut self) {
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            component_line(&self.out.component, self.out.stream, &line[..line.len() - 1]);
        }
    }

    fn emit_rest(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            component_line(&self.out.component, self.out.stream, &rest);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.emit_complete_lines();
        // A component that never ends its line must not grow this forever.
        if self.pending.len() > 64 * 1024 {
            self.emit_rest();
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.emit_rest();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit_rest();
    }
}
