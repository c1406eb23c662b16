//! The favorites service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`, `streamia.movie.updated`):
//! the same consumer as the favorites component's `POST /events`, on the
//! same database. A separate component because a Spin component exports one
//! trigger's interface.

use spin_sdk::redis_component;
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_favorites::{Favorites, MIGRATIONS, SERVICE};

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new("favorites", MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let favorites = Favorites {
        db: &db,
        outbox: &outbox,
    };
    streamia_spin::on_redis_message(SERVICE, &message, &db, &outbox, |e| favorites.apply_event(e))
        .await
        .map_err(anyhow::Error::msg)
}
