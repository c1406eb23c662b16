//! Authentication primitives shared by the gateway and the services.
//!
//! Layout: [`jwt`] issues and verifies the 15-minute HS256 access tokens
//! (claims `sub`, `role`, `exp`, `iat`, `jti`); [`password`] hashes with
//! Argon2id and checks in constant time, with a dummy hash for unknown
//! accounts; [`token`] makes the opaque refresh and reset tokens and the
//! SHA-256 digests they are stored as.

pub mod jwt;
pub mod password;
pub mod token;

pub use jwt::{Claims, JwtKeys, Role};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("the JWT secret must be at least {0} bytes")]
    WeakSecret(usize),
    #[error("password hashing failed")]
    Hashing,
}

/// `Authorization: Bearer <token>` → `<token>`.
/// Compare a presented secret with the expected one in time that does not
/// depend on where they differ.
pub fn secret_matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::MissingToken)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::InvalidToken);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(secret_matches("relay-token-1", "relay-token-1"));
        assert!(!secret_matches("relay-token-2", "relay-token-1"));
        assert!(!secret_matches("relay", "relay-token-1"));
        assert!(!secret_matches("", "x"));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::MissingToken));
        for bad in ["Basic abc", "Bearer", "Bearer ", "abc"] {
            assert_eq!(bearer(Some(bad)), Err(AuthError::InvalidToken), "{bad}");
        }
    }
}
