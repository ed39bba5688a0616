//! The integration tests, one module per area, built as one test binary: the `usher` crate is
//! linked once instead of once per file. Each test runs a real server on a free port
//! ([`common::TestServer`]); tests/run runs them all, `tests/run --test integration totp::`
//! those of one module.

// First, so that `on_both_backends!` is in scope in every module below.
#[macro_use]
mod common;

mod account;
mod account_profiles;
mod admin_api;
mod admin_dashboard;
mod authorization_code;
mod bad_input;
mod brand;
mod browser_admin;
mod browser_csp;
mod browser_device;
mod browser_passkeys;
mod browser_sign_in;
mod browser_smoke;
mod cli;
mod cluster;
mod content_listener;
mod content_servers;
mod cookies;
mod credential_changes;
mod database_outage;
mod device_grant;
mod device_limit;
mod docs_check;
mod ending_access;
mod entitlements;
mod health;
mod home;
mod households;
mod introspection_callers;
mod key_rotation;
mod languages;
mod mail;
mod oidc_client;
mod pages;
mod passkey_ceremonies;
mod password_lane;
mod profile_choice;
mod profiles;
mod readme;
mod sign_in_links;
mod sign_in_store;
mod slow_clients;
mod streams;
mod time_zones;
mod totp;
mod trusted_proxies;
mod webhooks;
