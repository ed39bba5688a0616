//! The errors of the OAuth endpoints (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 8628 §3.5)
//! as values: a code and a description. The web layer maps each code once to its status and
//! headers.

use std::borrow::Cow;

use crate::foundation::crypto::jwt::SignError;
use crate::foundation::crypto::keyring::KeyringError;
use crate::foundation::store::StoreError;

/// Error codes of RFC 6749 §5.2, RFC 7009 §2.2.1 and the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidGrant,
    /// RFC 8628 §3.5: the person has not answered yet; poll again.
    AuthorizationPending,
    /// RFC 8628 §3.5: polling too fast; wait 5 seconds longer from now on.
    SlowDown,
    /// RFC 8628 §3.5: the person said no.
    AccessDenied,
    /// RFC 8628 §3.5: the device code expired; start again.
    ExpiredToken,
    /// RFC 6750 §3.1: the request carries no bearer token; the challenge names no error.
    BearerRequired,
    /// RFC 6750 §3.1: the bearer token is malformed, expired or revoked.
    InvalidToken,
    /// RFC 6750 §3.1: the bearer token lacks a scope the resource needs.
    InsufficientScope,
    ServerError,
    /// Too many requests from one client address; retry after `retry_after_secs`.
    TooManyRequests,
    /// RFC 6749 §4.1.2.1: the database is away for the moment; retry after a pause.
    TemporarilyUnavailable,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
}

impl ErrorCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest | Self::PayloadTooLarge => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidGrant => "invalid_grant",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::BearerRequired => "invalid_request",
            Self::InsufficientScope => "insufficient_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::TooManyRequests => "slow_down",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }
}

#[derive(Debug)]
pub(crate) struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// When a refused request may be tried again, for `Retry-After`; a short pause if unset.
    pub retry_after_secs: Option<i64>,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after_secs: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub(crate) fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub(crate) fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// Logs the internal cause and hides it from the caller.
    pub(crate) fn server_error(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "request failed");
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(cause = %error, "request refused while the database is unavailable");
            return Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the server cannot complete the request right now; retry shortly",
            );
        }
        Self::server_error(&error)
    }
}

impl From<SignError> for OAuthError {
    fn from(error: SignError) -> Self {
        Self::server_error(&error)
    }
}

impl From<KeyringError> for OAuthError {
    fn from(error: KeyringError) -> Self {
        Self::server_error(&error)
    }
}
