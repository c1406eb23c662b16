//! The favorites service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`, `streamia.movie.updated`):
//! the same consumer as the favorites component's `POST /events`, on the
//! same database. A separate component because a Spin component exports one
//! trigger's interface.

use spin_sdk::redis_component;
use streamia_favorites::{events, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Consumer, Service};

const FAVORITES: Service =
    Service::new(SERVICE, DATABASE, MIGRATIONS).consuming(events::CONSUMES, Consumer::Sync(events::apply));

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&FAVORITES, &message).await
}
