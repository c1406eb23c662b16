//! The web client's files, built into the component: `/` is the one HTML
//! page (also at `/reset-password`, the link password-reset e-mails send);
//! `/docs` the API contract, browsable (Swagger UI, vendored, on the
//! gateway's `/api/openapi.json`); `/assets/*` their scripts and styles. The
//! pages talk to the gateway's `/api` on the same origin, so they need no
//! CORS and no build step.

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

const DOCS: Asset = Asset {
    body: include_str!("../assets/docs.html"),
    content_type: "text/html; charset=utf-8",
};

/// Where the vendored Swagger UI is served; its version is in the path, so
/// a browser may keep it (the files never change under one path).
const SWAGGER_UI: &str = "vendor/swagger-ui-5.36.0/";

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
        "docs.js" => Asset {
            body: include_str!("../assets/docs.js"),
            content_type: "text/javascript; charset=utf-8",
        },
        vendored => match vendored.strip_prefix(SWAGGER_UI)? {
            "swagger-ui-bundle.js" => Asset {
                body: include_str!("../assets/vendor/swagger-ui-5.36.0/swagger-ui-bundle.js"),
                content_type: "text/javascript; charset=utf-8",
            },
            "swagger-ui.css" => Asset {
                body: include_str!("../assets/vendor/swagger-ui-5.36.0/swagger-ui.css"),
                content_type: "text/css; charset=utf-8",
            },
            _ => return None,
        },
    })
}

/// The docs page's policy: everything from this origin (the document, the
/// API "Try it out" calls), Swagger UI's inline SVG icons as data: images.
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

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
        "/" | "/reset-password" => Some((INDEX, content_security_policy(&upload_origin()))),
        "/docs" => Some((DOCS, DOCS_POLICY.to_owned())),
        // The page's policy covers its script and style too.
        _ => path
            .strip_prefix("/assets/")
            .and_then(asset)
            .map(|asset| (asset, "default-src 'none'".to_owned())),
    };
    let vendored = path.contains("/vendor/");
    match found {
        Some((asset, policy)) => Response::builder()
            .status(200)
            .header("content-type", asset.content_type)
            // Our files are small and a release changes them: the browser
            // asks again. A vendored file's path names its version.
            .header(
                "cache-control",
                if vendored { "public, max-age=86400" } else { "no-cache" },
            )
            .header("content-security-policy", policy)
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
