//! People and how they prove who they are: accounts, browser sessions, passwords, TOTP,
//! passkeys, sign-in links, throttles and the notices mailed when credentials change.

pub mod links;
pub mod notices;
pub mod passkeys;
pub mod password;
pub mod people;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod users;
