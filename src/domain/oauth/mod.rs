//! OAuth 2.0 and OpenID Connect rules: clients and their authentication, scopes, and the
//! tokens issued to people.

pub mod client_auth;
pub mod clients;
pub mod scopes;
pub mod user_tokens;
