//! Passkeys in a real browser: headless Chromium with the DevTools protocol's virtual
//! platform authenticator (resident keys, user verification) registers a passkey when Usher
//! offers one after a password sign-in, then signs in to an app with it (the button, and
//! autofill in the email field) through the authorization code flow, ending in an ID token
//! whose signature verifies against the JWKS and whose `amr` says what happened.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::browser::{Browser, CallbackServer, Page};
use common::flow::{self, PASSWORD};
use common::{Backend, TestDb, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use usher::domain::oauth::clients::{CreatedClient, NewClient};

const EMAIL: &str = "viewer@example.com";

/// A platform authenticator like a phone's or a laptop's: it keeps discoverable credentials
/// and verifies the person (or, with `user_verified` false, fails to).
async fn add_authenticator(page: &Page, user_verified: bool) -> String {
    page.command("WebAuthn.enable", json!({})).await;
    let added = page
        .command(
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserVerified": user_verified,
                "automaticPresenceSimulation": true,
            }}),
        )
        .await;
    added["authenticatorId"].as_str().unwrap().to_owned()
}

async fn stored_credentials(page: &Page, authenticator: &str) -> Vec<Value> {
    let listed = page
        .command(
            "WebAuthn.getCredentials",
            json!({ "authenticatorId": authenticator }),
        )
        .await;
    listed["credentials"].as_array().cloned().unwrap_or_default()
}

struct Site {
    server: TestServer,
    app: CreatedClient,
    callback: CallbackServer,
    _db: TestDb,
}

async fn site(backend: Backend) -> Site {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let callback = CallbackServer::start().await;
    let app = server
        .create_client(NewClient {
            name: "Streamly".into(),
            redirect_uris: vec![callback.url()],
            first_party: true,
            ..NewClient::default()
        })
        .await;
    flow::create_user(&server, EMAIL).await;
    Site {
        server,
        app,
        callback,
        _db: db,
    }
}

impl Site {
    /// An authorization request with PKCE and a nonce; returns (url, verifier, nonce).
    fn authorize_url(&self) -> (String, String, String) {
        let (verifier, challenge) = flow::pkce();
        let nonce = "n-0S6_WzA2Mj".to_owned();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.app.client_id)
            .append_pair("redirect_uri", &self.callback.url())
            .append_pair("scope", "openid email")
            .append_pair("state", "st4te")
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        (
            self.server.endpoint(&format!("/oauth/authorize?{query}")),
            verifier,
            nonce,
        )
    }

    /// Exchanges the code the callback received and verifies the ID token; its claims.
    async fn id_token_claims(&self, verifier: &str, nonce: &str) -> Value {
        let received = self.callback.next_request().await;
        assert_eq!(received.query("state").as_deref(), Some("st4te"));
        let code = received.query("code").expect("a code reaches the app");
        let response = common::post_form(
            &self.server.endpoint("/oauth/token"),
            &self.app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &self.callback.url()),
                ("code_verifier", verifier),
            ],
        )
        .await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        let id_token = tokens["id_token"].as_str().expect("an ID token");
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        let jwks: JwkSet = common::http()
            .get(self.server.endpoint("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published");
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.app.client_id.as_str()]);
        validation.set_issuer(&[self.server.url.as_str()]);
        let claims =
            jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
                .expect("the ID token verifies against the JWKS")
                .claims;
        assert_eq!(claims["nonce"], nonce);
        claims
    }

    /// Signs in with the password on the login page, once the page's script has looked for a
    /// built-in authenticator.
    async fn password_sign_in(&self, page: &Page, expect_offer: bool) {
        page.goto(&self.server.endpoint("/login")).await;
        if expect_offer {
            page.wait_for("document.querySelector('input[name=passkey_offer]').value === '1'")
                .await;
        }
        page.fill("#email", EMAIL).await;
        page.fill("#password", PASSWORD).await;
        page.click_and_wait("button.primary").await;
    }

    /// Registers a passkey from the account page.
    async fn add_passkey_on_account_page(&self, page: &Page) {
        page.goto(&self.server.endpoint("/account")).await;
        page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
            .await;
        page.fill("#passkey-name", "Living room laptop").await;
        page.click_and_wait("[data-passkey-start]").await;
        assert!(
            page.text("main").await.contains("Living room laptop"),
            "the account page lists the new passkey"
        );
    }

    async fn sign_out(&self, page: &Page) {
        page.goto(&self.server.endpoint("/account")).await;
        page.click_and_wait("footer button").await;
        assert!(!has_session(page).await);
    }
}

/// Makes the pages believe the browser cannot offer passkeys in autofill.
async fn without_autofill(page: &Page) {
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "PublicKeyCredential.isConditionalMediationAvailable = async () => false;" }),
    )
    .await;
}

async fn has_session(page: &Page) -> bool {
    page.cookies()
        .await
        .iter()
        .any(|cookie| cookie["name"] == "usher_session")
}

async fn a_passkey_offered_after_a_password_sign_in_then_signs_in_to_an_app_with_the_button(
    backend: Backend,
) {
    let site = site(backend).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let authenticator = add_authenticator(&page, true).await;

    site.password_sign_in(&page, true).await;
    assert_eq!(page.text("h1").await, "Sign in faster next time");
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click_and_wait("[data-passkey-start]").await;
    assert!(page.text("main").await.contains("Your passkey was added"));
    assert!(page.text("main").await.contains("Chrome on Linux"));
    let stored = stored_credentials(&page, &authenticator).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["isResidentCredential"], true,
        "a discoverable credential"
    );

    site.sign_out(&page).await;
    // As in a browser without passkey autofill, so that only the button can sign in.
    without_autofill(&page).await;
    let (url, verifier, nonce) = site.authorize_url();
    page.goto(&url).await;
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click("[data-passkey-start]").await;
    let claims = site.id_token_claims(&verifier, &nonce).await;
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    assert_eq!(claims["email"], EMAIL);
    drop(page);
    drop(browser);
}

async fn a_passkey_signs_in_from_the_email_field_autofill(backend: Backend) {
    let site = site(backend).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    add_authenticator(&page, true).await;
    site.password_sign_in(&page, true).await;
    site.add_passkey_on_account_page(&page).await;
    site.sign_out(&page).await;

    let (url, verifier, nonce) = site.authorize_url();
    page.goto(&url).await;
    // Conditional mediation: the page asks quietly on load and the browser offers the
    // passkey in the email field's autofill; choosing it signs in without any button. The
    // virtual authenticator, having no UI, chooses at once.
    let claims = site.id_token_claims(&verifier, &nonce).await;
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    drop(page);
    drop(browser);
}

async fn a_removed_passkey_no_longer_signs_in(backend: Backend) {
    let site = site(backend).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let authenticator = add_authenticator(&page, true).await;
    site.password_sign_in(&page, true).await;
    site.add_passkey_on_account_page(&page).await;
    page.click_and_wait("button[aria-label='Remove the passkey Living room laptop']")
        .await;
    assert!(page.text("main").await.contains("The passkey was removed."));
    site.sign_out(&page).await;
    without_autofill(&page).await;

    // The authenticator still holds the credential; the server no longer knows it.
    assert_eq!(stored_credentials(&page, &authenticator).await.len(), 1);
    page.goto(&site.server.endpoint("/login")).await;
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click_and_wait("[data-passkey-start]").await;
    assert!(
        page.text("#login-error")
            .await
            .contains("That passkey didn't work"),
        "{}",
        page.html().await
    );
    assert!(!has_session(&page).await);
    drop(page);
    drop(browser);
}

async fn a_passkey_without_user_verification_is_refused(backend: Backend) {
    let site = site(backend).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let authenticator = add_authenticator(&page, true).await;
    site.password_sign_in(&page, true).await;
    site.add_passkey_on_account_page(&page).await;
    site.sign_out(&page).await;

    // The screen lock fails: the authenticator can no longer verify the person.
    page.command(
        "WebAuthn.setUserVerified",
        json!({ "authenticatorId": authenticator, "isUserVerified": false }),
    )
    .await;
    without_autofill(&page).await;
    page.goto(&site.server.endpoint("/login")).await;
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click("[data-passkey-start]").await;
    page.wait_for(
        "(document.querySelector('[data-passkey-error]') && !document.querySelector('[data-passkey-error]').hidden) \
         || document.querySelector('#login-error')",
    )
    .await;
    assert!(!has_session(&page).await, "no session without user verification");
    drop(page);
    drop(browser);
}

on_both_backends!(
    a_passkey_offered_after_a_password_sign_in_then_signs_in_to_an_app_with_the_button,
    a_passkey_signs_in_from_the_email_field_autofill,
    a_removed_passkey_no_longer_signs_in,
    a_passkey_without_user_verification_is_refused,
);
