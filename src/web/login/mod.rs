//! The sign-in and sign-up pages and the sign-in link pages.

pub mod link_pages;
pub mod pages;
