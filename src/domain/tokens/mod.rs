//! Access tokens once issued: the verified-token cache and the set of revoked token ids
//! every instance keeps in memory.

pub(crate) mod access_tokens;
pub(crate) mod revocation;
pub(crate) mod revoked;
