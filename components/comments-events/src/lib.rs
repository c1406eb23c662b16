//! The comments service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`): the same consumer as
//! the comments component's `POST /events`, on the same database. A separate
//! component because a Spin component exports one trigger's interface.

use spin_sdk::redis_component;
use streamia_comments::{events, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Consumer, Service};

const COMMENTS: Service =
    Service::new(SERVICE, DATABASE, MIGRATIONS).consuming(events::CONSUMES, Consumer::Sync(events::apply));

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&COMMENTS, &message).await
}
