//! Asking the movies service about a movie, over service chaining
//! (`movies_url`, `http://movies.spin.internal` on one Spin app), its URL,
//! or a route of the same app ([`streamia_events::internal`]): services
//! that refer to movies check that the movie exists before storing anything.

use serde::Deserialize;
use spin_sdk::http::{Method, Request, Response};
use streamia_api::{ApiError, MovieId};

/// What the others keep of a movie.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MovieSummary {
    pub id: String,
    pub title: String,
    pub poster_url: Option<String>,
}

/// The movies service not answering is a dependency's outage, not this
/// service's: the gateway does not count it against this service's breaker.
fn unavailable(request_id: &str, why: String) -> ApiError {
    streamia_log::warn(
        streamia_log::component(),
        "movies service unavailable",
        streamia_log::json!({"requestId": request_id, "error": why}),
    );
    ApiError::DependencyUnavailable {
        dependency: "movies",
        code: "service_unavailable",
        message: "the movies service is unavailable; try again".into(),
        retry_after: None,
    }
}

/// The movie, `None` if the catalogue does not have it; 503 if the movies
/// service cannot answer.
pub async fn find(movies_url: &str, movie_id: &MovieId, request_id: &str) -> Result<Option<MovieSummary>, ApiError> {
    let movie_id = movie_id.as_str();
    let mut req = Request::builder()
        .method(Method::Get)
        .uri(format!("{}/api/movies/{movie_id}", movies_url.trim_end_matches('/')))
        .header("x-request-id", request_id)
        .header("accept", "application/json")
        .build();
    streamia_events::internal::sign(&mut req);
    let resp: Response = spin_sdk::http::send(req)
        .await
        .map_err(|e| unavailable(request_id, e.to_string()))?;
    match *resp.status() {
        200 => serde_json::from_slice(resp.body())
            .map(Some)
            .map_err(|e| unavailable(request_id, format!("unreadable movie: {e}"))),
        404 => Ok(None),
        status => Err(unavailable(request_id, format!("status {status}"))),
    }
}

/// The movie, from what this service has seen of it ([`streamia_events::known`]),
/// else asked of the movies service at `movies_url` and remembered: only a
/// service's first write about a movie calls another component. A movie
/// deleted since is refused by the service's tombstones, whatever is known.
pub async fn require_known(
    db: &dyn streamia_db::Db,
    service: &str,
    movies_url: impl FnOnce() -> Result<String, ApiError>,
    movie_id: &MovieId,
    request_id: &str,
) -> Result<MovieSummary, ApiError> {
    use streamia_events::known::{self, KnownMovie};
    if let Some(m) = known::find(db, service, movie_id.as_str())? {
        return Ok(MovieSummary {
            id: m.id,
            title: m.title,
            poster_url: m.poster_url,
        });
    }
    let movie = require(&movies_url()?, movie_id, request_id).await?;
    let seen = KnownMovie {
        id: movie.id.clone(),
        title: movie.title.clone(),
        poster_url: movie.poster_url.clone(),
    };
    if let Err(e) = known::remember(db, service, &seen) {
        // Not remembered: the next write asks again.
        let fields = streamia_log::json!({"requestId": request_id, "movieId": movie.id, "error": e.to_string()});
        streamia_log::warn(service, "movie not remembered", fields);
    }
    Ok(movie)
}

/// [`find`], with a missing movie as 404.
pub async fn require(movies_url: &str, movie_id: &MovieId, request_id: &str) -> Result<MovieSummary, ApiError> {
    find(movies_url, movie_id, request_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("movie not found".into()))
}
