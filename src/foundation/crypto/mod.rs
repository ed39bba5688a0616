//! Keys, tokens and hashing.

pub mod hashing;
pub(crate) mod jwt;
pub mod keyring;
pub mod keys;
pub mod password_lane;
pub mod random;
