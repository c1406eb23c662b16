//! Test-only event subscriber on Redis: each message on a subscribed
//! `streamia.<event type>` channel is recorded once in the sink's database.

use streamia_test_sink as sink;

use spin_sdk::redis_component;
use streamia_events::Envelope;

#[redis_component]
fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let envelope = Envelope::parse(&message)?;
    let outcome = sink::record(&envelope, "redis").map_err(anyhow::Error::msg)?;
    println!("{} {} {outcome:?}", envelope.event_type, envelope.event_id);
    Ok(())
}
