//! OpenID Connect Discovery and RFC 8414 metadata, and the paths they publish. They list only
//! what this server implements.

use serde_json::{Value, json};

use crate::domain::oauth::scopes::USER_SCOPES;
use crate::foundation::i18n::Locale;

pub(crate) const TOKEN_PATH: &str = "/oauth/token";
pub(crate) const INTROSPECTION_PATH: &str = "/oauth/introspect";
pub(crate) const REVOCATION_PATH: &str = "/oauth/revoke";
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";
pub(crate) const AUTHORIZATION_PATH: &str = "/oauth/authorize";
pub(crate) const USERINFO_PATH: &str = "/oauth/userinfo";
pub(crate) const END_SESSION_PATH: &str = "/oauth/logout";
/// Where content servers start streams (docs/streams.md); heartbeats and stops go to
/// `{STREAMS_PATH}/{stream_id}/heartbeat` and `{STREAMS_PATH}/{stream_id}`.
pub(crate) const STREAMS_PATH: &str = "/streams";

/// The two metadata documents, rendered once per issuer.
pub struct Metadata {
    pub(crate) openid_configuration: String,
    pub(crate) authorization_server: String,
}

impl Metadata {
    pub(crate) fn new(issuer: &str) -> Self {
        let client_auth = json!(["client_secret_basic", "client_secret_post"]);
        let token_auth = json!(["client_secret_basic", "client_secret_post", "none"]);
        let oauth = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}{AUTHORIZATION_PATH}"),
            "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "introspection_endpoint": format!("{issuer}{INTROSPECTION_PATH}"),
            "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
            "scopes_supported": USER_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", crate::domain::oauth::device::GRANT_TYPE],
            "device_authorization_endpoint": format!("{issuer}{}", crate::domain::oauth::device::AUTHORIZATION_PATH),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": token_auth,
            "introspection_endpoint_auth_methods_supported": client_auth,
            "revocation_endpoint_auth_methods_supported": token_auth,
            "authorization_response_iss_parameter_supported": true,
            "streams_endpoint": format!("{issuer}{STREAMS_PATH}"),
            // RFC 8414 §2 allows metadata beyond its list: the refresh token grant's extension
            // parameters for switching profiles (docs/profiles-households.md).
            "refresh_token_profile_parameters_supported": crate::domain::oauth::grants::refresh_token::PROFILE_SWITCH_PARAMETERS,
        });
        let mut openid = oauth.clone();
        if let Value::Object(members) = &mut openid {
            members.insert(
                "userinfo_endpoint".into(),
                json!(format!("{issuer}{USERINFO_PATH}")),
            );
            members.insert(
                "end_session_endpoint".into(),
                json!(format!("{issuer}{END_SESSION_PATH}")),
            );
            members.insert("subject_types_supported".into(), json!(["public"]));
            members.insert(
                "ui_locales_supported".into(),
                json!(
                    Locale::supported()
                        .into_iter()
                        .map(Locale::tag)
                        .collect::<Vec<_>>()
                ),
            );
            members.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256", "ES256"]),
            );
            members.insert(
                "prompt_values_supported".into(),
                json!(["none", "login", "consent", "select_account"]),
            );
            members.insert(
                "claims_supported".into(),
                json!([
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "amr",
                    "sid",
                    "at_hash",
                    "email",
                    "email_verified",
                    "name",
                    "locale",
                    "profile",
                    "maturity"
                ]),
            );
        }
        Self {
            openid_configuration: openid.to_string(),
            authorization_server: oauth.to_string(),
        }
    }
}
