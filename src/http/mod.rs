//! HTTP wiring: routes, the server, errors and middleware.

pub mod app;
pub mod cors;
pub mod errors;
pub mod form;
pub mod health;
pub mod metrics;
pub mod pages;
