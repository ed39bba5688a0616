//! Usher: an OAuth 2.0 / OpenID Connect provider with first-class entitlements for
//! streaming platforms. See `docs/architecture.md` for how the modules fit together.

pub mod account;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod entitlements;
pub mod http;
pub mod login;
pub mod mail;
pub mod oauth;
pub mod state;
pub mod store;
pub mod sync;
pub mod webhooks;
