//! The movies component: a private route reached from the gateway (reads are
//! public there, writes need an admin token, which is checked here again).
//! `POST /events` takes rating events over the http transport.

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_api::{json_body, ApiError, Ctx, DEFAULT_BODY_LIMIT};
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_movies::cloudinary::{movie_of_video, Cloudinary, NotificationError, FOLDER};
use streamia_movies::domain::{year_of, ListQuery, MovieFields, MovieInput};
use streamia_movies::media;
use streamia_movies::{KvCache, Movies, SERVICE};
use streamia_spin::{authenticate, require_admin as admin_only, unix_now, variable, Common};

/// The component's own database and key-value store (spin.toml).
const DATABASE: &str = "movies";

struct Config {
    common: Common,
    /// `None`: media endpoints answer 503 `media_not_configured`.
    cloudinary: Option<Cloudinary>,
    notification_url: String,
}

impl Config {
    fn load() -> Result<Self, ApiError> {
        let var = |name: &str| variable(SERVICE, name);
        let cloudinary = Cloudinary::configure(
            &var("cloudinary_cloud_name")?,
            &var("cloudinary_api_key")?,
            &var("cloudinary_api_secret")?,
            &var("cloudinary_base_url")?,
        );
        Ok(Config {
            common: Common::load(SERVICE)?,
            cloudinary,
            notification_url: var("cloudinary_notification_url")?,
        })
    }

    fn media(&self) -> Result<&Cloudinary, ApiError> {
        self.cloudinary.as_ref().ok_or_else(|| ApiError::Unavailable {
            code: "media_not_configured",
            message: "media uploads are not configured (cloudinary_* variables)".into(),
        })
    }
}

#[http_component]
async fn handle(req: Request) -> Response {
    let ctx = Ctx::new(&req);
    let result = route(&ctx, &req).await;
    ctx.respond(result)
}

async fn route(ctx: &Ctx, req: &Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let config = Config::load()?;
    // Opened (and migrated) on first use: a cache hit never touches SQLite.
    let db = LazySpinDb::new(DATABASE, streamia_movies::MIGRATIONS);
    let cache = KvCache::open();
    let outbox = Outbox::new(SERVICE);
    let now = unix_now();
    let movies = Movies {
        db: &db,
        outbox: &outbox,
        cache: &cache,
        now,
        current_year: year_of(now),
    };
    if let ["health", rest @ ..] = segs.as_slice() {
        return health(ctx, &movies, rest);
    }
    let result = match (&method, segs.as_slice()) {
        // POST /events: rating.* from the ratings service (http transport)
        (Method::Post, ["events"]) => streamia_spin::events_route(ctx, req, |e| movies.apply_rating_event(e)),
        (_, ["api", "movies", rest @ ..]) => dispatch(ctx, req, &config, &movies, &method, rest).await,
        _ => Err(ApiError::NotFound(format!("no route for {path}"))),
    };
    if method != Method::Get {
        streamia_spin::deliver_outbox(&db, &outbox, &config.common.transport, &ctx.request_id).await;
    }
    result
}

async fn dispatch(
    ctx: &Ctx,
    req: &Request,
    config: &Config,
    movies: &Movies<'_>,
    method: &Method,
    rest: &[&str],
) -> Result<Response, ApiError> {
    match (method, rest) {
        // GET /api/movies?page&limit&genre&year&search&sort
        (Method::Get, []) => {
            let query = ListQuery::parse(|k| ctx.query(k).map(str::to_owned), movies.current_year)?;
            Ok(ctx.json(200, &movies.list(&query)?))
        }
        // GET /api/movies/{id}
        (Method::Get, [id]) => Ok(ctx.json(200, &movies.get(id)?)),
        // POST /api/movies (admin)
        (Method::Post, []) => {
            require_admin(req, config, movies.now)?;
            let fields: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            let movie = movies.create(&MovieInput::parse(&fields, movies.current_year)?)?;
            Ok(ctx.json(201, &movie))
        }
        // PUT /api/movies/{id} (admin): every field, as for POST
        (Method::Put, [id]) => {
            require_admin(req, config, movies.now)?;
            let fields: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(
                200,
                &movies.update(id, &MovieInput::parse(&fields, movies.current_year)?)?,
            ))
        }
        // PATCH /api/movies/{id} (admin): only the fields given
        (Method::Patch, [id]) => {
            require_admin(req, config, movies.now)?;
            let patch: MovieFields = json_body(req, DEFAULT_BODY_LIMIT)?;
            let merged = MovieInput::merge(&movies.load(id)?, &patch);
            Ok(ctx.json(
                200,
                &movies.update(id, &MovieInput::parse(&merged, movies.current_year)?)?,
            ))
        }
        // DELETE /api/movies/{id} (admin): starts the movie deletion saga and
        // destroys the movie's Cloudinary assets
        (Method::Delete, [id]) => {
            require_admin(req, config, movies.now)?;
            let assets = movies.delete(id)?;
            if let Some(cloud) = &config.cloudinary {
                for (kind, public_id) in assets {
                    destroy(ctx, cloud, kind, &public_id, movies.now).await;
                }
            }
            Ok(ctx.no_content())
        }
        // POST /api/movies/{id}/video/upload-signature (admin): signed
        // parameters for a direct browser-to-Cloudinary video upload
        (Method::Post, [id, "video", "upload-signature"]) => {
            require_admin(req, config, movies.now)?;
            let cloud = config.media()?;
            if !movies.exists(id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            Ok(ctx.json(200, &cloud.video_upload(id, movies.now, Some(&config.notification_url))))
        }
        // POST /api/movies/{id}/poster (admin): multipart `file`, a JPEG, PNG
        // or WebP of at most 5 MiB, stored on Cloudinary
        (Method::Post, [id, "poster"]) => {
            require_admin(req, config, movies.now)?;
            let cloud = config.media()?;
            movies.load(id)?;
            let parts = media::read_form(content_type(req), req.body().to_vec(), media::MAX_POSTER_BYTES).await?;
            let poster = media::poster(&parts)?;
            let public_id = format!("{FOLDER}/{id}/poster");
            let file_name = format!("poster.{}", poster.extension);
            let stored = upload(
                ctx,
                cloud,
                "image",
                &public_id,
                &file_name,
                poster.mime,
                &poster.bytes,
                movies.now,
            )
            .await?;
            Ok(ctx.json(200, &movies.set_poster(id, &stored.secure_url, &stored.public_id)?))
        }
        // POST /api/movies/{id}/subtitles (admin): multipart `file` (.vtt or
        // .srt, at most 1 MiB) and `language`; replaces that language's track
        (Method::Post, [id, "subtitles"]) => {
            require_admin(req, config, movies.now)?;
            let cloud = config.media()?;
            movies.load(id)?;
            let parts = media::read_form(content_type(req), req.body().to_vec(), media::MAX_SUBTITLE_BYTES).await?;
            let track = media::subtitle(&parts)?;
            let file_name = format!("{}.{}", track.language, track.extension);
            let public_id = format!("{FOLDER}/{id}/subtitles/{file_name}");
            let mime = if track.extension == "vtt" {
                "text/vtt"
            } else {
                "application/x-subrip"
            };
            let stored = upload(
                ctx,
                cloud,
                "raw",
                &public_id,
                &file_name,
                mime,
                &track.bytes,
                movies.now,
            )
            .await?;
            Ok(ctx.json(
                201,
                &movies.put_subtitle(id, &track.language, &stored.secure_url, &stored.public_id)?,
            ))
        }
        // POST /api/movies/cloudinary/notify: Cloudinary's upload notification
        (Method::Post, ["cloudinary", "notify"]) => notify(ctx, req, config, movies),
        (_, [] | [_] | [_, "poster" | "subtitles"] | [_, "video", "upload-signature"] | ["cloudinary", "notify"]) => {
            Err(ApiError::MethodNotAllowed)
        }
        _ => Err(ApiError::NotFound("no such movies route".into())),
    }
}

/// Cloudinary's notification, trusted only with a valid, fresh signature.
fn notify(ctx: &Ctx, req: &Request, config: &Config, movies: &Movies<'_>) -> Result<Response, ApiError> {
    let cloud = config.media()?;
    let header = |name: &str| req.header(name).and_then(|v| v.as_str());
    cloud
        .verify_notification(
            req.body(),
            header("x-cld-timestamp"),
            header("x-cld-signature"),
            movies.now,
        )
        .map_err(|e| {
            ApiError::Unauthorized(
                match e {
                    NotificationError::MissingHeaders => "X-Cld-Timestamp and X-Cld-Signature are required",
                    NotificationError::Stale => "the notification is too old",
                    NotificationError::BadSignature => "the notification signature does not match",
                }
                .into(),
            )
        })?;
    let body: serde_json::Value = serde_json::from_slice(req.body()).map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        message: e.to_string(),
    })?;
    let field = |name: &str| body.get(name).and_then(|v| v.as_str());
    if field("notification_type") != Some("upload") || field("resource_type") != Some("video") {
        return Ok(ctx.json(200, &serde_json::json!({"result": "ignored"})));
    }
    let public_id = field("public_id").ok_or_else(|| ApiError::validation("public_id", "is required"))?;
    let url = field("secure_url").ok_or_else(|| ApiError::validation("secure_url", "is required"))?;
    if !url.starts_with("https://") {
        return Err(ApiError::validation("secure_url", "must be an https URL"));
    }
    let movie_id =
        movie_of_video(public_id).ok_or_else(|| ApiError::validation("public_id", "is not a Streamia movie video"))?;
    Ok(ctx.json(200, &movies.set_video(movie_id, url, public_id)?))
}

fn content_type(req: &Request) -> Option<&str> {
    req.header("content-type").and_then(|v| v.as_str())
}

/// What Cloudinary answers to an upload (the fields we keep).
struct Stored {
    public_id: String,
    secure_url: String,
}

/// A signed server-side upload; Cloudinary down or refusing is 503.
#[allow(clippy::too_many_arguments)]
async fn upload(
    ctx: &Ctx,
    cloud: &Cloudinary,
    kind: &str,
    public_id: &str,
    file_name: &str,
    mime: &str,
    bytes: &[u8],
    now: i64,
) -> Result<Stored, ApiError> {
    let unavailable = |why: String| {
        eprintln!("request {}: Cloudinary upload of {public_id}: {why}", ctx.request_id);
        ApiError::Unavailable {
            code: "media_unavailable",
            message: "the media store did not take the file; try again".into(),
        }
    };
    let boundary = format!(
        "streamia-{}",
        ctx.request_id.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let body = media::multipart_body(&boundary, &cloud.upload_form(public_id, now), file_name, mime, bytes);
    let out = Request::builder()
        .method(Method::Post)
        .uri(cloud.endpoint(kind, "upload"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .build();
    let resp: Response = spin_sdk::http::send(out)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !(200..300).contains(resp.status()) {
        return Err(unavailable(format!(
            "status {}: {}",
            resp.status(),
            String::from_utf8_lossy(resp.body())
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(resp.body()).map_err(|e| unavailable(e.to_string()))?;
    match (v["public_id"].as_str(), v["secure_url"].as_str()) {
        (Some(id), Some(url)) => Ok(Stored {
            public_id: id.to_owned(),
            secure_url: url.to_owned(),
        }),
        _ => Err(unavailable("the answer lacks public_id or secure_url".into())),
    }
}

/// Best effort: a movie is deleted even when Cloudinary is unreachable; the
/// orphaned asset is logged for an operator.
async fn destroy(ctx: &Ctx, cloud: &Cloudinary, kind: &str, public_id: &str, now: i64) {
    let form: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(cloud.destroy_form(public_id, now))
        .finish();
    let out = Request::builder()
        .method(Method::Post)
        .uri(cloud.endpoint(kind, "destroy"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .build();
    match spin_sdk::http::send::<_, Response>(out).await {
        Ok(resp) if (200..300).contains(resp.status()) => {}
        Ok(resp) => eprintln!(
            "request {}: destroying {kind} {public_id} on Cloudinary: status {}",
            ctx.request_id,
            resp.status()
        ),
        Err(e) => eprintln!(
            "request {}: destroying {kind} {public_id} on Cloudinary: {e}",
            ctx.request_id
        ),
    }
}

/// Writes are for admins; the token is checked here as well as at the gateway.
fn require_admin(req: &Request, config: &Config, now: i64) -> Result<(), ApiError> {
    admin_only(&authenticate(req, &config.common.keys, now)?)
}

fn health(ctx: &Ctx, movies: &Movies<'_>, rest: &[&str]) -> Result<Response, ApiError> {
    match rest {
        [] | ["ready"] => {
            let ok = movies.db.is_ready();
            let body = serde_json::json!({
                "service": SERVICE,
                "status": if ok { "ok" } else { "unavailable" },
                "checks": {"sqlite": ok},
                "cache": movies.cache_stats(),
            });
            Ok(ctx.json(if ok { 200 } else { 503 }, &body))
        }
        ["live"] => Ok(ctx.json(200, &serde_json::json!({"service": SERVICE, "status": "ok"}))),
        _ => Err(ApiError::NotFound("no such health check".into())),
    }
}
