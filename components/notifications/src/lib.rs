//! The notifications component: no public route. `POST /events` takes
//! user.registered, password.reset.requested and notification.send_email
//! (http transport) and sends the e-mail each causes; `GET /sent?limit=`
//! lists the sent log (private: reachable only inside the app or cluster).

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::ApiError;
use streamia_notifications::{mailer, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Call, Consumer, Service};

const NOTIFICATIONS: Service = Service::new(SERVICE, DATABASE, MIGRATIONS)
    .keeping(mailer::SENT_LOG_STORE, streamia_spin::key_value_answers)
    .consuming(mailer::CONSUMES, Consumer::Async(mailer::consume));

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&NOTIFICATIONS, req, out, routes).await
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let ctx = call.ctx;
    match (&call.method, call.segments.as_slice()) {
        // GET /sent?limit=: the newest e-mails sent, newest first
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
        (_, ["sent"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(call.no_route()),
    }
}
