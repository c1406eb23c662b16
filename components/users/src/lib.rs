//! The users component: a private route reached from the gateway by service
//! chaining (or by URL in a split deployment). It verifies the caller's JWT
//! itself too. The logic is in the `streamia-users` crate; this file is the
//! route table.

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::import::{ImportBatch, Imported};
use streamia_api::{json_body, ApiError, Ctx, DEFAULT_BODY_LIMIT};
use streamia_auth::Claims;
use streamia_spin::{authenticate as verify, require_admin, Call, Service};
use streamia_users::domain::{ChangePassword, Forgot, Login, Profile, RefreshToken, Register, Reset, SetRole};
use streamia_users::{Users, DATABASE, MIGRATIONS, SERVICE};

const USERS: Service = Service::new(SERVICE, DATABASE, MIGRATIONS).importing(import);

/// `POST /import` (admins): accounts from the old system.
fn import(call: &Call<'_>, batch: &ImportBatch) -> Result<Imported, ApiError> {
    streamia_users::import::import(call.db, batch)
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    streamia_spin::serve(&USERS, req, out, routes).await
}

async fn routes(call: &Call<'_>) -> Result<Response, ApiError> {
    let ["api", "users", rest @ ..] = call.segments.as_slice() else {
        return Err(call.no_route());
    };
    let admin_emails = call.settings().text("admin_emails")?;
    let users = Users {
        db: call.db,
        outbox: call.outbox,
        keys: &call.config()?.keys,
        admin_emails: &admin_emails,
        now: call.now,
    };
    dispatch(call.ctx, call.req, &users, &call.method, rest)
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
            Ok(ctx.json(200, &users.me(&claims.sub)?))
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
        // POST /api/users/announce?page&limit (admin): a page of accounts as user.updated again
        (Method::Post, ["announce"]) => {
            require_admin(&authenticate(req, users)?)?;
            Ok(ctx.json(200, &users.announce(ctx.page()?)?))
        }
        // PATCH /api/users/{id}/role {role} (admin)
        (Method::Patch, [id, "role"]) => {
            require_admin(&authenticate(req, users)?)?;
            let body: SetRole = json_body(req, DEFAULT_BODY_LIMIT)?;
            Ok(ctx.json(200, &users.set_role(id, &body.role)?))
        }
        // The named routes above with another method are not accounts' ids.
        (
            _,
            ["register" | "login" | "refresh" | "logout" | "me" | "announce"]
            | ["password", "forgot" | "reset"]
            | ["me", "password"],
        ) => Err(ApiError::MethodNotAllowed),
        // GET /api/users/{id} (admin)
        (Method::Get, [id]) => {
            require_admin(&authenticate(req, users)?)?;
            Ok(ctx.json(200, &users.account(id)?))
        }
        // DELETE /api/users/{id} (admin): the deletion saga, as DELETE /me
        (Method::Delete, [id]) => {
            require_admin(&authenticate(req, users)?)?;
            users.delete_account(id)?;
            Ok(ctx.no_content())
        }
        // POST /api/users/{id}/suspend (admin)
        (Method::Post, [id, "suspend"]) => {
            require_admin(&authenticate(req, users)?)?;
            Ok(ctx.json(200, &users.suspend(id)?))
        }
        // POST /api/users/{id}/reactivate (admin)
        (Method::Post, [id, "reactivate"]) => {
            require_admin(&authenticate(req, users)?)?;
            Ok(ctx.json(200, &users.reactivate(id)?))
        }
        (_, [] | [_] | [_, "role" | "suspend" | "reactivate"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such users route".into())),
    }
}

/// The JWT is checked here as well as at the gateway (defence in depth).
fn authenticate(req: &Request, users: &Users<'_>) -> Result<Claims, ApiError> {
    verify(req, users.keys, users.now)
}
