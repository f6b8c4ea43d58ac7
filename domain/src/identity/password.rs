//! argon2id password hashing (m=19456 KiB, t=2, p=1) on a blocking thread, with the same
//! work for unknown accounts as for wrong passwords.

use std::sync::OnceLock;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("BUG: OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("failed to hash a password: {e}"))
    })
    .await
    .context("BUG: the hashing task panicked")?
}

/// Checks a password against a stored hash; with no hash (unknown account, service
/// account) it checks against a dummy hash so the answer takes as long either way.
pub async fn verify(password: SecretString, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (dummy_hash().to_string(), false),
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("stored password hash is unreadable: {e}"))?;
        let ok = argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && real)
    })
    .await
    .context("BUG: the verification task panicked")?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"weir dummy password for unknown accounts", &salt)
            .map(|h| h.to_string())
            .expect("BUG: hashing a constant cannot fail")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash(secret("correct horse battery")).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(
            verify(secret("correct horse battery"), Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify(secret("wrong horse battery"), Some(stored))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn no_hash_never_verifies() {
        assert!(
            !verify(secret("weir dummy password for unknown accounts"), None)
                .await
                .expect("verify")
        );
    }
}
