//! The movies component: a private route reached from the gateway (reads are
//! public there, writes need an admin token, which is checked here again).
//! `POST /events` takes rating events over the http transport. A cached read
//! reads no configuration: variables are loaded by the routes that use them.

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::import::{ImportBatch, Imported};
use streamia_api::{json_body, ApiError, DEFAULT_BODY_LIMIT};
use streamia_movies::breaker::{self, CloudinaryBreaker};
use streamia_movies::cache::Lookup;
use streamia_movies::cloudinary::{Cloudinary, Notice, NotificationBody, FOLDER};
use streamia_movies::domain::{year_of, MovieFields, MovieInput};
use streamia_movies::media;
use streamia_movies::media_store::{File, MediaStore};
use streamia_movies::on_spin::{self, SpinCloudinary};
use streamia_movies::query::ListQuery;
use streamia_movies::{KvCache, Movies, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{require_admin, Call, Consumer, Service};

const MOVIES: Service = Service::new(SERVICE, DATABASE, MIGRATIONS)
    .keeping(streamia_movies::cache::CACHE_STORE, streamia_spin::key_value_answers)
    .consuming(
        streamia_movies::events::CONSUMES,
        Consumer::Async(streamia_movies::on_spin::consume),
    )
    .importing(import);

/// `POST /import` (admins): movies from the old system.
fn import(call: &Call<'_>, batch: &ImportBatch) -> Result<Imported, ApiError> {
    let cache = KvCache::open(streamia_movies::cache::CACHE_STORE);
    catalogue(call, &cache).import(batch)
}

/// The service's operations for this request.
fn catalogue<'a>(call: &'a Call<'_>, cache: &'a KvCache) -> Movies<'a> {
    Movies {
        db: call.db,
        outbox: call.outbox,
        cache,
        now: call.now,
        current_year: year_of(call.now.unix()),
    }
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&MOVIES, req, out, routes).await
}

/// Media routes need Cloudinary: 503 `media_not_configured` without it (a
/// missing dependency, named, so the gateway does not count it as this
/// service failing).
fn media_store(call: &Call<'_>) -> Result<Cloudinary, ApiError> {
    on_spin::cloudinary(&call.settings())?.ok_or_else(|| ApiError::DependencyUnavailable {
        dependency: breaker::NAME,
        code: "media_not_configured",
        message: "media uploads are not configured (cloudinary_* variables)".into(),
        retry_after: None,
    })
}

/// The service's breaker around Cloudinary, and the way to it.
fn cloudinary_breaker<'a>(call: &Call<'a>) -> Result<(CloudinaryBreaker<'a>, SpinCloudinary), ApiError> {
    on_spin::cloudinary_breaker(call.db, &call.settings(), call.now)
}

fn media_store_of<'a>(
    call: &'a Call<'_>,
    cloud: &'a Cloudinary,
    api: &'a SpinCloudinary,
    breaker: &'a CloudinaryBreaker<'a>,
) -> MediaStore<'a, SpinCloudinary> {
    MediaStore {
        cloud,
        api,
        breaker,
        request_id: &call.ctx.request_id,
        now: call.now.unix(),
    }
}

/// Writes are for admins; the token is checked here as well as at the gateway.
fn admin(call: &Call<'_>) -> Result<(), ApiError> {
    require_admin(&call.claims()?)
}

/// `X-Cache: hit|miss`: how a read was answered, for clients and benchmarks.
fn with_lookup(mut resp: Response, lookup: Lookup) -> Response {
    resp.set_header("x-cache", lookup.header());
    resp
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let cache = KvCache::open(streamia_movies::cache::CACHE_STORE);
    let movies = catalogue(call, &cache);
    let (ctx, req, now) = (call.ctx, call.req, call.now.unix());
    let ["api", "movies", rest @ ..] = call.segments.as_slice() else {
        return Err(call.no_route());
    };
    match (&call.method, rest) {
        // GET /api/movies?page&limit&genre&year&search&sort
        (Method::Get, []) => {
            let query = ListQuery::parse(|k| ctx.query(k).map(str::to_owned), movies.current_year)?;
            let (page, lookup) = movies.list(&query)?;
            Ok(with_lookup(ctx.json(200, &page), lookup))
        }
        // GET /api/movies/{id}
        (Method::Get, [id]) => {
            let (movie, lookup) = movies.get(id)?;
            Ok(with_lookup(ctx.json(200, &movie), lookup))
        }
        // POST /api/movies (admin)
        (Method::Post, []) => {
            admin(call)?;
            let fields: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            let movie = movies.create(&MovieInput::parse(&fields, movies.current_year)?)?;
            Ok(ctx.json(201, &movie))
        }
        // PUT /api/movies/{id} (admin): every field, as for POST
        (Method::Put, [id]) => {
            admin(call)?;
            let fields: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            let input = MovieInput::parse(&fields, movies.current_year)?;
            Ok(ctx.json(200, &movies.update(id, &input)?))
        }
        // PATCH /api/movies/{id} (admin): only the fields given
        (Method::Patch, [id]) => {
            admin(call)?;
            let patch: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            let merged = MovieInput::merge(&movies.load(id)?, &patch);
            let input = MovieInput::parse(&merged, movies.current_year)?;
            Ok(ctx.json(200, &movies.update(id, &input)?))
        }
        // DELETE /api/movies/{id} (admin): starts the movie deletion saga;
        // its Cloudinary assets are destroyed by media.delete_requested
        (Method::Delete, [id]) => {
            admin(call)?;
            movies.delete(id)?;
            Ok(ctx.no_content())
        }
        // DELETE /api/movies/{id}/poster, /video, /subtitles/{language}
        // (admin): the movie without it; the asset is destroyed as above
        (Method::Delete, [id, "poster"]) => {
            admin(call)?;
            Ok(ctx.json(200, &movies.remove_poster(id)?))
        }
        (Method::Delete, [id, "video"]) => {
            admin(call)?;
            Ok(ctx.json(200, &movies.remove_video(id)?))
        }
        (Method::Delete, [id, "subtitles", language]) => {
            admin(call)?;
            Ok(ctx.json(200, &movies.remove_subtitle(id, language)?))
        }
        // POST /api/movies/{id}/video/upload-signature (admin): signed
        // parameters for a direct browser-to-Cloudinary video upload
        (Method::Post, [id, "video", "upload-signature"]) => {
            admin(call)?;
            let cloud = media_store(call)?;
            if !movies.exists(id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            let notification_url = call.settings().text("cloudinary_notification_url")?;
            Ok(ctx.json(200, &cloud.video_upload(id, now, Some(&notification_url))))
        }
        // POST /api/movies/{id}/poster (admin): multipart `file`, a JPEG, PNG
        // or WebP of at most 5 MiB, stored on Cloudinary
        (Method::Post, [id, "poster"]) => {
            admin(call)?;
            let cloud = media_store(call)?;
            movies.load(id)?;
            let parts = media::read_form(content_type(req), req.body().to_vec(), media::MAX_POSTER_BYTES).await?;
            let poster = media::poster(&parts)?;
            let file = File {
                kind: "image",
                public_id: format!("{FOLDER}/{id}/poster"),
                name: format!("poster.{}", poster.extension),
                mime: poster.mime,
                bytes: &poster.bytes,
            };
            let (breaker, api) = cloudinary_breaker(call)?;
            let stored = media_store_of(call, &cloud, &api, &breaker).upload(&file).await?;
            Ok(ctx.json(200, &movies.set_poster(id, &stored.secure_url, &stored.public_id)?))
        }
        // POST /api/movies/{id}/subtitles (admin): multipart `file` (.vtt or
        // .srt, stored as WebVTT; at most 1 MiB) and `language`; replaces that
        // language's track
        (Method::Post, [id, "subtitles"]) => {
            admin(call)?;
            let cloud = media_store(call)?;
            movies.load(id)?;
            let parts = media::read_form(content_type(req), req.body().to_vec(), media::MAX_SUBTITLE_BYTES).await?;
            let track = media::subtitle(&parts)?;
            let name = format!("{}.vtt", track.language);
            let file = File {
                kind: "raw",
                public_id: format!("{FOLDER}/{id}/subtitles/{name}"),
                mime: "text/vtt",
                name,
                bytes: &track.bytes,
            };
            let (breaker, api) = cloudinary_breaker(call)?;
            let stored = media_store_of(call, &cloud, &api, &breaker).upload(&file).await?;
            let movie = movies.put_subtitle(id, &track.language, &stored.secure_url, &stored.public_id)?;
            Ok(ctx.json(201, &movie))
        }
        // POST /api/movies/cloudinary/notify: Cloudinary's upload notification,
        // trusted only with a valid, fresh signature
        (Method::Post, ["cloudinary", "notify"]) => {
            let cloud = media_store(call)?;
            let header = |name: &str| req.header(name).and_then(|v| v.as_str());
            cloud
                .verify_notification(req.body(), header("x-cld-timestamp"), header("x-cld-signature"), now)
                .map_err(|e| e.to_api_error())?;
            match NotificationBody::parse(req.body())?.notice()? {
                Notice::Ignored => Ok(ctx.json(200, &serde_json::json!({"result": "ignored"}))),
                Notice::VideoUploaded {
                    movie_id,
                    url,
                    public_id,
                } => Ok(ctx.json(200, &movies.set_video(movie_id, url, public_id)?)),
            }
        }
        (
            _,
            []
            | [_]
            | [_, "poster" | "subtitles" | "video"]
            | [_, "subtitles", _]
            | [_, "video", "upload-signature"]
            | ["cloudinary", "notify"],
        ) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such movies route".into())),
    }
}

fn content_type(req: &Request) -> Option<&str> {
    req.header("content-type").and_then(|v| v.as_str())
}
