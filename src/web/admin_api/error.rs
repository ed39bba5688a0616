//! The admin API's one error type: every refusal as `{"error", "error_description"}` (the body
//! shape of the rest of the server) with its status and, for 401 and 403, the RFC 6750
//! challenge.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::AdminError;
use crate::domain::entitlements::manage::EntitlementError;
use crate::domain::households::HouseholdError;
use crate::domain::profiles::ProfileError;
use crate::foundation::store::StoreError;
use crate::web::errors::RETRY_AFTER_SECS;

/// What the `WWW-Authenticate` header says (RFC 6750 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// No token was presented: the challenge names no error.
    TokenRequired,
    InvalidToken,
    /// The token lacks this scope.
    InsufficientScope(&'static str),
}

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: Cow<'static, str>,
    challenge: Option<Challenge>,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
    /// A 503 says when to come back.
    retry_after: bool,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A machine-readable code: `invalid_request` (400, and 401 without a token),
    /// `invalid_token` (401), `insufficient_scope` (403), `not_found` (404),
    /// `method_not_allowed` (405), `conflict` (409), `invalid_field` (422), `server_error`
    /// (500), `temporarily_unavailable` (503, with `Retry-After`).
    #[schema(example = "invalid_field")]
    pub error: String,
    /// For people; a 422 starts with the name of the offending field.
    #[schema(example = "current_period_end: must be an RFC 3339 timestamp")]
    pub error_description: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
            allow: None,
            retry_after: false,
        }
    }

    /// 400: the request itself could not be read (malformed JSON, a repeated parameter).
    pub(crate) fn bad_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 422: a field was read but is wrong; the description starts with its name.
    pub(crate) fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("{field}: {message}"),
        )
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub(crate) fn conflict(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    pub(crate) fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is too large",
        )
    }

    /// 401 for a request without a bearer token.
    pub(crate) fn token_required(description: &'static str) -> Self {
        Self {
            challenge: Some(Challenge::TokenRequired),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_request", description)
        }
    }

    /// 401 for a token that is not ours, has expired or was revoked.
    pub(crate) fn invalid_token(description: &'static str) -> Self {
        Self {
            challenge: Some(Challenge::InvalidToken),
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
        }
    }

    /// 403 for a good token without the scope the route needs.
    pub(crate) fn insufficient_scope(scope: &'static str, description: &'static str) -> Self {
        Self {
            challenge: Some(Challenge::InsufficientScope(scope)),
            ..Self::new(StatusCode::FORBIDDEN, "insufficient_scope", description)
        }
    }

    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this endpoint accepts {allow}"),
            )
        }
    }

    /// 503 with `Retry-After`: the database is away for the moment.
    pub(crate) fn unavailable(cause: &StoreError) -> Self {
        tracing::warn!(%cause, "admin API request refused while the database is unavailable");
        Self {
            retry_after: true,
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the database is unavailable for the moment; retry shortly",
            )
        }
    }

    /// Logs the internal cause and hides it from the caller.
    pub(crate) fn server_error(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "admin API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }

    fn challenge(&self) -> Option<String> {
        // Quotes and backslashes would end the quoted-string early.
        let quoted = |text: &str| text.replace(['"', '\\'], "'");
        match self.challenge? {
            Challenge::TokenRequired => Some("Bearer realm=\"usher\"".to_owned()),
            Challenge::InvalidToken => Some(format!(
                "Bearer realm=\"usher\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(&self.description)
            )),
            Challenge::InsufficientScope(scope) => Some(format!(
                "Bearer realm=\"usher\", error=\"insufficient_scope\", error_description=\"{}\", scope=\"{scope}\"",
                quoted(&self.description)
            )),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(value) = self
            .challenge()
            .and_then(|challenge| HeaderValue::from_str(&challenge).ok())
        {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS)));
        }
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        response.json(ErrorBody {
            error: self.code.to_owned(),
            error_description: self.description.to_string(),
        })
    }
}

impl From<EntitlementError> for ApiError {
    fn from(error: EntitlementError) -> Self {
        match error {
            EntitlementError::Invalid { field, message } => Self::invalid(field, message),
            EntitlementError::NotFound(what) => Self::not_found(what),
            EntitlementError::Conflict(description) => Self::conflict(description),
            EntitlementError::Store(error) => Self::from(error),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::Invalid { field, message } => Self::invalid(field, message),
            AdminError::Conflict(description) => Self::conflict(description),
            AdminError::Store(error) => Self::from(error),
            AdminError::Password(error) => Self::server_error(&error),
        }
    }
}

impl From<ProfileError> for ApiError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::Invalid { field, message } => Self::invalid(field, message),
            ProfileError::NotFound(what) => Self::not_found(what),
            ProfileError::LimitReached(_) => Self::conflict(error.to_string()),
            ProfileError::Busy => Self {
                retry_after: true,
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    error.to_string(),
                )
            },
            ProfileError::Store(error) => Self::from(error),
        }
    }
}

impl From<HouseholdError> for ApiError {
    fn from(error: HouseholdError) -> Self {
        match error {
            HouseholdError::Invalid(why) => Self::invalid("email", why),
            HouseholdError::NotFound(what) => Self::not_found(what),
            HouseholdError::Refused(_) => Self::conflict(error.to_string()),
            HouseholdError::Store(error) => Self::from(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            return Self::unavailable(&error);
        }
        Self::server_error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_scope_is_named_in_the_challenge() {
        let error = ApiError::insufficient_scope("usher:admin", "this route needs \"usher:admin\"");
        let challenge = error.challenge().unwrap_or_default();
        assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
        assert!(challenge.contains("scope=\"usher:admin\""), "{challenge}");
        assert!(challenge.contains("needs 'usher:admin'"), "{challenge}");
    }

    #[test]
    fn a_missing_token_is_challenged_without_an_error_code() {
        let error = ApiError::token_required("a bearer access token is required");
        assert_eq!(error.challenge().as_deref(), Some("Bearer realm=\"usher\""));
        assert_eq!(error.status_code(), StatusCode::UNAUTHORIZED);
    }
}
