//! The notifications service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.registered`, `streamia.password.reset.requested`,
//! `streamia.notification.send_email`): the same mailer as the
//! notifications component's `POST /events`, on the same database and sent
//! log. A separate component because a Spin component exports one trigger's
//! interface.

use spin_sdk::redis_component;
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_notifications::{MIGRATIONS, SERVICE};

// The sent log listing is the HTTP component's.
#[allow(dead_code)]
#[path = "../../notifications/src/mailer.rs"]
mod mailer;

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new("notifications", MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let envelope = streamia_spin::redis_envelope(&message).map_err(anyhow::Error::msg)?;
    let outcome = mailer::handle(&db, &outbox, &envelope).await;
    streamia_spin::redis_message_done(SERVICE, &db, &outbox, &envelope, outcome)
        .await
        .map_err(anyhow::Error::msg)
}
