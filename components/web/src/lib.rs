//! The web client's files, built into the component: `/` is the one HTML
//! page; `/assets/*` its script and style. The page talks to the
//! gateway's `/api` on the same origin, so it needs no CORS and no build step.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

struct Asset {
    body: &'static str,
    content_type: &'static str,
}

const INDEX: Asset = Asset {
    body: include_str!("../assets/index.html"),
    content_type: "text/html; charset=utf-8",
};

/// The files under `/assets/`.
fn asset(name: &str) -> Option<Asset> {
    Some(match name {
        "app.js" => Asset {
            body: include_str!("../assets/app.js"),
            content_type: "text/javascript; charset=utf-8",
        },
        "app.css" => Asset {
            body: include_str!("../assets/app.css"),
            content_type: "text/css; charset=utf-8",
        },
        _ => return None,
    })
}

/// Scripts and styles from this origin only; pictures and video from
/// Cloudinary, where the catalogue's media lives; the API on this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: https://res.cloudinary.com; \
     media-src 'self' https://res.cloudinary.com; connect-src 'self' https://api.cloudinary.com; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path();
    if !matches!(req.method(), spin_sdk::http::Method::Get | spin_sdk::http::Method::Head) {
        return plain(405, "method not allowed");
    }
    let found = match path {
        "/" => Some(INDEX),
        _ => path.strip_prefix("/assets/").and_then(asset),
    };
    match found {
        Some(asset) => Response::builder()
            .status(200)
            .header("content-type", asset.content_type)
            // Small files, and a release changes them: the browser asks again.
            .header("cache-control", "no-cache")
            .header("content-security-policy", CONTENT_SECURITY_POLICY)
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "same-origin")
            .body(asset.body)
            .build(),
        None => plain(404, "not found"),
    }
}

fn plain(status: u16, text: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(text.to_owned())
        .build()
}
