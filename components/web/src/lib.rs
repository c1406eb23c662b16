//! The web client's files, built into the component: `/` is the one HTML
//! page (also at `/reset-password`, the link password-reset e-mails send);
//! `/assets/*` its script and style. The page talks to the
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

/// Scripts and styles from this origin only; pictures, video and subtitles
/// from Cloudinary, where the catalogue's media lives; the API on this
/// origin, and Cloudinary's upload API (`upload_origin`), where an admin's
/// browser sends a video directly.
fn content_security_policy(upload_origin: &str) -> String {
    format!(
        "default-src 'self'; img-src 'self' data: https://res.cloudinary.com; \
         media-src 'self' https://res.cloudinary.com; connect-src 'self' {upload_origin}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

const CLOUDINARY_API: &str = "https://api.cloudinary.com";

/// The scheme, host and port of the variable `cloudinary_base_url` (a local
/// fake in tests); Cloudinary's own when it is unset or not a plain URL,
/// so an odd value can never widen the policy.
fn upload_origin() -> String {
    let configured = streamia_settings::Settings::spin("the web client")
        .optional("cloudinary_base_url")
        .unwrap_or_default();
    origin(&configured).unwrap_or_else(|| CLOUDINARY_API.to_owned())
}

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split('/').next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (matches!(scheme, "http" | "https") && !authority.is_empty() && authority.chars().all(plain))
        .then(|| format!("{scheme}://{authority}"))
}

#[http_component]
fn handle(req: Request) -> Response {
    let path = req.path();
    if !matches!(req.method(), spin_sdk::http::Method::Get | spin_sdk::http::Method::Head) {
        return plain(405, "method not allowed");
    }
    let found = match path {
        "/" | "/reset-password" => Some(INDEX),
        _ => path.strip_prefix("/assets/").and_then(asset),
    };
    match found {
        Some(asset) => Response::builder()
            .status(200)
            .header("content-type", asset.content_type)
            // Small files, and a release changes them: the browser asks again.
            .header("cache-control", "no-cache")
            // The page's policy covers its script and style too.
            .header(
                "content-security-policy",
                if asset.content_type.starts_with("text/html") {
                    content_security_policy(&upload_origin())
                } else {
                    "default-src 'none'".to_owned()
                },
            )
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
