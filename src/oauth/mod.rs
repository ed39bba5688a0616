//! OAuth 2.0 and OpenID Connect protocol endpoints.

pub mod access_tokens;
pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod device_pages;
pub mod discovery;
pub mod grants;
pub mod introspection;
pub mod logout;
pub mod revocation;
pub mod revoked;
pub mod scopes;
pub mod token;
pub mod user_tokens;
pub mod userinfo;
