//! The notifications service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.registered`, `streamia.password.reset.requested`,
//! `streamia.notification.send_email`): the same mailer as the
//! notifications component's `POST /events`, on the same database and sent
//! log. A separate component because a Spin component exports one trigger's
//! interface.

use spin_sdk::redis_component;
use streamia_notifications::{mailer, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Consumer, Service};

const NOTIFICATIONS: Service =
    Service::new(SERVICE, DATABASE, MIGRATIONS).consuming(mailer::CONSUMES, Consumer::Async(mailer::consume));

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&NOTIFICATIONS, &message).await
}
