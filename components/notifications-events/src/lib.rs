//! The notifications service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.registered`, `streamia.password.reset.requested`,
//! `streamia.notification.send_email`): the same mailer as the
//! notifications component's `POST /events`, on the same database and sent
//! log. A separate component because a Spin component exports one trigger's
//! interface.

use spin_sdk::redis_component;
use streamia_clock::Now;
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_notifications::{mailer, DATABASE, MIGRATIONS, SERVICE};

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new(DATABASE, MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let envelope = streamia_spin::redis_envelope(&message).map_err(anyhow::Error::msg)?;
    // Sending is async, so this consumer cannot use on_redis_message's closure.
    let outcome = mailer::handle(&db, &outbox, Now::system(), &envelope).await;
    streamia_spin::redis_message_done(SERVICE, &db, &outbox, &envelope, outcome)
        .await
        .map_err(anyhow::Error::msg)
}
