//! Usher: an OAuth 2.0 / OpenID Connect provider with first-class entitlements for
//! streaming platforms.
//!
//! Four layers, each importing only from the ones before it (`tests/layers` keeps it so):
//! [`foundation`] (clock, configuration, time, cryptography, storage, mail) → [`domain`]
//! (identity, OAuth, tokens, entitlements, webhooks: the rules, with no HTTP) → [`web`]
//! (state, extractors, errors per boundary, pages and handlers) → [`app`] (command line,
//! server start-up, background tasks). `docs/architecture.md` walks requests through them.

pub mod app;
pub mod domain;
pub mod foundation;
pub mod web;
