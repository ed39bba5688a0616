//! What every rule stands on: time, configuration, cryptography, storage and mail. Nothing
//! here knows about OAuth, people or HTTP.

pub mod brand;
pub mod cidr;
pub mod clock;
pub mod config;
pub mod crypto;
pub(crate) mod encoding;
pub mod i18n;
pub mod mail;
pub mod priority;
pub(crate) mod private_files;
pub mod store;
pub(crate) mod text;
pub(crate) mod time;
