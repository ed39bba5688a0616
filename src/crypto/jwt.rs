//! RFC 9068 JWT access tokens: signing and signature verification.

use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keyring::KeySet;
use super::keys::SigningAlg;

/// RFC 9068's media type for access tokens, as the `typ` header carries it.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no active {0} signing key")]
    NoActiveKey(&'static str),
    #[error("signing failed: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

/// Why a presented token was not accepted. Callers answer all of them the same way
/// (`active: false`); the distinction is for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    NotAnAccessToken,
    UnknownKey,
    BadSignature,
}

impl Rejection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NotAnAccessToken => "wrong_type",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
        }
    }
}

pub fn sign_access_token(
    keys: &KeySet,
    alg: SigningAlg,
    claims: &AccessTokenClaims,
) -> Result<String, SignError> {
    let key = keys.active(alg).ok_or(SignError::NoActiveKey(alg.name()))?;
    let mut header = Header::new(alg.jwt_algorithm());
    header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
    header.kid = Some(key.kid.clone());
    Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
}

/// Checks the signature, type and issuer of an access token. Expiry and revocation are the
/// caller's: they change with time, this answer does not.
pub fn verify_access_token(keys: &KeySet, issuer: &str, token: &str) -> Result<AccessTokenClaims, Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(Rejection::NotAnAccessToken);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.get(kid))
        .ok_or(Rejection::UnknownKey)?;
    if key.alg.jwt_algorithm() != header.alg {
        return Err(Rejection::BadSignature);
    }
    let mut validation = Validation::new(header.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejection::BadSignature,
            _ => Rejection::Malformed,
        })
}
