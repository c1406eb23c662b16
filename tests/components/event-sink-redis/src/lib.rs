//! Test-only event subscriber on Redis: a message on a subscribed
//! `streamia.<event type>` channel rings the doorbell, and the sink drains
//! its own consumer group (`sink`) through the same code as the services,
//! recording each event once in the sink's database. `sink_fail_first`
//! (default 0) makes the first tries of every event fail.

use spin_sdk::redis_component;
use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;
use streamia_spin::{Consumer, Service};
use streamia_test_sink as sink;

const SINK: Service = Service::new("sink", "sink", sink::MIGRATIONS).consuming(&["*"], Consumer::Sync(apply));

fn apply(db: &dyn Db, _outbox: &Outbox, _now: Now, envelope: &Envelope) -> Result<Consumed, ApiError> {
    let fail_first = spin_sdk::variables::get("sink_fail_first")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    sink::record_redis(db, envelope, fail_first).map_err(ApiError::Internal)
}

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&SINK, &message).await
}
