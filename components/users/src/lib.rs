//! The users component: a private route reached from the gateway by service
//! chaining (or by URL in a split deployment). It verifies the caller's JWT
//! itself too. The logic is in the `streamia-users` crate; this file is the
//! route table and the wiring to Spin.

use serde::Deserialize;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use streamia_api::{json_body, ApiError, Ctx, DEFAULT_BODY_LIMIT};
use streamia_auth::Claims;
use streamia_db::{Db, SpinDb};
use streamia_events::outbox::Outbox;
use streamia_spin::{authenticate as verify, require_admin, unix_now, variable, Common};

use streamia_users::{Users, SERVICE};

/// The component's own database (`sqlite_databases` in spin.toml).
const DATABASE: &str = "users";

/// Configuration from Spin variables, read per request (instances are per request).
struct Config {
    common: Common,
    admin_emails: String,
}

impl Config {
    fn load() -> Result<Self, ApiError> {
        Ok(Config {
            common: Common::load(SERVICE)?,
            admin_emails: variable(SERVICE, "admin_emails")?,
        })
    }
}

#[http_component]
async fn handle(req: Request) -> Response {
    let ctx = Ctx::new(&req);
    let result = route(&ctx, &req).await;
    ctx.respond(result)
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

async fn route(ctx: &Ctx, req: &Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let segs = segments(&path);
    if let ["health", rest @ ..] = segs.as_slice() {
        return health(ctx, rest);
    }
    let ["api", "users", rest @ ..] = segs.as_slice() else {
        return Err(ApiError::NotFound(format!("no route for {path}")));
    };

    let config = Config::load()?;
    let db = SpinDb::open(DATABASE).map_err(ApiError::internal)?;
    let outbox = Outbox::new(SERVICE);
    let users = Users {
        db: &db,
        outbox: &outbox,
        keys: &config.common.keys,
        admin_emails: &config.admin_emails,
        now: unix_now(),
    };
    users.migrate()?;

    let result = dispatch(ctx, req, &users, &method, rest);
    if method != Method::Get {
        // Deliver what this request put in the outbox (and anything older).
        streamia_spin::deliver_outbox(&db, &outbox, &config.common.transport, &ctx.request_id).await;
    }
    result
}

fn dispatch(ctx: &Ctx, req: &Request, users: &Users<'_>, method: &Method, rest: &[&str]) -> Result<Response, ApiError> {
    match (method, rest) {
        // POST /api/users/register {email,password,username}
        (Method::Post, ["register"]) => {
            let body: Register = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(201, &users.register(&body.email, &body.password, &body.username)?))
        }
        // POST /api/users/login {email,password}
        (Method::Post, ["login"]) => {
            let body: Login = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(200, &users.login(&body.email, &body.password)?))
        }
        // POST /api/users/refresh {refreshToken}
        (Method::Post, ["refresh"]) => {
            let body: RefreshToken = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(200, &users.refresh(&body.refresh_token)?))
        }
        // POST /api/users/logout {refreshToken}
        (Method::Post, ["logout"]) => {
            let body: RefreshToken = json_body(req, DEFAULT_BODY_LIMIT)?;
            users.logout(&body.refresh_token)?;
            Ok(ctx.no_content())
        }
        // POST /api/users/password/forgot {email}: 202 whether or not the account exists
        (Method::Post, ["password", "forgot"]) => {
            let body: Forgot = json_body(req, DEFAULT_BODY_LIMIT)?;
            users.forgot_password(&body.email)?;
            Ok(ctx.json(
                202,
                &serde_json::json!({"message": "if the account exists, a reset e-mail is on its way"}),
            ))
        }
        // POST /api/users/password/reset {token,newPassword}
        (Method::Post, ["password", "reset"]) => {
            let body: Reset = json_body(req, DEFAULT_BODY_LIMIT)?;
            users.reset_password(&body.token, &body.new_password)?;
            Ok(ctx.no_content())
        }
        // GET /api/users/me
        (Method::Get, ["me"]) => {
            let claims = authenticate(req, users)?;
            let user = users.find(&claims.sub)?.ok_or_else(ApiError::account_gone)?;
            Ok(ctx.json(200, &user))
        }
        // PATCH /api/users/me {username?,email?}
        (Method::Patch, ["me"]) => {
            let claims = authenticate(req, users)?;
            let body: Profile = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(
                200,
                &users.update_profile(&claims.sub, body.username.as_deref(), body.email.as_deref())?,
            ))
        }
        // DELETE /api/users/me: starts the deletion saga (user.deleted)
        (Method::Delete, ["me"]) => {
            let claims = authenticate(req, users)?;
            users.delete(&claims.sub)?;
            Ok(ctx.no_content())
        }
        // PUT /api/users/me/password {currentPassword,newPassword}
        (Method::Put, ["me", "password"]) => {
            let claims = authenticate(req, users)?;
            let body: ChangePassword = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(
                200,
                &users.change_password(&claims.sub, &body.current_password, &body.new_password)?,
            ))
        }
        // GET /api/users?page&limit (admin)
        (Method::Get, []) => {
            require_admin(&authenticate(req, users)?)?;
            Ok(ctx.json(200, &users.list(ctx.page()?)?))
        }
        // PATCH /api/users/{id}/role {role} (admin)
        (Method::Patch, [id, "role"]) => {
            require_admin(&authenticate(req, users)?)?;
            let body: SetRole = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(200, &users.set_role(id, &body.role)?))
        }
        (
            _,
            ["register" | "login" | "refresh" | "logout" | "me"]
            | ["password", "forgot" | "reset"]
            | ["me", "password"]
            | []
            | [_, "role"],
        ) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such users route".into())),
    }
}

/// The JWT is checked here as well as at the gateway (defence in depth).
fn authenticate(req: &Request, users: &Users<'_>) -> Result<Claims, ApiError> {
    verify(req, users.keys, users.now)
}

fn health(ctx: &Ctx, rest: &[&str]) -> Result<Response, ApiError> {
    let ready = SpinDb::open(DATABASE).is_ok_and(|db| db.is_ready());
    streamia_spin::health(ctx, SERVICE, rest, ready)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    email: String,
    password: String,
    username: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshToken {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forgot {
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Reset {
    token: String,
    new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    username: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangePassword {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRole {
    role: String,
}
