//! The ratings service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`): the same consumer as
//! the ratings component's `POST /events`, on the same database; the rating
//! events it causes are published from here. A separate component because a
//! Spin component exports one trigger's interface.

use spin_sdk::redis_component;
use streamia_ratings::{events, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Consumer, Service};

const RATINGS: Service =
    Service::new(SERVICE, DATABASE, MIGRATIONS).consuming(events::CONSUMES, Consumer::Sync(events::apply));

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&RATINGS, &message).await
}
