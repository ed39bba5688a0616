//! OAuth 2.0 and OpenID Connect protocol endpoints.

pub(crate) mod authorize;
pub(crate) mod device;
pub(crate) mod device_pages;
pub(crate) mod discovery;
pub(crate) mod introspection;
pub(crate) mod logout;
pub(crate) mod profile_picker;
pub(crate) mod revocation;
pub(crate) mod token;
pub(crate) mod userinfo;
