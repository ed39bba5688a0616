//! One module per grant type.

pub mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod refresh_token;
