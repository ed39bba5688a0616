//! The signatures a receiver checks, in the Standard Webhooks format
//! (<https://www.standardwebhooks.com/>): HMAC-SHA256 over the event id, the timestamp and the
//! body, so none of them can be changed, nor an old request replayed later, without the
//! secret. The `Usher-Webhook-*` headers of earlier releases are sent beside them for one more
//! release.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

use crate::foundation::crypto::hashing::hex_encode;
use crate::foundation::crypto::random;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// Deprecated: Usher's own headers before Standard Webhooks, removed in the next release.
pub const LEGACY_ID_HEADER: &str = "Usher-Webhook-Id";
pub const LEGACY_TIMESTAMP_HEADER: &str = "Usher-Webhook-Timestamp";
pub const LEGACY_SIGNATURE_HEADER: &str = "Usher-Webhook-Signature";

/// Marks a Standard Webhooks symmetric secret: what follows is the base64 of the HMAC key.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh endpoint secret as its receiver is given it: `whsec_` and the base64 of 256 random
/// bits.
pub(crate) fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random::bytes::<32>()))
}

/// The secrets that sign one delivery, each as its receiver was given it: the endpoint's
/// current one and, for a while after it was replaced, the one before.
pub(crate) struct SigningSecrets {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

/// The headers of one attempt at delivering `body`: the Standard Webhooks ones, signed with
/// every secret in `secrets`, then the deprecated ones, signed with the current secret only
/// (their receivers never had more than one).
pub(crate) fn headers(
    secrets: &SigningSecrets,
    event_id: &str,
    timestamp: i64,
    body: &str,
) -> [(&'static str, String); 6] {
    let signatures = std::iter::once(&secrets.current)
        .chain(secrets.previous.as_ref())
        .map(|secret| sign(&hmac_key(secret), event_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    [
        (ID_HEADER, event_id.to_owned()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, signatures),
        (LEGACY_ID_HEADER, event_id.to_owned()),
        (LEGACY_TIMESTAMP_HEADER, timestamp.to_string()),
        (
            LEGACY_SIGNATURE_HEADER,
            legacy_sign(&secrets.current, timestamp, body),
        ),
    ]
}

/// The Standard Webhooks HMAC key of a secret as its receiver was given it: the bytes a
/// `whsec_` secret encodes. A secret issued before Usher spoke Standard Webhooks (43
/// characters, no prefix) is its own key, exactly as its legacy signature uses it, so its
/// receiver's `whsec_` form is `whsec_` followed by the base64 of those characters.
fn hmac_key(secret: &[u8]) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX.as_bytes())
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .unwrap_or_else(|| secret.to_vec())
}

/// One Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256, keyed with `key`, of
/// `"<id>.<timestamp>.<body>"`.
pub fn sign(key: &[u8], event_id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    context.update(event_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// The deprecated `Usher-Webhook-Signature` value: `v1=` and the lower-case hex HMAC-SHA256,
/// keyed with the secret's characters as given, of `"<timestamp>.<body>"`.
fn legacy_sign(secret: &[u8], timestamp: i64, body: &str) -> String {
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

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // The reference libraries' own test (standard-webhooks, libraries/python/tests).
        let headers = headers(
            &SigningSecrets {
                current: b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec(),
                previous: None,
            },
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            header(&headers, "webhook-signature"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(header(&headers, "webhook-id"), "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(header(&headers, "webhook-timestamp"), "1614265330");
    }

    #[test]
    fn the_previous_secret_signs_too_while_it_overlaps() {
        let current = new_secret();
        let previous = new_secret();
        let body = r#"{"id":"evt"}"#;
        let both = headers(
            &SigningSecrets {
                current: current.clone().into_bytes(),
                previous: Some(previous.clone().into_bytes()),
            },
            "evt",
            1_900_000_000,
            body,
        );
        let key = |secret: &str| STANDARD.decode(&secret[SECRET_PREFIX.len()..]).unwrap();
        assert_eq!(
            header(&both, "webhook-signature"),
            format!(
                "{} {}",
                sign(&key(&current), "evt", 1_900_000_000, body),
                sign(&key(&previous), "evt", 1_900_000_000, body)
            )
        );
        assert_eq!(
            header(&both, "Usher-Webhook-Signature"),
            legacy_sign(current.as_bytes(), 1_900_000_000, body),
            "the deprecated header keeps one signature, with the current secret"
        );
    }

    #[test]
    fn the_deprecated_signature_matches_an_independent_implementation() {
        // python3: hmac.new(secret, b"1900000000." + body, hashlib.sha256).hexdigest()
        let secret = b"whsec-test-0123456789abcdefghijklmnopqrstu";
        let body = r#"{"id":"evt","event":"subscription.put"}"#;
        let headers = headers(
            &SigningSecrets {
                current: secret.to_vec(),
                previous: None,
            },
            "evt",
            1_900_000_000,
            body,
        );
        assert_eq!(
            header(&headers, "Usher-Webhook-Signature"),
            "v1=55946d24744710bf1f86d48ce4b9a306f3d2e2be43c65ab778790f8a050ae7c8"
        );
        assert_eq!(header(&headers, "Usher-Webhook-Id"), "evt");
        assert_eq!(header(&headers, "Usher-Webhook-Timestamp"), "1900000000");
    }

    #[test]
    fn a_secret_from_before_standard_webhooks_is_its_own_key() {
        // Issued as 43 base64url characters; its receiver configures "whsec_" + base64(them).
        let old = "kR1bW0n3Vq8sXzYc2LhT5uJ9aPfD7gE4iO6mNwQyB0s";
        let body = "{}";
        let headers = headers(
            &SigningSecrets {
                current: old.as_bytes().to_vec(),
                previous: None,
            },
            "evt",
            1_900_000_000,
            body,
        );
        assert_eq!(
            header(&headers, "webhook-signature"),
            sign(old.as_bytes(), "evt", 1_900_000_000, body)
        );
    }

    #[test]
    fn id_timestamp_and_body_all_count() {
        let key = b"secret";
        let signed = sign(key, "evt", 1_900_000_000, "{}");
        assert_ne!(signed, sign(key, "evt2", 1_900_000_000, "{}"));
        assert_ne!(signed, sign(key, "evt", 1_900_000_001, "{}"));
        assert_ne!(signed, sign(key, "evt", 1_900_000_000, "{ }"));
        assert_ne!(signed, sign(b"other", "evt", 1_900_000_000, "{}"));
    }

    #[test]
    fn new_secrets_carry_256_random_bits_in_the_standard_form() {
        let secret = new_secret();
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("the whsec_ prefix"))
            .expect("standard base64");
        assert_eq!(key.len(), 32);
        assert_ne!(secret, new_secret());
    }
}
