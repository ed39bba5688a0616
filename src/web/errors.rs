//! The OAuth boundary's errors mapped once to the RFCs' JSON error bodies, status codes and
//! headers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::oauth::error::{ErrorCode, OAuthError};

/// `Retry-After` of every 503 this server gives (pages, OAuth endpoints, the admin API), in
/// seconds: a sign-in storm or a database blip is expected to pass in moments.
pub(crate) const RETRY_AFTER_SECS: &str = "2";

fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken | ErrorCode::BearerRequired => {
            StatusCode::UNAUTHORIZED
        }
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        status(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
        match self.code {
            // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
            ErrorCode::InvalidClient => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"usher\""),
                ));
            }
            ErrorCode::BearerRequired => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"usher\""),
                ));
            }
            // RFC 6750 §3: the challenge carries the error code.
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => {
                let challenge = format!(
                    "Bearer realm=\"usher\", error=\"{}\", error_description=\"{}\"",
                    self.code.as_str(),
                    self.description.replace(['"', '\\'], "'")
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
            ErrorCode::TemporarilyUnavailable | ErrorCode::TooManyRequests => {
                let retry_after = match self.retry_after_secs {
                    Some(secs) => HeaderValue::from(secs.max(1)),
                    None => HeaderValue::from_static(RETRY_AFTER_SECS),
                };
                response.insert_header((header::RETRY_AFTER, retry_after));
            }
            // Any other refusal that ends at a known time says when (a throttled PIN).
            _ => {
                if let Some(secs) = self.retry_after_secs {
                    response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs.max(1))));
                }
            }
        }
        response.json(ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        })
    }
}
