//! The favorites component: a private route reached from the gateway; every
//! route needs a token, checked here again, and works on the caller's own
//! favourites only. `POST /events` (the saga events, http transport), `/relay` and
//! `/dead-letters` are served by `streamia_spin`.

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::import::{ImportBatch, Imported};
use streamia_api::{json_body, ApiError, DEFAULT_BODY_LIMIT};
use streamia_favorites::{AddFavorite, Added, Favorites, MovieId, MovieRef, Note, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{movies, Call, Consumer, Service};

const FAVORITES: Service = Service::new(SERVICE, DATABASE, MIGRATIONS)
    .consuming(
        streamia_favorites::events::CONSUMES,
        Consumer::Sync(streamia_favorites::events::apply),
    )
    .importing(import);

/// `POST /import` (admins): favourites from the old system.
fn import(call: &Call<'_>, batch: &ImportBatch) -> Result<Imported, ApiError> {
    streamia_favorites::import::import(call.db, batch)
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&FAVORITES, req, out, routes).await
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let favorites = Favorites {
        db: call.db,
        outbox: call.outbox,
        now: call.now,
    };
    let (ctx, req) = (call.ctx, call.req);
    let ["api", "favorites", rest @ ..] = call.segments.as_slice() else {
        return Err(call.no_route());
    };
    let user_id = &call.claims()?.sub;
    match (&call.method, rest) {
        // GET /api/favorites?page&limit: the caller's, newest first
        (Method::Get, []) => Ok(ctx.json(200, &favorites.list(user_id, ctx.page()?)?)),
        // POST /api/favorites/{movieId} {note?}: 201 added, 200 already there
        (Method::Post, [movie_id]) => {
            let body: AddFavorite = if req.body().is_empty() {
                AddFavorite::default()
            } else {
                json_body(req, DEFAULT_BODY_LIMIT)?
            };
            let note = Note::parse(body.note.as_deref())?;
            favorites.check_user(user_id)?;
            let movie_id = MovieId::parse(movie_id)?;
            let movie = movies::require_known(
                call.db,
                SERVICE,
                || call.settings().text("movies_url").map_err(ApiError::from),
                &movie_id,
                &ctx.request_id,
            )
            .await?;
            let movie = MovieRef {
                id: &movie.id,
                title: &movie.title,
                poster_url: movie.poster_url.as_deref(),
            };
            match favorites.add(user_id, &movie, &note)? {
                Added::Created(f) => Ok(ctx.json(201, &f)),
                Added::AlreadyThere(f) => Ok(ctx.json(200, &f)),
            }
        }
        // DELETE /api/favorites/{movieId}
        (Method::Delete, [movie_id]) => {
            favorites.remove(user_id, movie_id)?;
            Ok(ctx.no_content())
        }
        // GET /api/favorites/{movieId}/check
        (Method::Get, [movie_id, "check"]) => Ok(ctx.json(
            200,
            &serde_json::json!({"isFavorite": favorites.is_favorite(user_id, movie_id)?}),
        )),
        (_, [] | [_] | [_, "check"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such favorites route".into())),
    }
}
