//! The ratings component: a private route reached from the gateway. Movie
//! statistics are public; everything else needs a token, checked here again,
//! and works on the caller's own ratings. `POST /events` takes the saga
//! events (http transport).

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_api::{json_body, ApiError, Ctx, DEFAULT_BODY_LIMIT};
use streamia_auth::Claims;
use streamia_db::{Db, LazySpinDb};
use streamia_events::outbox::Outbox;
use streamia_ratings::{Outcome, RateBody, Ratings, Score, MIGRATIONS, SERVICE};
use streamia_spin::{authenticate, movies, unix_now, variable, Common};

/// The component's own database (spin.toml).
const DATABASE: &str = "ratings";

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
    let ratings = Ratings {
        db: &db,
        outbox: &outbox,
    };
    if let ["health", rest @ ..] = segs.as_slice() {
        return streamia_spin::health(ctx, SERVICE, rest, db.is_ready());
    }
    let common = Common::load(SERVICE)?;
    let result = match (&method, segs.as_slice()) {
        (Method::Post, ["events"]) => streamia_spin::events_route(ctx, req, |e| ratings.apply_event(e)),
        // GET /api/ratings/movie/{movieId}/stats: public
        (Method::Get, ["api", "ratings", "movie", movie_id, "stats"]) => Ok(ctx.json(200, &ratings.stats(movie_id)?)),
        (_, ["api", "ratings", "movie", _, "stats"]) => Err(ApiError::MethodNotAllowed),
        (_, ["api", "ratings", rest @ ..]) => {
            let claims = authenticate(req, &common.keys, unix_now())?;
            dispatch(ctx, req, &ratings, &claims, &method, rest).await
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
    ratings: &Ratings<'_>,
    claims: &Claims,
    method: &Method,
    rest: &[&str],
) -> Result<Response, ApiError> {
    let user_id = claims.sub.as_str();
    match (method, rest) {
        // GET /api/ratings/user/history?page&limit
        (Method::Get, ["user", "history"]) => Ok(ctx.json(200, &ratings.history(user_id, ctx.page()?)?)),
        // POST /api/ratings/{movieId} {score}: 201 created, 200 updated
        (Method::Post, [movie_id]) => {
            let body: RateBody = json_body(req, DEFAULT_BODY_LIMIT)?;
            let score = Score::parse(&body.score)?;
            ratings.check_user(user_id)?;
            movies::require(&variable(SERVICE, "movies_url")?, movie_id, &ctx.request_id).await?;
            match ratings.rate(user_id, movie_id, score)? {
                Outcome::Created(rated) => Ok(ctx.json(201, &rated)),
                Outcome::Updated(rated) => Ok(ctx.json(200, &rated)),
            }
        }
        // GET /api/ratings/{movieId}: the caller's
        (Method::Get, [movie_id]) => Ok(ctx.json(200, &ratings.get(user_id, movie_id)?)),
        // DELETE /api/ratings/{movieId}
        (Method::Delete, [movie_id]) => {
            ratings.delete(user_id, movie_id)?;
            Ok(ctx.no_content())
        }
        (_, [_] | ["user", "history"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such ratings route".into())),
    }
}
