//! The comments component: a private route reached from the gateway.
//! Reading comments is public (a token, when sent, shows the caller their
//! own comments awaiting moderation); writing needs a token, checked here
//! again. `POST /events` (the saga events, http transport), `/relay` and
//! `/dead-letters` are served by `streamia_spin`.

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::import::{ImportBatch, Imported};
use streamia_api::{json_body, ApiError, DEFAULT_BODY_LIMIT};
use streamia_auth::{Claims, Role};
use streamia_cache::KvCache;
use streamia_comments::{
    Comments, Content, EditComment, ModerateComment, Moderation, MovieId, NewComment, Status, Viewer, DATABASE,
    MIGRATIONS, SERVICE,
};
use streamia_spin::{movies, require_admin, Call, Consumer, Service};

const COMMENTS: Service = Service::new(SERVICE, DATABASE, MIGRATIONS)
    .keeping(streamia_comments::cache::CACHE_STORE, streamia_spin::key_value_answers)
    .consuming(
        streamia_comments::events::CONSUMES,
        Consumer::Sync(streamia_comments::events::apply),
    )
    .importing(import);

/// `POST /import` (admins): comments and their authors' names from the old
/// system; the pages cached for the movies they are on go stale.
fn import(call: &Call<'_>, batch: &ImportBatch) -> Result<Imported, ApiError> {
    let (imported, movies) = streamia_comments::import::import(call.db, batch, call.now)?;
    let cache = KvCache::open(streamia_comments::cache::CACHE_STORE);
    for movie in &movies {
        streamia_comments::cache::changed(&cache, movie);
    }
    Ok(imported)
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&COMMENTS, req, out, routes).await
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let moderation = call.settings().parsed("comment_moderation", Moderation::parse)?;
    let cache = KvCache::open(streamia_comments::cache::CACHE_STORE);
    let comments = Comments {
        db: call.db,
        outbox: call.outbox,
        cache: &cache,
        moderation,
        now: call.now,
    };
    let (ctx, req) = (call.ctx, call.req);
    let ["api", "comments", rest @ ..] = call.segments.as_slice() else {
        return Err(call.no_route());
    };
    // Reads are public: a token is optional there, but checked when sent.
    let claims = call.optional_claims()?;
    let claims = claims.as_ref();
    match (&call.method, rest) {
        // GET /api/comments/movie/{movieId}?page&limit: top level, newest first
        (Method::Get, ["movie", movie_id]) => match claims {
            // Nobody signed in: the page everyone sees, cached.
            None => {
                let (page, hit) = comments.public_list_for_movie(movie_id, ctx.page()?)?;
                let mut resp = ctx.json(200, &page);
                resp.set_header("x-cache", if hit { "hit" } else { "miss" });
                Ok(resp)
            }
            Some(_) => Ok(ctx.json(200, &comments.list_for_movie(viewer(claims), movie_id, ctx.page()?)?)),
        },
        // POST /api/comments/movie/{movieId} {content, parentId?}
        (Method::Post, ["movie", movie_id]) => {
            let claims = signed_in(claims)?;
            let body: NewComment = json_body(req, DEFAULT_BODY_LIMIT)?;
            let content = Content::parse(&body.content)?;
            comments.check_viewer(viewer(Some(claims)))?;
            let movie_id = MovieId::parse(movie_id)?;
            movies::require_known(
                call.db,
                SERVICE,
                || call.settings().text("movies_url").map_err(ApiError::from),
                &movie_id,
                &ctx.request_id,
            )
            .await?;
            let comment = comments.create(&claims.sub, &movie_id, &content, body.parent_id.as_deref())?;
            Ok(ctx.json(201, &comment))
        }
        // GET /api/comments/pending?page&limit (admin): the moderation queue
        (Method::Get, ["pending"]) => {
            require_admin(signed_in(claims)?)?;
            Ok(ctx.json(200, &comments.pending(ctx.page()?)?))
        }
        // GET /api/comments/{id}/replies?page&limit: oldest first
        (Method::Get, [id, "replies"]) => Ok(ctx.json(200, &comments.replies(viewer(claims), id, ctx.page()?)?)),
        // PUT /api/comments/{id} {content}: the author only
        (Method::Put, [id]) => {
            let claims = signed_in(claims)?;
            let body: EditComment = json_body(req, DEFAULT_BODY_LIMIT)?;
            let content = Content::parse(&body.content)?;
            Ok(ctx.json(200, &comments.edit(&claims.sub, id, &content)?))
        }
        // DELETE /api/comments/{id}: the author or an admin (soft delete)
        (Method::Delete, [id]) => {
            comments.delete(viewer(Some(signed_in(claims)?)), id)?;
            Ok(ctx.no_content())
        }
        // PATCH /api/comments/{id}/moderate {status} (admin)
        (Method::Patch, [id, "moderate"]) => {
            let claims = signed_in(claims)?;
            require_admin(claims)?;
            let body: ModerateComment = json_body(req, DEFAULT_BODY_LIMIT)?;
            let status = Status::parse(&body.status)?;
            Ok(ctx.json(200, &comments.moderate(&claims.sub, id, status)?))
        }
        (_, ["movie", _] | ["pending"] | [_, "replies"] | [_] | [_, "moderate"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such comments route".into())),
    }
}

fn viewer(claims: Option<&Claims>) -> Viewer<'_> {
    match claims {
        None => Viewer::Anonymous,
        Some(c) if c.role == Role::Admin => Viewer::Admin(&c.sub),
        Some(c) => Viewer::User(&c.sub),
    }
}

fn signed_in(claims: Option<&Claims>) -> Result<&Claims, ApiError> {
    claims.ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))
}
