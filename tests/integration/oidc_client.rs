//! A standard OIDC client library (the `openidconnect` crate) drives Usher over HTTP:
//! discovery, JWKS, client credentials, introspection and revocation.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Backend, TestDb, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreProviderMetadata, CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, IntrospectionUrl, IssuerUrl, OAuth2TokenResponse,
    ProviderMetadata, RevocationUrl, Scope, TokenIntrospectionResponse,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
struct ManagementEndpoints {
    introspection_endpoint: String,
    revocation_endpoint: String,
}
impl AdditionalProviderMetadata for ManagementEndpoints {}

type UsherProviderMetadata = ProviderMetadata<
    ManagementEndpoints,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

fn http_client() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

fn https_client(tls: &common::Tls) -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .add_root_certificate(
            openidconnect::reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).expect("pem"),
        )
        .build()
        .expect("https client")
}

async fn discovery_is_read_by_a_standard_client(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let issuer = IssuerUrl::new(server.url.clone()).expect("issuer");

    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http_client())
        .await
        .expect("discovery");

    assert_eq!(metadata.issuer(), &issuer);
    assert_eq!(
        metadata.token_endpoint().map(|url| url.as_str()),
        Some(server.endpoint("/oauth/token").as_str())
    );
    assert_eq!(metadata.jwks().keys().len(), 2, "one ES256 and one RS256 key");
    let grant_types = metadata.grant_types_supported().expect("grant types listed");
    assert_eq!(
        grant_types,
        &vec![
            CoreGrantType::AuthorizationCode,
            CoreGrantType::RefreshToken,
            CoreGrantType::ClientCredentials,
            CoreGrantType::DeviceCode
        ]
    );
    assert_eq!(
        metadata.userinfo_endpoint().map(|url| url.as_str()),
        Some(server.endpoint("/oauth/userinfo").as_str())
    );
}

async fn rfc8414_metadata_lists_the_oauth_endpoints_and_no_oidc_ones(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let metadata: serde_json::Value = common::http()
        .get(server.endpoint("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["issuer"], server.url);
    assert_eq!(
        metadata["introspection_endpoint"],
        server.endpoint("/oauth/introspect")
    );
    assert_eq!(metadata["revocation_endpoint"], server.endpoint("/oauth/revoke"));
    assert_eq!(
        metadata["authorization_endpoint"],
        server.endpoint("/oauth/authorize")
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
    assert!(
        metadata.get("userinfo_endpoint").is_none(),
        "OIDC members stay in the OIDC document"
    );
}

async fn jwks_publishes_an_es256_and_an_rs256_key_with_kids(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let jwks: CoreJsonWebKeySet = common::http()
        .get(server.endpoint("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a JWK set the client library parses");
    assert_eq!(jwks.keys().len(), 2);

    let raw: serde_json::Value = common::http()
        .get(server.endpoint("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let algs: Vec<&str> = raw["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["alg"].as_str())
        .collect();
    assert_eq!(algs, vec!["ES256", "RS256"]);
    for key in raw["keys"].as_array().expect("keys") {
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private material is published"
        );
    }
}

async fn client_credentials_introspection_and_revocation_through_the_client_library(backend: Backend) {
    let db = TestDb::new(backend);
    // The client library insists on HTTPS for revocation (RFC 7009 §2), so this server has TLS.
    let (config, tls) = db.tls_config();
    let server = TestServer::start_with(config, usher::foundation::clock::Clock::System).await;
    assert!(server.url.starts_with("https://localhost:"));
    let registered = server.service_client(&["catalog:read", "usher:admin"]).await;
    let http = https_client(&tls);

    let issuer = IssuerUrl::new(server.url.clone()).expect("issuer");
    let metadata = UsherProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let endpoints = metadata.additional_metadata().clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.client_secret.clone().map(ClientSecret::new),
    )
    .set_introspection_url(IntrospectionUrl::new(endpoints.introspection_endpoint).expect("url"))
    .set_revocation_url(RevocationUrl::new(endpoints.revocation_endpoint).expect("url"));

    let response = client
        .exchange_client_credentials()
        .expect("token endpoint known")
        .add_scope(Scope::new("catalog:read".into()))
        .request_async(&http)
        .await
        .expect("client credentials grant");
    let access_token = response.access_token().clone();
    assert_eq!(response.scopes().map(|scopes| scopes.len()), Some(1));

    let introspected = client
        .introspect(&access_token)
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(introspected.active());
    assert_eq!(
        introspected.client_id().map(|id| id.as_str()),
        Some(registered.client_id.as_str())
    );
    assert_eq!(
        introspected.scopes().map(|scopes| scopes[0].as_str().to_owned()),
        Some("catalog:read".to_owned())
    );

    client
        .revoke_token(CoreRevocableToken::from(access_token.clone()))
        .expect("revocation endpoint known")
        .request_async(&http)
        .await
        .expect("revocation");
    let after = client
        .introspect(&access_token)
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(!after.active());
}

async fn access_tokens_are_rfc9068_jwts_verifiable_against_the_jwks(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let registered = server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&server, &registered, None).await;

    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwks: JwkSet = common::http()
        .get(server.endpoint("/.well-known/jwks.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("kid published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[server.url.as_str()]);
    validation.set_issuer(&[server.url.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &token,
        &DecodingKey::from_jwk(jwk).expect("key"),
        &validation,
    )
    .expect("signature verifies")
    .claims;
    assert_eq!(claims["client_id"], registered.client_id);
    assert_eq!(claims["sub"], registered.client_id);
    assert_eq!(claims["scope"], "catalog:read");
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16));
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        900
    );
}

async fn client_secret_post_authenticates_like_basic(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let registered = server.service_client(&["catalog:read"]).await;
    let response = common::http()
        .post(server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", registered.client_id.as_str()),
            (
                "client_secret",
                registered.client_secret.as_deref().expect("secret"),
            ),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
}

on_both_backends!(
    discovery_is_read_by_a_standard_client,
    rfc8414_metadata_lists_the_oauth_endpoints_and_no_oidc_ones,
    jwks_publishes_an_es256_and_an_rs256_key_with_kids,
    client_credentials_introspection_and_revocation_through_the_client_library,
    access_tokens_are_rfc9068_jwts_verifiable_against_the_jwks,
    client_secret_post_authenticates_like_basic,
);
