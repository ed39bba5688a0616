//! The rules of Usher, with no HTTP: identity, OAuth, tokens, entitlements and webhooks.
//! The command line, the admin API and the dashboard all call the same functions here.

pub(crate) mod core;
pub mod entitlements;
pub mod households;
pub mod identity;
pub mod oauth;
pub mod profiles;
pub(crate) mod streams;
pub(crate) mod tokens;
pub mod webhooks;

use crate::foundation::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] crate::foundation::crypto::hashing::PasswordHashError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

impl AdminError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
