//! HTTP: the shared state, errors per boundary, forms and pages, and the handlers of every
//! endpoint. Handlers parse, call the domain, and answer.

pub mod account;
pub mod admin_api;
pub mod cors;
pub mod csrf;
pub mod dashboard;
pub mod errors;
pub mod extractors;
pub mod form;
pub mod health;
pub mod login;
pub mod metrics;
pub mod oauth;
pub mod pages;
pub mod return_to;
pub mod routes;
pub mod session_cookie;
pub mod state;
