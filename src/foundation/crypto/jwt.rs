//! RFC 9068 JWT access tokens in JWS compact serialisation: signing and verification with
//! keys parsed once (see [`SigningKey`](crate::foundation::crypto::keys::SigningKey)).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::foundation::crypto::keyring::KeySet;
use crate::foundation::crypto::keys::{SigningAlg, SigningFailed};

/// RFC 9068's media type for access tokens, as the `typ` header carries it.
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` of ID tokens: the plain JWT type every OIDC library accepts.
pub(crate) const ID_TOKEN_TYP: &str = "JWT";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// With scope `profiles`: the profile the token speaks for ("Who's watching?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The profile's maturity ceiling when the token was issued; introspection says what it
    /// is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    /// RFC 7515 §4.1.11: extensions we do not understand make the token invalid.
    #[serde(skip_serializing)]
    crit: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    #[error("no active {0} signing key")]
    NoActiveKey(&'static str),
    #[error("claims cannot be serialised: {0}")]
    Claims(#[from] serde_json::Error),
    #[error(transparent)]
    Signature(#[from] SigningFailed),
}

/// Why a presented token was not accepted. Callers answer all of them the same way
/// (`active: false`); the distinction is for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    Malformed,
    /// The `typ` header is not the one expected (an ID token presented as an access token).
    NotAnAccessToken,
    UnknownKey,
    BadSignature,
    WrongIssuer,
}

impl Rejection {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::NotAnAccessToken => "wrong_type",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
        }
    }
}

/// Signs `claims` as a JWS with the active key for `alg` and the given `typ` header.
pub(crate) fn sign<T: Serialize>(
    keys: &KeySet,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> Result<String, SignError> {
    let key = keys.active(alg).ok_or(SignError::NoActiveKey(alg.name()))?;
    let header = JoseHeader {
        alg: alg.name().to_owned(),
        kid: Some(key.kid.clone()),
        typ: Some(typ.to_owned()),
        crit: None,
    };
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

pub(crate) fn sign_access_token(
    keys: &KeySet,
    alg: SigningAlg,
    claims: &AccessTokenClaims,
) -> Result<String, SignError> {
    sign(keys, alg, ACCESS_TOKEN_TYP, claims)
}

/// Claims whose signature checked out, with the key that signed them.
pub(crate) struct Verified<C> {
    pub kid: String,
    pub claims: C,
}

/// Checks the signature, type and issuer of an access token. Expiry and revocation are the
/// caller's: they change with time, this answer does not.
pub(crate) fn verify_access_token(
    keys: &KeySet,
    issuer: &str,
    token: &str,
) -> Result<Verified<AccessTokenClaims>, Rejection> {
    let is_access_token = |typ: &str| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
    };
    let verified: Verified<AccessTokenClaims> = verify_signed(keys, token, is_access_token)?;
    if verified.claims.iss != issuer {
        return Err(Rejection::WrongIssuer);
    }
    Ok(verified)
}

/// Claims of an ID token this server issued, as far as logout needs them.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct IdTokenHint {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub sid: Option<String>,
}

/// Checks an ID token this server signed, whatever its age: RP-initiated logout accepts
/// expired ID tokens as hints (OpenID Connect RP-Initiated Logout §2).
pub(crate) fn verify_id_token_hint(
    keys: &KeySet,
    issuer: &str,
    token: &str,
) -> Result<IdTokenHint, Rejection> {
    let verified: Verified<IdTokenHint> =
        verify_signed(keys, token, |typ| typ.eq_ignore_ascii_case(ID_TOKEN_TYP))?;
    if verified.claims.iss != issuer {
        return Err(Rejection::WrongIssuer);
    }
    Ok(verified.claims)
}

/// Checks the signature of a compact JWS made by one of `keys` and decodes its claims.
fn verify_signed<C: serde::de::DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    typ_accepted: impl Fn(&str) -> bool,
) -> Result<Verified<C>, Rejection> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Rejection::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Rejection::Malformed)?;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed);
    let header: JoseHeader = serde_json::from_slice(&decode(header)?).map_err(|_| Rejection::Malformed)?;
    if !header.typ.as_deref().is_some_and(typ_accepted) || header.crit.is_some() {
        return Err(Rejection::NotAnAccessToken);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.get(kid))
        .ok_or(Rejection::UnknownKey)?;
    if header.alg != key.alg.name() || !key.verify(signing_input.as_bytes(), &decode(signature)?) {
        return Err(Rejection::BadSignature);
    }
    let claims: C = serde_json::from_slice(&decode(payload)?).map_err(|_| Rejection::Malformed)?;
    Ok(Verified {
        kid: key.kid.clone(),
        claims,
    })
}
