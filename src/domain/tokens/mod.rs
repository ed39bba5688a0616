//! Access tokens once issued: the verified-token cache and the set of revoked token ids
//! every instance keeps in memory.

pub mod access_tokens;
pub mod revocation;
pub mod revoked;
