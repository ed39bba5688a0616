//! Hashes for secrets at rest: SHA-256 for high-entropy secrets (client secrets, tokens),
//! argon2id for human passwords.

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex_encode(&sha256(data))
}

/// Lower-case hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Whether `secret` hashes to `expected_hex`, compared in constant time.
pub(crate) fn secret_matches(secret: &str, expected_hex: &str) -> bool {
    let actual = sha256_hex(secret.as_bytes());
    actual.as_bytes().ct_eq(expected_hex.as_bytes()).into()
}

/// Whether two secrets are equal, compared in constant time: their SHA-256 digests are, so
/// neither their contents nor their lengths show in the time taken.
pub(crate) fn secrets_equal(presented: &str, expected: &str) -> bool {
    sha256(presented.as_bytes())
        .ct_eq(&sha256(expected.as_bytes()))
        .into()
}

/// argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None)?,
    ))
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordHashError(String);

pub(crate) fn hash_password(password: &str) -> Result<String, PasswordHashError> {
    let hasher = argon2().map_err(|error| PasswordHashError(error.to_string()))?;
    hasher
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordHashError(error.to_string()))
}

pub(crate) fn verify_password(password: &str, stored: &str) -> bool {
    let (Ok(hasher), Ok(parsed)) = (argon2(), PasswordHash::new(stored)) else {
        return false;
    };
    hasher.verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_equal_only_when_identical() {
        assert!(secrets_equal("scraper-7f3a9c1e", "scraper-7f3a9c1e"));
        assert!(!secrets_equal("scraper-7f3a9c1f", "scraper-7f3a9c1e"));
        assert!(!secrets_equal("scraper", "scraper-7f3a9c1e"));
        assert!(!secrets_equal("", "scraper-7f3a9c1e"));
    }

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let stored = sha256_hex(b"correct horse");
        assert!(secret_matches("correct horse", &stored));
        assert!(!secret_matches("correct horsf", &stored));
    }

    #[test]
    fn passwords_are_hashed_with_argon2id_owasp_parameters() {
        let stored = hash_password("s3cret pass").expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify_password("s3cret pass", &stored));
        assert!(!verify_password("s3cret pasS", &stored));
    }

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
