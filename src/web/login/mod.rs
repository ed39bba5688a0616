//! The sign-in and sign-up pages, the sign-in link pages, and the page that refuses a sign-in
//! beyond the plan's devices.

pub(crate) mod device_limit;
pub(crate) mod link_pages;
pub(crate) mod pages;
