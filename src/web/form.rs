//! Strict reading of `application/x-www-form-urlencoded` OAuth requests and of the client
//! credentials they carry (RFC 6749 §2.3.1, §3.2).

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::web::errors::{ErrorCode, OAuthError};

/// No OAuth request needs more; the cap keeps the repeated-parameter check cheap.
const MAX_PARAMS: usize = 32;

/// The parameters of a form body, borrowed from it where nothing needed decoding.
/// RFC 6749 §3.1: a parameter sent twice is an error.
pub struct Form<'a> {
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    /// Parses the body of `request`; `body` is what actix read (or why it could not).
    pub fn parse(
        request: &HttpRequest,
        body: &'a Result<Bytes, actix_web::Error>,
    ) -> Result<Self, OAuthError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the request body must be application/x-www-form-urlencoded",
            ));
        }
        let body = body.as_ref().map_err(body_error)?;
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))?;
        Self::from_urlencoded(text)
    }

    /// Parses `application/x-www-form-urlencoded` text: a body or a query string.
    pub fn from_urlencoded(text: &'a str) -> Result<Self, OAuthError> {
        let mut params: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            if params.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request("the request has too many parameters"));
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (form_decode(name)?, form_decode(value)?);
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} is repeated"
                )));
            }
            params.push((name, value));
        }
        Ok(Self { params })
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_ref())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value; most values (tokens,
/// grant types) need nothing and are borrowed as they are.
/// NUL is never part of a parameter, and PostgreSQL refuses it in text: refused here, it
/// gets a 400 instead of a database error.
fn form_decode(raw: &str) -> Result<Cow<'_, str>, OAuthError> {
    let decoded = if memchr::memchr2(b'%', b'+', raw.as_bytes()).is_none() {
        Cow::Borrowed(raw)
    } else {
        percent_decode(&raw.replace('+', " "))
            .map(Cow::Owned)
            .ok_or_else(|| OAuthError::invalid_request("the request body has an invalid percent-encoding"))?
    };
    if memchr::memchr(0, decoded.as_bytes()).is_some() {
        return Err(OAuthError::invalid_request(
            "parameters must not contain NUL characters",
        ));
    }
    Ok(decoded)
}

fn body_error(error: &actix_web::Error) -> OAuthError {
    if error.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        return OAuthError::new(ErrorCode::PayloadTooLarge, "the request body is too large");
    }
    OAuthError::invalid_request(format!("the request body could not be read: {error}"))
}

/// How a client presented itself.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        client_id: String,
        secret: String,
    },
    /// Only a `client_id`: a public client.
    Public {
        client_id: String,
    },
    Nothing,
}

/// One parameter of a page's query string; None when it is absent or the query is malformed.
pub fn query_param(request: &HttpRequest, name: &str) -> Option<String> {
    Form::from_urlencoded(request.query_string())
        .ok()?
        .get(name)
        .map(str::to_owned)
}

/// The request's `User-Agent`, empty when absent or not text.
pub fn user_agent(request: &HttpRequest) -> &str {
    request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// Reads client credentials from the `Authorization` header or the form, refusing requests
/// that use more than one method (RFC 6749 §2.3).
pub fn client_credentials(request: &HttpRequest, form: &Form) -> Result<Presented, OAuthError> {
    let basic = match request.headers().get(header::AUTHORIZATION) {
        Some(value) => parse_basic(value.as_bytes())?,
        None => None,
    };
    let posted_secret = form.get("client_secret");
    match (basic, posted_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "client credentials were sent both in the Authorization header and in the body",
        )),
        (Some((client_id, secret)), None) => {
            if form.get("client_id").is_some_and(|posted| posted != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            Ok(Presented::Secret { client_id, secret })
        }
        (None, Some(secret)) => Ok(Presented::Secret {
            client_id: form.require("client_id")?.to_owned(),
            secret: secret.to_owned(),
        }),
        (None, None) => Ok(form
            .get("client_id")
            .map_or(Presented::Nothing, |client_id| Presented::Public {
                client_id: client_id.to_owned(),
            })),
    }
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))`; any other scheme is refused as
/// `invalid_client`.
fn parse_basic(value: &[u8]) -> Result<Option<(String, String)>, OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |part: &str| -> Result<String, OAuthError> {
        let plus_as_space = part.replace('+', " ");
        percent_decode(&plus_as_space).ok_or_else(bad)
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    if id.is_empty() {
        return Err(bad());
    }
    Ok(Some((id, secret)))
}

/// `%XX` escapes decoded (a `+` stays a `+`); None for a bad escape or bytes that are not
/// UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        let parsed = parse_basic(header.as_bytes()).expect("parses");
        assert_eq!(parsed, Some(("my client".to_owned(), "s:cret x".to_owned())));
    }

    #[test]
    fn bad_base64_in_basic_credentials_is_invalid_client() {
        let error = parse_basic(b"Basic !!!not-base64").expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn truncated_percent_escapes_are_refused() {
        assert_eq!(percent_decode("abc%4"), None);
        assert_eq!(percent_decode("a%41"), Some("aA".to_owned()));
    }
}

/// What a request's `Authorization` header says about a bearer token (RFC 6750 §2.1).
#[derive(Debug, PartialEq, Eq)]
pub enum Bearer<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <token>` (another scheme, or no token).
    NotBearer,
    Token(&'a str),
}

pub fn bearer(request: &HttpRequest) -> Bearer<'_> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Bearer::Missing;
    };
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map_or(Bearer::NotBearer, |(_, token)| Bearer::Token(token.trim()))
}
