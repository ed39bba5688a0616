//! The sign-in and sign-up pages and the sign-in link pages.

pub(crate) mod link_pages;
pub(crate) mod pages;
