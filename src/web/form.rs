//! Strict reading of `application/x-www-form-urlencoded` OAuth requests and of the client
//! credentials they carry (RFC 6749 §2.3.1, §3.2).

use std::borrow::Cow;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};

use crate::domain::oauth::client_auth::ClientCredentials;
use crate::domain::oauth::error::{ErrorCode, OAuthError};
use crate::domain::oauth::parameters::Parameters;
use crate::foundation::encoding;
use crate::web::client_address;
use crate::web::extractors::Extracted;

/// No OAuth request needs more; the cap keeps the repeated-parameter check cheap.
const MAX_PARAMS: usize = 32;

/// The parameters of a form body, borrowed from it where nothing needed decoding.
/// RFC 6749 §3.1: a parameter sent twice is an error.
pub(crate) struct Form<'a> {
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    /// Parses the body of `request`; `body` is what actix read (or why it could not).
    pub(crate) fn parse(
        request: &HttpRequest,
        body: &'a Result<Bytes, actix_web::Error>,
    ) -> Result<Self, OAuthError> {
        require_form_encoded(request)?;
        Self::from_body(body.as_ref().map_err(body_error)?)
    }

    fn from_body(body: &'a [u8]) -> Result<Self, OAuthError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid UTF-8"))?;
        Self::from_urlencoded(text)
    }

    /// The same form, owning its text, so it can outlive the body it was read from.
    pub(crate) fn into_owned(self) -> Form<'static> {
        Form {
            params: self
                .params
                .into_iter()
                .map(|(name, value)| (Cow::Owned(name.into_owned()), Cow::Owned(value.into_owned())))
                .collect(),
        }
    }

    /// Parses `application/x-www-form-urlencoded` text: a body or a query string.
    pub(crate) fn from_urlencoded(text: &'a str) -> Result<Self, OAuthError> {
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
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_ref())
    }
}

impl Parameters for Form<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        Form::get(self, name)
    }

    fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.pairs())
            .finish()
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
        encoding::percent_decode(&raw.replace('+', " "))
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

fn require_form_encoded(request: &HttpRequest) -> Result<(), OAuthError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ))
    }
}

/// A client's request to an endpoint where it authenticates (token, introspection,
/// revocation, device authorization): its form body and its `Authorization` header, both
/// kept as actix read them, without a copy, and parsed when the handler asks, as is the
/// client's address. A body that is not a form, or could not be read, is answered before the
/// handler runs.
pub(crate) struct ClientRequest {
    body: Bytes,
    authorization: Option<HeaderValue>,
    request: HttpRequest,
}

impl ClientRequest {
    /// The request's parameters, borrowed from its body.
    pub(crate) fn form(&self) -> Result<Form<'_>, OAuthError> {
        Form::from_body(&self.body)
    }

    /// The address the request came from ([`client_address`]), empty when unknown.
    pub(crate) fn client_ip(&self) -> String {
        client_address::of(&self.request)
    }

    /// What the request presents to identify its client (RFC 6749 §2.3.1).
    pub(crate) fn credentials<'a>(&'a self, form: &'a Form<'a>) -> ClientCredentials<'a> {
        ClientCredentials {
            authorization: self.authorization.as_ref().map(HeaderValue::as_bytes),
            client_id: form.get("client_id"),
            client_secret: form.get("client_secret"),
        }
    }
}

impl FromRequest for ClientRequest {
    type Error = OAuthError;
    type Future = Extracted<Self, OAuthError>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(request, payload);
        let form_encoded = require_form_encoded(request);
        let authorization = request.headers().get(header::AUTHORIZATION).cloned();
        let request = request.clone();
        Box::pin(async move {
            let body = body.await;
            form_encoded?;
            Ok(Self {
                body: body.map_err(|error| body_error(&error))?,
                authorization,
                request,
            })
        })
    }
}

/// One parameter of a page's query string; None when it is absent or the query is malformed.
pub(crate) fn query_param(request: &HttpRequest, name: &str) -> Option<String> {
    Form::from_urlencoded(request.query_string())
        .ok()?
        .get(name)
        .map(str::to_owned)
}

/// The request's `User-Agent`, empty when absent or not text.
pub(crate) fn user_agent(request: &HttpRequest) -> &str {
    request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// What a request's `Authorization` header says about a bearer token (RFC 6750 §2.1).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bearer<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <token>` (another scheme, or no token).
    OtherScheme,
    Token(&'a str),
}

pub(crate) fn bearer(request: &HttpRequest) -> Bearer<'_> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Bearer::Missing;
    };
    value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map_or(Bearer::OtherScheme, |(_, token)| Bearer::Token(token.trim()))
}
