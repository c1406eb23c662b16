//! Test-only event subscriber (not part of the product): `POST …/events`
//! takes an envelope as the http transport delivers it; `GET …/received`
//! lists what was recorded, each event once; `POST …/relay/<service>`
//! hands a body to that service's private `/events`, so a test can deliver
//! events the way a producer would; `GET …/peek/<service>/<path>` reads a
//! service's private route (the notifications sent log).

use streamia_test_sink as sink;

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::Envelope;

fn json(status: u16, value: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(value.to_string())
        .build()
}

#[http_component]
async fn handle(req: Request) -> Response {
    let path = req.path().to_owned();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let (Method::Post, [.., "relay", target]) = (req.method(), segs.as_slice()) {
        return relay(target, req.body().to_vec()).await;
    }
    if let (Method::Get, [_, "peek", target, rest @ ..]) = (req.method(), segs.as_slice()) {
        let query = req.query();
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        return forward(
            Method::Get,
            &format!("http://{target}.spin.internal/{}{query}", rest.join("/")),
            Vec::new(),
        )
        .await;
    }
    match (req.method(), path.rsplit('/').next().unwrap_or("")) {
        (Method::Post, "events") => match Envelope::parse(req.body()) {
            Err(e) => json(400, serde_json::json!({"error": e.to_string()})),
            Ok(envelope) => match sink::record(&envelope, "http") {
                Ok(c) => json(
                    200,
                    serde_json::json!({"result": match c {
                        Consumed::Applied => "applied",
                        Consumed::Duplicate => "duplicate",
                        Consumed::Ignored => "ignored",
                    }}),
                ),
                Err(e) => json(500, serde_json::json!({"error": e})),
            },
        },
        (Method::Get, "received") => {
            let rows = sink::open().and_then(|db| {
                db.execute(
                    "SELECT event_type, transport, envelope FROM sink_received ORDER BY seq",
                    &[],
                )
                .map_err(|e| e.to_string())
            });
            match rows {
                Ok(rows) => {
                    let list: Vec<serde_json::Value> = rows
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "eventType": r.text("event_type").unwrap_or_default(),
                                "transport": r.text("transport").unwrap_or_default(),
                                "envelope": serde_json::from_str::<serde_json::Value>(&r.text("envelope").unwrap_or_default()).unwrap_or_default(),
                            })
                        })
                        .collect();
                    json(200, serde_json::Value::Array(list))
                }
                Err(e) => json(500, serde_json::json!({"error": e})),
            }
        }
        _ => json(404, serde_json::json!({"error": "not found"})),
    }
}

async fn relay(target: &str, body: Vec<u8>) -> Response {
    forward(Method::Post, &format!("http://{target}.spin.internal/events"), body).await
}

async fn forward(method: Method, url: &str, body: Vec<u8>) -> Response {
    let out = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(body)
        .build();
    match spin_sdk::http::send::<_, Response>(out).await {
        Ok(resp) => Response::builder()
            .status(*resp.status())
            .header("content-type", "application/json")
            .body(resp.into_body())
            .build(),
        Err(e) => json(502, serde_json::json!({"error": e.to_string()})),
    }
}
