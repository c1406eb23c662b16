//! Cloudinary assets no movie uses any more: a deleted movie's, and the
//! poster, video or subtitle track an admin removes. Each is a
//! media.delete_requested written with the change (the outbox), which this
//! service consumes itself: it destroys the asset and records the event
//! once Cloudinary confirms. Cloudinary down or refusing is an outage: the
//! event is tried again (over http by the producer's outbox, with its
//! backoff; over Redis by later drains) and never parked. Cloudinary not
//! configured at all is a failure like any other (parked after the last
//! try, for an operator to replay once it is). An asset a movie uses again
//! by then (a new poster uploads to the same public id) is left alone.

use streamia_api::ApiError;
use streamia_db::transaction;
use streamia_events::consumer::{self, Consumed};
use streamia_events::{Envelope, Event, MediaDeleteRequested, MovieUpdated};

use crate::domain::Movie;
use crate::media::language_code;
use crate::media_store::{CloudinaryApi, MediaStore};
use crate::store;
use crate::{Movies, SERVICE};

/// The event that asks for asset `public_id` (Cloudinary resource type
/// `kind`: image, video or raw) to be destroyed.
pub fn requested(movie_id: &str, kind: &str, public_id: &str) -> Event {
    Event::MediaDeleteRequested(MediaDeleteRequested {
        movie_id: movie_id.to_owned(),
        resource_type: kind.to_owned(),
        public_id: public_id.to_owned(),
    })
}

impl Movies<'_> {
    // Removing what a movie does not have changes nothing and answers the
    // movie as it is (as a DELETE may be sent again); a movie that does not
    // exist is 404.

    /// Remove the poster (favourites show it: a movie.updated too).
    pub fn remove_poster(&self, id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let (poster, _) = store::media_ids(self.db, id)?;
            let Some(public_id) = poster else {
                return Ok(());
            };
            let headline = store::set_poster(self.db, id, None, &self.now.rfc3339())?;
            let updated = Event::MovieUpdated(MovieUpdated {
                movie_id: id.to_owned(),
                title: headline.title,
                genres: headline.genres,
                release_year: headline.release_year,
                poster_url: None,
                changes: Some(vec!["posterUrl".to_owned()]),
            });
            self.outbox.add(self.db, &updated)?;
            self.outbox.add(self.db, &requested(id, "image", &public_id))?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Remove the video.
    pub fn remove_video(&self, id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let (_, video) = store::media_ids(self.db, id)?;
            let Some(public_id) = video else {
                return Ok(());
            };
            store::set_video(self.db, id, None, &self.now.rfc3339())?;
            self.outbox.add(self.db, &requested(id, "video", &public_id))?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Remove the subtitle track in `language` (400 for what is not a
    /// language code).
    pub fn remove_subtitle(&self, id: &str, language: &str) -> Result<Movie, ApiError> {
        let language = language_code(language)
            .ok_or_else(|| ApiError::validation("language", "must be a language code such as en or pt-BR"))?;
        transaction(self.db, || {
            let mut subtitles = store::subtitles(self.db, id)?;
            let Some(at) = subtitles
                .iter()
                .position(|s| s.language.eq_ignore_ascii_case(&language))
            else {
                return Ok(());
            };
            let gone = subtitles.remove(at);
            store::set_subtitles(self.db, id, &subtitles, &self.now.rfc3339())?;
            self.outbox.add(self.db, &requested(id, "raw", &gone.public_id))?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// A media.delete_requested: destroy the asset on Cloudinary (`store`;
    /// `None` while Cloudinary is not configured, which fails the try), and
    /// record the event once it is gone. A failure is an error, so the
    /// event is tried again.
    pub async fn destroy_unused<A: CloudinaryApi>(
        &self,
        envelope: &Envelope,
        store: Option<&MediaStore<'_, A>>,
    ) -> Result<Consumed, ApiError> {
        let asset = match envelope.event() {
            Ok(Some(Event::MediaDeleteRequested(asset))) => asset,
            _ => {
                return Err(ApiError::BadRequest {
                    code: "invalid_event",
                    message: "not a media.delete_requested".into(),
                })
            }
        };
        if consumer::processed(self.db, SERVICE, &envelope.event_id)? {
            return Ok(Consumed::Duplicate);
        }
        let in_use = store::asset_in_use(self.db, &asset.public_id)?;
        if !in_use {
            let store = store.ok_or_else(|| ApiError::Unavailable {
                code: "media_not_configured",
                message: "Cloudinary is not configured (cloudinary_* variables): the asset waits".into(),
            })?;
            // Cloudinary down is an outage: tried again without end (the
            // breaker keeps those tries cheap), never parked.
            store
                .destroy(&asset.resource_type, &asset.public_id)
                .await
                .map_err(|why| ApiError::DependencyUnavailable {
                    dependency: crate::breaker::NAME,
                    code: "media_unavailable",
                    message: format!("{} not destroyed yet: {why}", asset.public_id),
                    retry_after: None,
                })?;
        }
        Ok(consumer::consume(self.db, SERVICE, envelope, self.now, |_| {
            Ok::<bool, ApiError>(!in_use)
        })?)
    }
}
