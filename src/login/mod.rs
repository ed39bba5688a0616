//! How people prove who they are: the login and sign-up pages, passwords, the browser
//! session that follows, and the CSRF and throttling rules every form obeys.

pub mod csrf;
pub mod link_pages;
pub mod links;
pub mod notices;
pub mod pages;
pub mod passkeys;
pub mod password;
pub mod session;
pub mod throttle;
pub mod totp;
