//! The notifications component: no public route. `POST /events` takes
//! user.registered, password.reset.requested and notification.send_email
//! (http transport) and sends the e-mail each causes; `GET /sent?limit=`
//! lists the sent log (private: reachable only inside the app or cluster).

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_api::{ApiError, Ctx};
use streamia_db::{Db, LazySpinDb};
use streamia_events::outbox::Outbox;
use streamia_notifications::{MIGRATIONS, SERVICE};

mod mailer;

/// The component's own database (spin.toml).
const DATABASE: &str = "notifications";

#[http_component]
async fn handle(req: Request) -> Response {
    let ctx = Ctx::new(&req);
    let result = route(&ctx, &req).await;
    ctx.respond(result)
}

async fn route(ctx: &Ctx, req: &Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let db = LazySpinDb::new(DATABASE, MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    match (&method, segs.as_slice()) {
        (_, ["health", rest @ ..]) => streamia_spin::health(ctx, SERVICE, rest, db.is_ready()),
        (Method::Post, ["events"]) => {
            let envelope = streamia_spin::parse_envelope(req)?;
            let outcome = mailer::handle(&db, &outbox, &envelope).await;
            let transport = streamia_spin::event_transport(SERVICE)?;
            streamia_spin::deliver_outbox(&db, &outbox, &transport, &ctx.request_id).await;
            Ok(streamia_spin::event_reply(ctx, &envelope, outcome?))
        }
        (Method::Get, ["sent"]) => {
            let limit = match ctx.query("limit") {
                None => 20,
                Some(l) => l
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| ApiError::validation("limit", "must be a whole number from 1 to 100"))?,
            };
            Ok(ctx.json(200, &serde_json::json!({"data": mailer::sent_log(limit)?})))
        }
        (_, ["events"] | ["sent"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound(format!("no route for {path}"))),
    }
}
