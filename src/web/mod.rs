//! HTTP: the shared state, errors per boundary, forms and pages, and the handlers of every
//! endpoint. Handlers parse, call the domain, and answer.

pub(crate) mod account;
pub(crate) mod admin_api;
pub(crate) mod brand;
pub(crate) mod client_address;
pub(crate) mod cors;
pub(crate) mod csrf;
pub(crate) mod dashboard;
pub(crate) mod errors;
pub(crate) mod extractors;
pub(crate) mod form;
pub(crate) mod health;
pub(crate) mod home;
pub(crate) mod i18n;
pub(crate) mod login;
pub(crate) mod metrics;
pub(crate) mod oauth;
pub(crate) mod pages;
pub(crate) mod paths;
pub(crate) mod return_to;
pub(crate) mod routes;
pub mod session_cookie;
pub mod state;
pub(crate) mod streams;
pub(crate) mod timeouts;
