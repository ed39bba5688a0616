//! OAuth 2.0 and OpenID Connect rules: clients and their authentication, scopes, and the
//! tokens issued to people.

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub mod clients;
pub(crate) mod device;
pub(crate) mod error;
pub mod grants;
pub(crate) mod metadata;
pub(crate) mod parameters;
pub(crate) mod scopes;
pub(crate) mod token_response;
pub mod user_tokens;
