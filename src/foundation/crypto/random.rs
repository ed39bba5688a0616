//! The one source of secret randomness: a CSPRNG seeded by the operating system.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buffer = [0u8; N];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer
}

/// A URL-safe token carrying `N` random bytes (`N * 8` bits of entropy).
pub fn token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}

/// Whether `text` has the shape of 32 bytes in unpadded base64url: a [`token::<32>`] or a
/// SHA-256 digest.
pub(crate) fn is_base64url_of_32_bytes(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}
