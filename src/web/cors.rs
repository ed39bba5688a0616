//! Cross-origin access for the endpoints a browser app calls itself: single-page apps (public
//! clients with PKCE) exchange codes, refresh, call userinfo and revoke from their own origin.
//! No cookie is involved on these endpoints, so any origin may call them: what protects them
//! is the code, the verifier and the tokens, not the caller's origin.

use actix_web::Error;
use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::domain::oauth::metadata::{REVOCATION_PATH, TOKEN_PATH, USERINFO_PATH};

/// The paths browser apps call across origins.
const CROSS_ORIGIN_PATHS: [&str; 4] = [
    TOKEN_PATH,
    USERINFO_PATH,
    REVOCATION_PATH,
    crate::domain::oauth::device::AUTHORIZATION_PATH,
];

/// How long a browser may reuse a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

fn is_cross_origin_path(path: &str) -> bool {
    CROSS_ORIGIN_PATHS.contains(&path)
}

/// Answers preflights and marks answers of the cross-origin paths as readable by any origin.
pub(crate) async fn allow(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if !is_cross_origin_path(request.path()) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    if request.method() == Method::OPTIONS {
        let preflight = HttpResponse::build(StatusCode::NO_CONTENT)
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
            .finish();
        return Ok(request.into_response(preflight).map_into_right_body());
    }
    let mut response = next.call(request).await?;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    // Clients read the challenge of a 401 to know whether to refresh.
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    Ok(response.map_into_left_body())
}
