//! Outbound HTTP from a component: the allow-list check, service chaining to
//! `http://<component>.spin.internal`, and everything else over the network.
//!
//! As in Spin, the check runs when the request is sent (not inside
//! `outgoing-handler.handle`), and a refused request resolves to
//! `ErrorCode::HttpRequestDenied`; chaining is decided after the check.

use std::future::Future;
use std::sync::{Arc, Weak};

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::{service_chaining_target, well_known_port};
use crate::app::App;
use crate::host::ComponentCtx;

pub struct OutboundHooks {
    pub component: Arc<ComponentCtx>,
    /// Weak: instances must not keep the application alive.
    pub app: Weak<App>,
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().or_else(|| well_known_port(&scheme));
        if !self.component.allowed_hosts.allows(&scheme, &host, port) {
            // Spin's wording, so the logs read the same on both hosts.
            crate::log::info(format_args!(
                "component '{}': destination not allowed: {scheme}://{host}{} (add it to allowed_outbound_hosts)",
                self.component.id,
                port.map(|p| format!(":{p}")).unwrap_or_default()
            ));
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }

        if let Some(target) = service_chaining_target(&host) {
            let target = target.to_owned();
            let app = self.app.clone();
            let caller = self.component.id.clone();
            return Box::new(async move {
                let Some(app) = app.upgrade() else {
                    return Err(Error::InternalError(Some("application is shutting down".into())));
                };
                let response = app.handle_chained(&caller, &target, request).await?;
                Ok((response, Box::new(async { Ok(()) }) as IoFuture))
            });
        }

        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture))
        })
    }
}
