//! What the users service takes and answers: validated inputs (a value of
//! these types is valid by construction), the account and session it
//! answers, and the request bodies.

use serde::{Deserialize, Serialize};
use streamia_api::{ApiError, FieldError};
use streamia_auth::Role;

#[derive(Debug, Clone, PartialEq)]
pub struct Email(String);

pub const EMAIL_MAX: usize = 254;
pub const EMAIL_LOCAL_MAX: usize = 64;

impl Email {
    /// `name@example.com`: at most [`EMAIL_MAX`] characters, a local part
    /// of 1 to [`EMAIL_LOCAL_MAX`], a domain of dot-separated labels; no
    /// white space or control character anywhere. Lower-cased, so
    /// uniqueness is case-insensitive.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("email", "must be an e-mail address like name@example.com");
        if raw.chars().count() > EMAIL_MAX || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(bad)?;
        let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || local.chars().count() > EMAIL_LOCAL_MAX || domain.contains('@') || !labels_ok {
            return Err(bad());
        }
        Ok(Email(raw.to_lowercase()))
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub struct Password(String);

pub const PASSWORD_MIN: usize = 8;
/// Bounds the work Argon2 does for one request.
pub const PASSWORD_MAX: usize = 128;

impl Password {
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let n = raw.chars().count();
        if n < PASSWORD_MIN {
            return Err(FieldError::new(
                field,
                format!("must be at least {PASSWORD_MIN} characters"),
            ));
        }
        if n > PASSWORD_MAX {
            return Err(FieldError::new(
                field,
                format!("must be at most {PASSWORD_MAX} characters"),
            ));
        }
        Ok(Password(raw.to_owned()))
    }
}

impl AsRef<str> for Password {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Username(String);

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 30;

impl Username {
    /// [`USERNAME_MIN`] to [`USERNAME_MAX`] ASCII letters, digits, `_`, `.`
    /// or `-`: a handle anyone can type, in which no markup or look-alike
    /// letter can hide.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw;
        let n = name.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&n) {
            return Err(FieldError::new(
                "username",
                format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters"),
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(FieldError::new(
                "username",
                "may hold only letters a-z and A-Z, digits, '_', '.' and '-'",
            ));
        }
        Ok(Username(name.to_owned()))
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `admin_emails`: comma- or space-separated addresses that become admins
/// when they register (bootstrap).
pub fn is_bootstrap_admin(admin_emails: &str, email: &Email) -> bool {
    admin_emails
        .split([',', ' ', ';', '\n'])
        .filter_map(|e| Email::parse(e).ok())
        .any(|e| e == *email)
}

/// An account as answered (never its password hash).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
    /// When an admin suspended the account; `null` while it is active.
    pub suspended_at: Option<String>,
    #[serde(skip)]
    pub(crate) password_hash: String,
}

impl User {
    /// 403 `account_suspended` while an admin has it suspended.
    pub fn refuse_if_suspended(&self) -> Result<(), ApiError> {
        match self.suspended_at {
            Some(_) => Err(ApiError::AccountSuspended),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
}

impl Session {
    pub(crate) fn new(user: User, tokens: Tokens) -> Self {
        Session {
            user,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

// The request bodies, as the routes take them; their fields are parsed
// into the types above by the service.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub email: String,
    pub password: String,
    pub username: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshToken {
    pub refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    pub email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reset {
    pub token: String,
    pub new_password: String,
}

/// Either field may be left out, neither sent as null.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, deserialize_with = "streamia_api::present")]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "streamia_api::present")]
    pub email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub role: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("Ana@Example.COM").unwrap().as_ref(), "ana@example.com");
        for bad in [
            "",
            " ana@example.com",
            "ana@example.com\n",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@example.com",
            "ana@example..com",
            "ana@.example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn passwords_and_usernames() {
        assert!(Password::parse("12345678", "password").is_ok());
        assert!(Password::parse("1234567", "password").is_err());
        assert!(Password::parse(&"x".repeat(129), "password").is_err());
        assert!(Username::parse("ana.maria_1").is_ok());
        for bad in ["ab", "<script>", "a b c", &"x".repeat(31), "ñandú", " ana"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admin_bootstrap_list() {
        let email = Email::parse("Boss@Example.com").unwrap();
        assert!(is_bootstrap_admin("x@y.z, boss@example.com", &email));
        assert!(!is_bootstrap_admin("", &email));
        assert!(!is_bootstrap_admin("boss@example.co", &email));
    }
}
