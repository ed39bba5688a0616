//! People and how they prove who they are: accounts, browser sessions, passwords, TOTP,
//! passkeys, sign-in links, throttles and the notices mailed when credentials change.

pub(crate) mod account;
pub mod devices;
pub(crate) mod held_sign_ins;
pub mod links;
pub(crate) mod notices;
pub mod passkeys;
pub(crate) mod password;
pub(crate) mod people;
pub mod session;
pub(crate) mod throttle;
pub(crate) mod totp;
pub mod users;
