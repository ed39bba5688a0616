//! The signature a receiver checks: HMAC-SHA256 over the timestamp and the body, so neither
//! can be changed, nor an old request replayed later, without the secret.

use ring::hmac;

use crate::foundation::crypto::hashing::hex_encode;

pub const ID_HEADER: &str = "Usher-Webhook-Id";
pub const TIMESTAMP_HEADER: &str = "Usher-Webhook-Timestamp";
pub const SIGNATURE_HEADER: &str = "Usher-Webhook-Signature";

/// The `Usher-Webhook-Signature` value: `v1=` and the lower-case hex HMAC-SHA256, keyed with
/// `secret`, of `"<timestamp>.<body>"`. The `v1` names the scheme so a later one can be sent
/// alongside it while receivers move over.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    format!("v1={}", hex_encode(context.sign().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_an_independent_implementation() {
        // python3: hmac.new(secret, b"1900000000." + body, hashlib.sha256).hexdigest()
        let secret = b"whsec-test-0123456789abcdefghijklmnopqrstu";
        let body = r#"{"id":"evt","event":"subscription.put"}"#;
        assert_eq!(
            sign(secret, 1_900_000_000, body),
            "v1=55946d24744710bf1f86d48ce4b9a306f3d2e2be43c65ab778790f8a050ae7c8"
        );
    }

    #[test]
    fn timestamp_and_body_both_count() {
        let secret = b"secret";
        let signed = sign(secret, 1_900_000_000, "{}");
        assert_ne!(signed, sign(secret, 1_900_000_001, "{}"));
        assert_ne!(signed, sign(secret, 1_900_000_000, "{ }"));
        assert_ne!(signed, sign(b"other", 1_900_000_000, "{}"));
    }
}
