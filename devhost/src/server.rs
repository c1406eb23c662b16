//! The HTTP trigger: accepts connections, routes each request, runs it in a
//! fresh component instance and writes one log line per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::app::{plain, App, Response};

pub async fn serve(app: Arc<App>, listener: TcpListener) -> Result<()> {
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait, don't spin.
                crate::log::info(format_args!("accept failed: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req, client).await) }
            });
            // A client that goes away mid-request is not devhost's error to report.
            http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
                .ok();
        });
    }
}

async fn handle(app: &Arc<App>, req: hyper::Request<hyper::body::Incoming>, client: SocketAddr) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (resp, target) = if path == "/.well-known/spin/health" {
        (plain(200, "OK"), "devhost")
    } else {
        match app.router().route(&path) {
            None => (plain(404, "Not Found"), "-"),
            Some(route) => {
                let resp = match app.handle_http(&route, req, client).await {
                    Ok(resp) => resp,
                    Err(e) => {
                        crate::log::info(format_args!("component '{}' failed: {e:#}", route.component));
                        plain(500, "Internal Server Error")
                    }
                };
                return log_request(started, &method, &path, resp, &route.component);
            }
        }
    };
    log_request(started, &method, &path, resp, target)
}

fn log_request(started: Instant, method: &http::Method, path: &str, resp: Response, target: &str) -> Response {
    crate::log::info(format_args!(
        "{method} {path} {} {:.1}ms -> {target}",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    resp
}
