//! OAuth 2.0 and OpenID Connect rules: clients and their authentication, scopes, and the
//! tokens issued to people.

pub mod client_auth;
pub mod clients;
pub mod error;
pub mod grants;
pub mod parameters;
pub mod scopes;
pub mod token_response;
pub mod user_tokens;
