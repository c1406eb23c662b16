//! The service on Spin, shared by its HTTP component and its Redis consumer
//! (movies-events): the Cloudinary account from Spin variables, Cloudinary
//! over Spin's outbound HTTP within its deadline, and the consumer both
//! components are handed (rating events, and media.delete_requested, which
//! calls Cloudinary).

use spin_sdk::http::{Method, Request};
use streamia_api::{ApiError, Settings};
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;
use streamia_spin::deadline::{self, Reply};

use crate::breaker::{self, CloudinaryBreaker};
use crate::cloudinary::Cloudinary;
use crate::media_store::{Answer, CloudinaryApi, MediaStore};
use crate::{KvCache, Movies};

/// The Cloudinary account (`cloudinary_*` variables); `None` when unset.
pub fn cloudinary(settings: &Settings<'_>) -> Result<Option<Cloudinary>, ApiError> {
    Ok(Cloudinary::configure(
        &settings.text("cloudinary_cloud_name")?,
        &settings.text("cloudinary_api_key")?,
        &settings.text("cloudinary_api_secret")?,
        &settings.text("cloudinary_base_url")?,
    ))
}

/// The service's breaker around Cloudinary, and the way to it within
/// `cloudinary_timeout_ms`.
pub fn cloudinary_breaker<'a>(
    db: &'a dyn Db,
    settings: &Settings<'_>,
    now: Now,
) -> Result<(CloudinaryBreaker<'a>, SpinCloudinary), ApiError> {
    let timeout_ms = settings.number("cloudinary_timeout_ms")?;
    let breaker = CloudinaryBreaker {
        db,
        config: breaker::config(timeout_ms),
        now_ms: now.unix_ms().max(0) as u64,
    };
    Ok((breaker, SpinCloudinary { timeout_ms }))
}

/// Cloudinary over Spin's outbound HTTP, within its deadline.
pub struct SpinCloudinary {
    timeout_ms: u64,
}

impl CloudinaryApi for SpinCloudinary {
    async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let req = Request::builder()
            .method(Method::Post)
            .uri(url)
            .header("content-type", content_type)
            .body(body)
            .build();
        match deadline::send(req, self.timeout_ms).await {
            Reply::Answered(resp) => Ok((*resp.status(), resp.into_body())),
            Reply::Unreachable(e) => Err(e.to_string()),
            Reply::TimedOut => Err(format!("no answer within {} ms", self.timeout_ms)),
        }
    }
}

/// The movies service's consumer: rating events (the aggregate, in one
/// statement) and media.delete_requested (Cloudinary, then the record).
pub async fn apply(db: &dyn Db, outbox: &Outbox, now: Now, envelope: &Envelope) -> Result<Consumed, ApiError> {
    if envelope.event_type != "media.delete_requested" {
        return crate::events::apply(db, outbox, now, envelope);
    }
    let settings = Settings::of_service(crate::SERVICE);
    let cache = KvCache::open(crate::cache::CACHE_STORE);
    let movies = Movies {
        db,
        outbox,
        cache: &cache,
        now,
        current_year: crate::domain::year_of(now.unix()),
    };
    let Some(cloud) = cloudinary(&settings)? else {
        return movies.destroy_unused::<SpinCloudinary>(envelope, None).await;
    };
    let (breaker, api) = cloudinary_breaker(db, &settings, now)?;
    let request_id = envelope.event_id.clone();
    let store = MediaStore {
        cloud: &cloud,
        api: &api,
        breaker: &breaker,
        request_id: &request_id,
        now: now.unix(),
    };
    movies.destroy_unused(envelope, Some(&store)).await
}

/// [`apply`] as its components are handed it: a boxed future.
pub fn consume<'a>(
    db: &'a dyn Db,
    outbox: &'a Outbox,
    now: Now,
    envelope: &'a Envelope,
) -> streamia_spin::Applying<'a> {
    Box::pin(apply(db, outbox, now, envelope))
}
