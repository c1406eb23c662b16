//! The favorites component: a private route reached from the gateway; every
//! route needs a token, checked here again, and works on the caller's own
//! favourites only. `POST /events` takes the saga events (http transport).

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_api::{json_body, ApiError, Ctx, DEFAULT_BODY_LIMIT};
use streamia_db::{Db, LazySpinDb};
use streamia_events::outbox::Outbox;
use streamia_favorites::{AddFavorite, Added, Favorites, MovieRef, Note, MIGRATIONS, SERVICE};
use streamia_spin::{authenticate, movies, unix_now, variable, Common};

/// The component's own database (spin.toml).
const DATABASE: &str = "favorites";

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
    let db = LazySpinDb::new(DATABASE, MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let favorites = Favorites {
        db: &db,
        outbox: &outbox,
    };
    if let ["health", rest @ ..] = segs.as_slice() {
        return streamia_spin::health(ctx, SERVICE, rest, db.is_ready());
    }
    let common = Common::load(SERVICE)?;
    let result = match (&method, segs.as_slice()) {
        (Method::Post, ["events"]) => streamia_spin::events_route(ctx, req, |e| favorites.apply_event(e)),
        (_, ["api", "favorites", rest @ ..]) => {
            let claims = authenticate(req, &common.keys, unix_now())?;
            dispatch(ctx, req, &favorites, &claims.sub, &method, rest).await
        }
        _ => Err(ApiError::NotFound(format!("no route for {path}"))),
    };
    if method != Method::Get {
        streamia_spin::deliver_outbox(&db, &outbox, &common.transport, &ctx.request_id).await;
    }
    result
}

async fn dispatch(
    ctx: &Ctx,
    req: &Request,
    favorites: &Favorites<'_>,
    user_id: &str,
    method: &Method,
    rest: &[&str],
) -> Result<Response, ApiError> {
    match (method, rest) {
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
            let movie = movies::require(&variable(SERVICE, "movies_url")?, movie_id, &ctx.request_id).await?;
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
