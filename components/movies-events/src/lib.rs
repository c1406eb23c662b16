//! The movies service's events over Redis (`[[trigger.redis]]` on
//! `streamia.rating.created|updated|deleted` and
//! `streamia.media.delete_requested`): the same consumer as the movies
//! component's `POST /events`, on the same database and cache. A
//! separate component because a Spin component exports one trigger's
//! interface.

use spin_sdk::redis_component;
use streamia_movies::{events, on_spin, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{Consumer, Service};

const MOVIES: Service =
    Service::new(SERVICE, DATABASE, MIGRATIONS).consuming(events::CONSUMES, Consumer::Async(on_spin::consume));

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&MOVIES, &message).await
}
