//! The whole sign-in as people and apps live it: a standard OIDC library (the `openidconnect`
//! crate) builds the request, headless Chromium fills the login form and consents, and the
//! library exchanges the code, verifies the ID token against the JWKS, calls userinfo,
//! refreshes, introspects, revokes and logs the person out.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::browser::{Browser, CallbackServer};
use common::flow::{self, PASSWORD};
use common::{Backend, TestDb, TestServer};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, ProviderMetadata,
    RedirectUrl, RevocationUrl, Scope, TokenIntrospectionResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use usher::domain::oauth::clients::NewClient;
use usher::foundation::clock::Clock;

#[derive(Clone, Debug, Deserialize, Serialize)]
struct UsherEndpoints {
    introspection_endpoint: String,
    revocation_endpoint: String,
    end_session_endpoint: String,
}
impl AdditionalProviderMetadata for UsherEndpoints {}

type UsherProviderMetadata = ProviderMetadata<
    UsherEndpoints,
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

const EMAIL: &str = "viewer@example.com";

async fn a_person_signs_in_through_a_real_browser_and_the_app_uses_every_endpoint(backend: Backend) {
    let db = TestDb::new(backend);
    // HTTPS: the library insists on it for revocation (RFC 7009 §2), and cookies must then
    // be marked Secure.
    let (config, tls) = db.tls_config();
    let server = TestServer::start_with(config, Clock::System).await;
    let callback = CallbackServer::start().await;
    let signed_out_url = callback.url().replace("/callback", "/signed-out");
    let registered = server
        .create_client(NewClient {
            name: "Streamly".into(),
            redirect_uris: vec![callback.url()],
            post_logout_redirect_uris: vec![signed_out_url.clone()],
            ..NewClient::default()
        })
        .await;
    let user_id = flow::create_user(&server, EMAIL).await;
    // One profile without a PIN: chosen without asking, and named in every token.
    let profile = usher::domain::profiles::create(
        &server.state.core,
        &usher::domain::entitlements::manage::Actor::client("test"),
        &user_id,
        usher::domain::profiles::ProfileInput {
            name: "Ada".into(),
            maturity: Some("16".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .add_root_certificate(openidconnect::reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();

    let metadata = UsherProviderMetadata::discover_async(IssuerUrl::new(server.url.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let endpoints = metadata.additional_metadata().clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        registered.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(callback.url()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(endpoints.introspection_endpoint).unwrap())
    .set_revocation_url(RevocationUrl::new(endpoints.revocation_endpoint).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new("profiles".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.goto(authorize_url.as_str()).await;
    assert!(page.text("h1").await.contains("Sign in"));
    page.fill("input[autocomplete='username webauthn']", EMAIL).await;
    page.fill("input[autocomplete='current-password']", PASSWORD)
        .await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        page.text("h1").await.contains("Streamly"),
        "the consent page names the app"
    );
    let cookies = page.cookies().await;
    let session = cookies
        .iter()
        .find(|cookie| cookie["name"] == "__Host-usher_session")
        .expect("a session cookie, prefixed: the issuer is https");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["secure"], true, "the issuer is https");
    assert_eq!(session["sameSite"], "Lax");
    page.click_and_wait("button[value=allow]").await;

    let answer = callback.next_request().await;
    assert_eq!(
        answer.query("state").as_deref(),
        Some(csrf_state.secret().as_str())
    );
    assert_eq!(answer.query("iss").as_deref(), Some(server.url.as_str()));
    let code = answer.query("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token signature and claims verify");
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().map(|email| email.as_str()), Some(EMAIL));
    assert_eq!(
        claims
            .profile()
            .and_then(|profile| profile.get(None))
            .map(|id| id.as_str()),
        Some(profile.id.as_str()),
        "the library reads the profile the ID token speaks for"
    );
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.email().map(|email| email.as_str()), Some(EMAIL));

    let refresh_token = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh_token)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh_token = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(new_refresh_token.secret(), refresh_token.secret());

    let introspected = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(introspected.active());
    assert_eq!(introspected.sub(), Some(user_id.as_str()));

    client
        .revoke_token(CoreRevocableToken::from(new_refresh_token.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("revocation");
    let after = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !after.active(),
        "revoking the refresh token ends its access token too"
    );

    let mut logout = url::Url::parse(&endpoints.end_session_endpoint).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token.to_string())
        .append_pair("post_logout_redirect_uri", &signed_out_url)
        .append_pair("state", "bye");
    page.goto(logout.as_str()).await;
    let signed_out = callback.next_request().await;
    assert_eq!(signed_out.url.path(), "/signed-out");
    assert_eq!(signed_out.query("state").as_deref(), Some("bye"));
    assert!(
        !page
            .cookies()
            .await
            .iter()
            .any(|cookie| cookie["name"] == "__Host-usher_session"),
        "the session cookie is gone"
    );
    page.goto(authorize_url.as_str()).await;
    assert!(
        page.text("h1").await.contains("Sign in"),
        "signed out: asked to sign in again"
    );
    // The browser's keep-alive connections would hold up the server's graceful stop.
    drop(page);
    drop(browser);
}

on_both_backends!(a_person_signs_in_through_a_real_browser_and_the_app_uses_every_endpoint);
