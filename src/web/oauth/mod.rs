//! OAuth 2.0 and OpenID Connect protocol endpoints.

pub mod authorize;
pub mod device;
pub mod device_pages;
pub mod discovery;
pub mod introspection;
pub mod logout;
pub mod revocation;
pub mod token;
pub mod userinfo;
