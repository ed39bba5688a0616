//! The admin API under `/admin/api/v1` (CONTRACT.md "Admin API").

use actix_web::web;

/// The admin API's routes.
pub fn routes(_config: &mut web::ServiceConfig) {}
