//! Argon2id password hashes (PHC strings), OWASP's minimum cost
//! (19 MiB, 2 passes, 1 lane); and the bcrypt hashes accounts imported from
//! the old Node system arrive with (`$2a$`/`$2b$`/`$2y$`, cost 4 to
//! [`BCRYPT_MAX_COST`]), verified until their owner's next sign-in
//! re-hashes them ([`needs_rehash`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::AuthError;

fn hasher() -> Argon2<'static> {
    // These constants are valid Argon2 parameters; `new` only fails on out-of-range values.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| AuthError::Hashing)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AuthError::Hashing)?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Hashing)
}

/// The costliest bcrypt hash accepted: 2^14 rounds take about a second of
/// a core; dearer ones would let one sign-in hold a core for longer.
pub const BCRYPT_MAX_COST: u32 = 14;

/// Does `password` match the stored hash (Argon2id, or a legacy bcrypt)?
pub fn verify(password: &str, stored: &str) -> bool {
    if bcrypt_cost(stored).is_ok() {
        // The old system's library compared the first 72 bytes; so does this.
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// The cost of a bcrypt hash this system accepts, or why it does not.
pub fn bcrypt_cost(stored: &str) -> Result<u32, String> {
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| stored.strip_prefix(prefix))
        .ok_or("not a bcrypt hash ($2a$, $2b$ or $2y$)")?;
    let (cost, salt_and_hash) = rest.split_once('$').ok_or("a bcrypt hash needs a cost")?;
    let cost: u32 = match cost.len() {
        2 => cost
            .parse()
            .map_err(|_| format!("bcrypt cost {cost:?} is not a number"))?,
        _ => return Err(format!("bcrypt cost {cost:?} is not two digits")),
    };
    if !(4..=BCRYPT_MAX_COST).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside 4 to {BCRYPT_MAX_COST}"));
    }
    let bcrypt_alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if salt_and_hash.len() != 53 || !salt_and_hash.chars().all(bcrypt_alphabet) {
        return Err("a bcrypt hash has 53 characters of salt and hash after its cost".into());
    }
    Ok(cost)
}

/// Whether a stored hash is anything but this system's Argon2id at its
/// current cost: after a successful sign-in, replace it with [`hash`].
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
}

/// What an account imported without a usable hash holds: no password
/// matches it (it is neither bcrypt nor a PHC string), so its owner sets
/// one through the reset e-mail.
pub const NO_PASSWORD: &str = "!imported-without-a-usable-password";

/// A hash an imported account may arrive with: a bcrypt this system
/// accepts, or [`NO_PASSWORD`].
pub fn importable(stored: &str) -> bool {
    stored == NO_PASSWORD || bcrypt_cost(stored).is_ok()
}

/// A valid hash of a random password, so that a login for an unknown
/// e-mail costs the same as one for a known e-mail.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Ue5O1FJm2cXwlL3Ttq1Ryd0fQ+0bQmDoE2mQ8iRtqQ";

/// Spend the time a real verification would, then fail.
pub fn verify_dummy(password: &str) -> bool {
    // black_box: the work must not be optimised away.
    std::hint::black_box(verify(password, DUMMY_HASH));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
    }

    /// bcrypt of "old-node-pw" at cost 4, as Node's bcryptjs writes it.
    fn legacy(prefix: &str) -> String {
        let parts = bcrypt::hash_with_salt("old-node-pw", 4, *b"sixteen byte slt").unwrap();
        parts
            .format_for_version(bcrypt::Version::TwoB)
            .replacen("$2b$", prefix, 1)
    }

    #[test]
    fn legacy_bcrypt_hashes_verify_and_ask_to_be_rehashed() {
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = legacy(prefix);
            assert_eq!(bcrypt_cost(&stored), Ok(4), "{stored}");
            assert!(verify("old-node-pw", &stored), "{stored}");
            assert!(!verify("old-node-pW", &stored), "{stored}");
            assert!(needs_rehash(&stored));
        }
        assert!(!needs_rehash(&hash("a new password").unwrap()));
        assert!(
            needs_rehash("$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaA"),
            "a weaker Argon2id"
        );
    }

    #[test]
    fn bcrypt_hashes_beyond_cost_14_or_malformed_are_refused() {
        let stored = legacy("$2b$");
        let dearer = stored.replacen("$04$", "$15$", 1);
        assert_eq!(bcrypt_cost(&dearer), Err("bcrypt cost 15 is outside 4 to 14".into()));
        assert!(!verify("old-node-pw", &dearer), "never attempted");
        assert!(bcrypt_cost("$2b$10$short").is_err());
        assert!(bcrypt_cost("$2x$10$abc").is_err());
        assert!(bcrypt_cost(&stored.replacen("$04$", "$4$", 1)).is_err());
        assert_eq!(bcrypt_cost(&stored.replacen("$04$", "$14$", 1)), Ok(14));
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash_that_never_matches() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_dummy("anything"));
        assert!(!verify("garbage", "not a hash"));
    }
}
