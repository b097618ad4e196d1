//! Passwords of people (payer accounts): argon2id with a random salt per password, stored as
//! a PHC string. Unlike tokens and codes, passwords carry little entropy, so the hash must be
//! slow; callers run it off the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password with argon2id and a fresh salt.
pub fn hash(password: &str) -> String {
    let salt_bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&salt_bytes)
        .and_then(|salt| {
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
}

/// Whether `password` matches the stored PHC string. Without a stored hash (an unknown
/// account) a hash of the same cost is still computed, so the answer takes as long either way.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let Some(stored) = stored else {
        let _ = hash(password);
        return false;
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("correct horse batterY", Some(&stored)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("x", Some("not a hash")));
        assert_ne!(hash("same"), hash("same"), "salted");
    }
}
