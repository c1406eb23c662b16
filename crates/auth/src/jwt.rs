//! HS256 access tokens. Only HS256 is accepted: `alg: none` and every other
//! algorithm fail verification, as do tokens signed with another secret.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// Access tokens live 15 minutes (SPEC §3).
pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
/// Shorter secrets are refused at start-up: HS256 wants 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &str) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::WeakSecret(MIN_SECRET_BYTES));
        }
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        })
    }

    /// A signed access token for `user_id`, issued at `now` (Unix seconds).
    pub fn issue(&self, user_id: &str, role: Role, now: u64) -> Result<(String, Claims), AuthError> {
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token =
            encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| AuthError::InvalidToken)?;
        Ok((token, claims))
    }

    /// Check signature, algorithm and expiry against `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Expiry is checked below against the caller's clock, exactly.
        validation.validate_exp = false;
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|_| AuthError::InvalidToken)?;
        if data.claims.exp <= now {
            return Err(AuthError::InvalidToken);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let keys = JwtKeys::new(SECRET).unwrap();
        let (token, claims) = keys.issue("u1", Role::Admin, NOW).unwrap();
        assert_eq!(keys.verify(&token, NOW + 1).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(keys.verify(&token, NOW + 900), Err(AuthError::InvalidToken));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let keys = JwtKeys::new(SECRET).unwrap();
        let (token, _) = keys.issue("u1", Role::User, NOW).unwrap();
        let other = JwtKeys::new("another-secret-of-at-least-thirty-two!!").unwrap();
        assert_eq!(other.verify(&token, NOW), Err(AuthError::InvalidToken), "wrong secret");

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        // Same payload, role raised to admin, old signature.
        let payload = String::from_utf8(b64.decode(parts[1]).unwrap())
            .unwrap()
            .replace("\"user\"", "\"admin\"");
        let tampered = format!("{}.{}.{}", parts[0], b64.encode(payload.as_bytes()), parts[2]);
        assert_eq!(
            keys.verify(&tampered, NOW),
            Err(AuthError::InvalidToken),
            "tampered payload"
        );

        let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        for forged in [
            format!("{none_header}.{}.", parts[1]),
            format!("{none_header}.{}", parts[1]),
            "garbage".to_owned(),
            String::new(),
        ] {
            assert_eq!(keys.verify(&forged, NOW), Err(AuthError::InvalidToken), "{forged}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(JwtKeys::new("short"), Err(AuthError::WeakSecret(32))));
    }
}
