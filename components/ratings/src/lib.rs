//! The ratings component: a private route reached from the gateway. Movie
//! statistics are public; everything else needs a token, checked here again,
//! and works on the caller's own ratings. `POST /events` takes the saga
//! events (http transport).

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::import::{ImportBatch, Imported};
use streamia_api::{json_body, ApiError, DEFAULT_BODY_LIMIT};
use streamia_cache::KvCache;
use streamia_ratings::{MovieId, Outcome, RateBody, Ratings, Score, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::{movies, Call, Consumer, Service};

const RATINGS: Service = Service::new(SERVICE, DATABASE, MIGRATIONS)
    .keeping(streamia_ratings::cache::CACHE_STORE, streamia_spin::key_value_answers)
    .consuming(
        streamia_ratings::events::CONSUMES,
        Consumer::Sync(streamia_ratings::events::apply),
    )
    .importing(import);

/// `POST /import` (admins): ratings from the old system; the statistics
/// cached for the movies they rate are dropped.
fn import(call: &Call<'_>, batch: &ImportBatch) -> Result<Imported, ApiError> {
    let (imported, movies) = streamia_ratings::import::import(call.db, batch)?;
    let cache = KvCache::open(streamia_ratings::cache::CACHE_STORE);
    for movie in &movies {
        streamia_ratings::cache::forget(&cache, movie, call.now);
    }
    Ok(imported)
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&RATINGS, req, out, routes).await
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let cache = KvCache::open(streamia_ratings::cache::CACHE_STORE);
    let ratings = Ratings {
        db: call.db,
        outbox: call.outbox,
        cache: &cache,
        now: call.now,
    };
    let (ctx, req) = (call.ctx, call.req);
    let ["api", "ratings", rest @ ..] = call.segments.as_slice() else {
        return Err(call.no_route());
    };
    match (&call.method, rest) {
        // GET /api/ratings/movie/{movieId}/stats: public
        (Method::Get, ["movie", movie_id, "stats"]) => {
            let (stats, hit) = ratings.public_stats(movie_id)?;
            let mut resp = ctx.json(200, &stats);
            resp.set_header("x-cache", if hit { "hit" } else { "miss" });
            return Ok(resp);
        }
        (_, ["movie", _, "stats"]) => return Err(ApiError::MethodNotAllowed),
        _ => {}
    }
    let user_id = &call.claims()?.sub;
    match (&call.method, rest) {
        // GET /api/ratings/user/history?page&limit
        (Method::Get, ["user", "history"]) => Ok(ctx.json(200, &ratings.history(user_id, ctx.page()?)?)),
        // POST /api/ratings/{movieId} {score}: 201 created, 200 updated
        (Method::Post, [movie_id]) => {
            let body: RateBody = json_body(req, DEFAULT_BODY_LIMIT)?;
            let score = Score::parse(&body.score)?;
            let movie_id = MovieId::parse(movie_id)?;
            movies::require_known(
                call.db,
                SERVICE,
                || call.settings().text("movies_url").map_err(ApiError::from),
                &movie_id,
                &ctx.request_id,
            )
            .await?;
            match ratings.rate(user_id, &movie_id, score)? {
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
