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
