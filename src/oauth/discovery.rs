//! OpenID Connect Discovery and RFC 8414 metadata, rendered once per issuer. They list only
//! what this server implements.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::state::AppState;

pub const TOKEN_PATH: &str = "/oauth/token";
pub const INTROSPECTION_PATH: &str = "/oauth/introspect";
pub const REVOCATION_PATH: &str = "/oauth/revoke";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const AUTHORIZATION_PATH: &str = "/oauth/authorize";

pub struct Discovery {
    openid_configuration: String,
    authorization_server: String,
}

impl Discovery {
    pub fn new(issuer: &str) -> Self {
        let client_auth = json!(["client_secret_basic", "client_secret_post"]);
        let mut oauth = json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "introspection_endpoint": format!("{issuer}{INTROSPECTION_PATH}"),
            "revocation_endpoint": format!("{issuer}{REVOCATION_PATH}"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": client_auth,
            "introspection_endpoint_auth_methods_supported": client_auth,
            "revocation_endpoint_auth_methods_supported": client_auth,
            "response_types_supported": ["code"],
        });
        // OIDC Discovery makes these members REQUIRED for every OpenID Provider; the
        // interactive flow they describe is served at the authorization endpoint.
        let mut openid = oauth.clone();
        if let Value::Object(members) = &mut openid {
            members.insert(
                "authorization_endpoint".into(),
                json!(format!("{issuer}{AUTHORIZATION_PATH}")),
            );
            members.insert("subject_types_supported".into(), json!(["public"]));
            members.insert(
                "id_token_signing_alg_values_supported".into(),
                json!(["RS256", "ES256"]),
            );
        }
        // RFC 8414 §2: response_types_supported is required, authorization_endpoint only when
        // a grant type uses it; this server's OAuth metadata has none yet.
        if let Value::Object(members) = &mut oauth {
            members.insert("response_types_supported".into(), json!([]));
        }
        Self {
            openid_configuration: openid.to_string(),
            authorization_server: oauth.to_string(),
        }
    }
}

fn metadata(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body.to_owned())
}

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state.discovery.openid_configuration)
}

pub async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state.discovery.authorization_server)
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.keyring.current().jwks().to_string())
}
