//! The web client's files, served by the `web` component at `/` and
//! `/assets/...` beside the gateway, which keeps `/api` and `/health`.

mod common;

use common::{assert_error, start};

#[test]
fn the_page_and_its_assets_are_served_beside_the_api() {
    let api = start();
    let page = api.get("/", None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        page.body.contains(r#"<script src="/assets/app.js" defer></script>"#),
        "{}",
        page.body
    );
    // Scripts from this origin only: nothing the API returns can run as code.
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // Videos go from an admin's browser to Cloudinary's upload API, and nowhere else.
    assert!(csp.contains("connect-src 'self' https://api.cloudinary.com;"), "{csp}");
    // The link password-reset e-mails send opens the same page.
    let reset = api.get("/reset-password?token=abc", None);
    assert_eq!(reset.status, 200);
    assert_eq!(reset.body, page.body);

    for (path, content_type, needle) in [
        ("/assets/app.js", "text/javascript; charset=utf-8", "/api/movies"),
        ("/assets/app.css", "text/css; charset=utf-8", ".poster"),
    ] {
        let asset = api.get(path, None);
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type"), Some(content_type), "{path}");
        assert!(asset.body.contains(needle), "{path}");
    }
    assert_eq!(api.get("/assets/missing.js", None).status, 404);
    assert_eq!(api.get("/assets/vendor/swagger-ui-5.36.0/missing.js", None).status, 404);
    assert_eq!(api.send("POST", "/", None, None).status, 405);

    // The gateway keeps everything else.
    let movies = api.get("/api/movies", None);
    assert_eq!(movies.status, 200, "{}", movies.body);
    assert_eq!(movies.json()["pagination"]["total"], 0);
    assert_eq!(api.get("/health", None).status, 200);
    assert_error(&api.get("/movies", None), 404, "not_found");
}

#[test]
fn an_odd_upload_address_never_widens_the_pages_policy() {
    let api = common::Api {
        // The hosts accept a wildcard as an outbound host; in a page's
        // policy it would let the page's script reach any server.
        host: common::app()
            .env("SPIN_VARIABLE_CLOUDINARY_BASE_URL", "https://*:*")
            .start(),
    };
    let csp = api
        .get("/", None)
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("connect-src 'self' https://api.cloudinary.com;"), "{csp}");
    assert!(!csp.contains('*'), "{csp}");
}

#[test]
fn the_api_contract_is_browsable_at_docs_under_a_strict_policy() {
    let api = start();
    let page = api.get("/docs", None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("object-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        !csp.contains("cloudinary"),
        "the docs page reaches nothing but this origin: {csp}"
    );
    for (path, content_type, needle, cached) in [
        (
            "/assets/docs.js",
            "text/javascript; charset=utf-8",
            "/api/openapi.json",
            false,
        ),
        (
            "/assets/vendor/swagger-ui-5.36.0/swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            "SwaggerUIBundle",
            true,
        ),
        (
            "/assets/vendor/swagger-ui-5.36.0/swagger-ui.css",
            "text/css; charset=utf-8",
            ".swagger-ui",
            true,
        ),
    ] {
        assert!(page.body.contains(path), "{path} is the page's");
        let asset = api.get(path, None);
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type"), Some(content_type), "{path}");
        assert!(asset.body.contains(needle), "{path}");
        let cache = asset.header("cache-control").unwrap_or_default();
        assert_eq!(cache.contains("max-age"), cached, "{path}: {cache}");
    }
    // The document it shows is the gateway's.
    let doc = api.get("/api/openapi.json", None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.1.0");
}
