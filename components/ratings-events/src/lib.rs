//! The ratings service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`): the same consumer as
//! the ratings component's `POST /events`, on the same database; the rating
//! events it causes are published from here. A separate component because a
//! Spin component exports one trigger's interface.

use spin_sdk::redis_component;
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_ratings::{Ratings, MIGRATIONS, SERVICE};

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new("ratings", MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let ratings = Ratings {
        db: &db,
        outbox: &outbox,
    };
    streamia_spin::on_redis_message(SERVICE, &message, &db, &outbox, |e| ratings.apply_event(e))
        .await
        .map_err(anyhow::Error::msg)
}
