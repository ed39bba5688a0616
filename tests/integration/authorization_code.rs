//! The authorization code flow over HTTP, as a browser without JavaScript drives it: login,
//! SSO, consent, codes, PKCE, refresh rotation, userinfo, logout — and every refusal.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::oauth::clients::{CreatedClient, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const REDIRECT: &str = "https://app.example/callback";
const LOGGED_OUT: &str = "https://app.example/bye";
const EMAIL: &str = "viewer@example.com";

struct Fixture {
    server: TestServer,
    app: CreatedClient,
    user_id: String,
    _db: TestDb,
}

fn now() -> i64 {
    Clock::System.now()
}

async fn fixture_with(backend: Backend, configure: impl FnOnce(&mut Config), client: NewClient) -> Fixture {
    let db = TestDb::new(backend);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::manual(now())).await;
    let app = server.create_client(client).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    Fixture {
        _db: db,
        server,
        app,
        user_id,
    }
}

fn web_app() -> NewClient {
    NewClient {
        name: "Streamly".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![LOGGED_OUT.into()],
        ..NewClient::default()
    }
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, |_| {}, web_app()).await
}

/// An authorization URL with sensible defaults; `overrides` replace or add parameters, and
/// an empty value removes one.
fn authorize_path(client_id: &str, challenge: &str, overrides: &[(&str, &str)]) -> String {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile offline_access"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    for (name, value) in overrides {
        params.retain(|(existing, _)| existing != name);
        if !value.is_empty() {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    format!("/oauth/authorize?{query}")
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .expect("absolute redirect")
        .query_pairs()
        .into_owned()
        .collect()
}

/// Signs in and consents from a fresh start; returns the redirect to the app.
async fn authorize_fully(f: &Fixture, browser: &Browser, path: &str) -> String {
    let login = browser.get(path).await;
    assert_eq!(login.status(), 200, "the login page is shown");
    let html = login.text().await.unwrap();
    let signed_in = browser.sign_in(Some(&html), EMAIL, PASSWORD).await;
    assert_eq!(
        signed_in.status(),
        303,
        "signing in redirects back to the request"
    );
    let mut response = browser.follow(signed_in).await;
    if response.status() == 200 {
        let consent = response.text().await.unwrap();
        assert!(consent.contains("Allow"), "the consent page: {consent}");
        response = browser
            .post(
                "/oauth/consent",
                &[
                    ("csrf", &hidden_field(&consent, "csrf")),
                    ("request", &hidden_field(&consent, "request")),
                    ("session", &hidden_field(&consent, "session")),
                    ("decision", "allow"),
                ],
            )
            .await;
    }
    assert_eq!(response.status(), 303);
    let _ = &f.server;
    location(&response)
}

async fn exchange(f: &Fixture, code: &str, verifier: &str) -> reqwest::Response {
    common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(f: &Fixture, refresh_token: &str) -> reqwest::Response {
    common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A full sign-in: the tokens response.
async fn signed_in_tokens(f: &Fixture, browser: &Browser) -> Value {
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(f, browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let code = query_of(&redirect)["code"].clone();
    let response = exchange(f, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn introspect(f: &Fixture, token: &str) -> Value {
    let service = f.server.service_client(&[]).await;
    common::post_form(
        &f.server.endpoint("/oauth/introspect"),
        &service,
        &[("token", token)],
    )
    .await
    .json()
    .await
    .unwrap()
}

async fn a_person_signs_in_consents_and_the_app_gets_tokens_with_the_right_claims(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;

    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    let answer = query_of(&redirect);
    assert_eq!(answer["state"], "state-123");
    assert_eq!(answer["iss"], f.server.url, "RFC 9207 iss");

    let response = exchange(&f, &answer["code"], &verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access gives a refresh token"
    );
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["iss"], f.server.url);
    assert_eq!(id_token["sub"], f.user_id);
    assert_eq!(id_token["aud"], f.app.client_id);
    assert_eq!(id_token["nonce"], "nonce-456");
    assert_eq!(id_token["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id_token["email"], EMAIL);
    assert_eq!(id_token["name"], "Ada Lovelace");
    assert!(id_token["sid"].is_string() && id_token["auth_time"].is_i64());
    assert_eq!(
        id_token["at_hash"],
        usher::domain::oauth::user_tokens::at_hash(tokens["access_token"].as_str().unwrap())
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(tokens["id_token"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256", "RS256 is the default for ID tokens");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], f.user_id);
    assert_eq!(access["client_id"], f.app.client_id);
}

async fn a_second_app_signs_the_person_in_without_asking_again(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let second = f
        .server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            first_party: true,
            ..web_app()
        })
        .await;
    let (_, challenge) = flow::pkce();
    let response = browser
        .get(&authorize_path(&second.client_id, &challenge, &[]))
        .await;
    assert_eq!(response.status(), 303, "no login page, no consent page");
    assert!(query_of(&location(&response)).contains_key("code"));
}

async fn consent_is_remembered_and_prompt_consent_asks_again(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let (_, challenge) = flow::pkce();
    let again = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    assert_eq!(again.status(), 303, "consent was remembered");
    let asked = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("prompt", "consent")],
        ))
        .await;
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("Allow"));
}

async fn denying_consent_sends_access_denied_to_the_app(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let login = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    let signed_in = browser
        .sign_in(Some(&login.text().await.unwrap()), EMAIL, PASSWORD)
        .await;
    let consent = browser.follow(signed_in).await.text().await.unwrap();
    let denied = browser
        .post(
            "/oauth/consent",
            &[
                ("csrf", &hidden_field(&consent, "csrf")),
                ("request", &hidden_field(&consent, "request")),
                ("session", &hidden_field(&consent, "session")),
                ("decision", "deny"),
            ],
        )
        .await;
    let answer = query_of(&location(&denied));
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "state-123");
}

async fn a_replayed_code_is_refused_and_revokes_what_it_issued(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let code = query_of(&redirect)["code"].clone();
    let tokens: Value = exchange(&f, &code, &verifier).await.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f, access_token).await["active"], true);

    let replay = exchange(&f, &code, &verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(replay.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(
        introspect(&f, access_token).await["active"],
        false,
        "the access token is revoked"
    );
    let refreshed = refresh(&f, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 400, "the refresh token is revoked");
}

async fn a_wrong_pkce_verifier_is_refused(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let (other_verifier, _) = flow::pkce();
    let response = exchange(&f, &query_of(&redirect)["code"], &other_verifier).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

async fn a_public_client_must_send_an_s256_challenge(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            public: true,
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let missing = browser
        .get(&authorize_path(
            &f.app.client_id,
            "",
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .await;
    assert_eq!(missing.status(), 303);
    let answer = query_of(&location(&missing));
    assert_eq!(answer["error"], "invalid_request");
    assert!(answer["error_description"].contains("code_challenge"));

    let (_, challenge) = flow::pkce();
    let plain = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("code_challenge_method", "plain")],
        ))
        .await;
    assert_eq!(query_of(&location(&plain))["error"], "invalid_request");
}

async fn a_confidential_client_must_use_pkce_too(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let missing = browser
        .get(&authorize_path(
            &f.app.client_id,
            "",
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .await;
    assert_eq!(missing.status(), 303);
    let answer = query_of(&location(&missing));
    assert_eq!(answer["error"], "invalid_request");
    assert!(answer["error_description"].contains("code_challenge"));
}

async fn a_confidential_client_registered_pkce_optional_may_go_without(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            pkce_optional: true,
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let redirect = authorize_fully(
        &f,
        &browser,
        &authorize_path(
            &f.app.client_id,
            "",
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ),
    )
    .await;
    let code = query_of(&redirect)["code"].clone();
    let exchanged = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(exchanged.status(), 200);
}

async fn a_public_client_cannot_be_registered_without_pkce(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let now = server.state.clock.now();
    let refused = server
        .state
        .store
        .run(move |conn| {
            usher::domain::oauth::clients::create(
                conn,
                NewClient {
                    public: true,
                    pkce_optional: true,
                    ..web_app()
                },
                now,
            )
        })
        .await;
    assert!(
        matches!(refused, Err(usher::domain::AdminError::Invalid { field, .. }) if field == "pkce_optional"),
        "{refused:?}"
    );
}

async fn a_public_client_redeems_its_code_with_the_verifier_and_no_secret(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            public: true,
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let response = common::http()
        .post(f.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &f.app.client_id),
            ("code", &query_of(&redirect)["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn an_unregistered_redirect_uri_is_shown_as_an_error_and_never_redirected_to(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    for uri in [
        "https://evil.example/callback",
        "https://app.example/callback/",
        "https://app.example/callback?x=1",
    ] {
        let response = browser
            .get(&authorize_path(
                &f.app.client_id,
                &challenge,
                &[("redirect_uri", uri)],
            ))
            .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains("has not registered"));
    }
}

async fn a_wrong_client_secret_is_refused_at_the_token_endpoint(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let response = common::http()
        .post(f.server.endpoint("/oauth/token"))
        .basic_auth(&f.app.client_id, Some("not-the-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &query_of(&redirect)["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
}

async fn a_scope_beyond_the_clients_is_refused(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            scopes: vec!["openid".into(), "email".into()],
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    for scope in ["openid entitlements", "openid usher:admin"] {
        let response = browser
            .get(&authorize_path(&f.app.client_id, &challenge, &[("scope", scope)]))
            .await;
        assert_eq!(
            query_of(&location(&response))["error"],
            "invalid_scope",
            "{scope}"
        );
    }
}

async fn unsupported_response_types_go_back_to_the_app(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let response = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("response_type", "token")],
        ))
        .await;
    let answer = query_of(&location(&response));
    assert_eq!(answer["error"], "unsupported_response_type");
    assert_eq!(answer["iss"], f.server.url);
}

async fn an_oversized_state_is_refused_and_not_echoed(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let huge = "s".repeat(2000);
    let response = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[("state", &huge)]))
        .await;
    let answer = query_of(&location(&response));
    assert_eq!(answer["error"], "invalid_request");
    assert!(!answer.contains_key("state"));
}

async fn prompt_none_without_a_session_answers_login_required(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let response = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("prompt", "none")],
        ))
        .await;
    assert_eq!(response.status(), 303);
    let answer = query_of(&location(&response));
    assert_eq!(answer["error"], "login_required");
    assert_eq!(answer["state"], "state-123");
}

async fn prompt_login_and_an_exceeded_max_age_show_the_login_page_despite_a_session(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let (_, challenge) = flow::pkce();
    let forced = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("prompt", "login")],
        ))
        .await;
    assert_eq!(forced.status(), 200);
    assert!(
        forced
            .text()
            .await
            .unwrap()
            .contains("autocomplete=\"current-password\"")
    );

    f.server.state.clock.advance(120);
    let stale = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("max_age", "60")],
        ))
        .await;
    assert_eq!(stale.status(), 200, "signed in longer ago than max_age");
    let fresh = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("max_age", "3600")],
        ))
        .await;
    assert_eq!(fresh.status(), 303);
}

async fn form_post_response_mode_answers_with_a_self_posting_form(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let (_, challenge) = flow::pkce();
    let response = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("response_mode", "form_post")],
        ))
        .await;
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")));
    assert!(html.contains("name=\"code\""));
    assert_eq!(hidden_field(&html, "state"), "state-123");
    assert!(policy.contains("script-src 'nonce-"));
}

async fn the_self_posting_form_speaks_the_requests_language(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let (_, challenge) = flow::pkce();
    let html = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("response_mode", "form_post"), ("ui_locales", "ur")],
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"ur\" dir=\"rtl\">"), "{html}");
    assert!(html.contains("<title>آگے بڑھ رہے ہیں…</title>"), "{html}");
    assert!(
        html.contains("<button type=\"submit\">آگے بڑھیں</button>"),
        "{html}"
    );
}

async fn the_login_form_without_its_csrf_token_is_refused(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    browser.get("/login").await;
    let response = browser
        .post(
            "/login",
            &[("email", EMAIL), ("password", PASSWORD), ("request", "")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no session was started"
    );
}

async fn wrong_passwords_and_unknown_accounts_get_the_same_answer(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let wrong = browser.sign_in(None, EMAIL, "not the password").await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = browser
        .sign_in(None, "nobody@example.com", "not the password")
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    let message = |html: &str| {
        let start = html.find("role=\"alert\"").expect("an error message");
        html[start..start + 120].to_owned()
    };
    assert_eq!(message(&wrong), message(&unknown));
}

async fn wrong_passwords_are_rate_limited_per_account(backend: Backend) {
    let f = fixture_with(backend, |config| config.login_failures_per_account = 3, web_app()).await;
    let browser = Browser::new(&f.server);
    for _ in 0..3 {
        assert_eq!(browser.sign_in(None, EMAIL, "guess").await.status(), 401);
    }
    let limited = browser.sign_in(None, EMAIL, PASSWORD).await;
    assert_eq!(limited.status(), 429, "even the right password waits");
    assert!(limited.text().await.unwrap().contains("Too many attempts"));
    f.server
        .state
        .clock
        .advance(f.server.state.config.login_throttle_window_secs);
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
}

async fn wrong_passwords_are_rate_limited_per_address(backend: Backend) {
    let f = fixture_with(backend, |config| config.login_failures_per_ip = 4, web_app()).await;
    let browser = Browser::new(&f.server);
    for attempt in 0..4 {
        let email = format!("guess{attempt}@example.com");
        assert_eq!(browser.sign_in(None, &email, "guess").await.status(), 401);
    }
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 429);
}

async fn a_refresh_rotates_the_token_and_reuse_revokes_the_family(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let first = tokens["refresh_token"].as_str().unwrap();

    let rotated: Value = refresh(&f, first).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert!(
        claims(rotated["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );

    let used: Value = refresh(&f, second).await.json().await.unwrap();
    let third = used["refresh_token"].as_str().unwrap();

    f.server
        .state
        .clock
        .advance(f.server.state.config.refresh_reuse_grace_secs + 1);
    let reused = refresh(&f, first).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(reused.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(
        refresh(&f, third).await.status(),
        400,
        "the whole family is revoked"
    );
    let access_token = used["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f, access_token).await["active"], false);
}

async fn a_refresh_retried_long_after_a_lost_answer_gets_the_same_unused_successor(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let lost: Value = refresh(&f, first).await.json().await.unwrap();

    f.server.state.clock.advance(3600);
    let retried = refresh(&f, first).await;
    assert_eq!(
        retried.status(),
        200,
        "a retry is not reuse while the successor is unused"
    );
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    let successor = retried["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&f, successor).await.status(), 200, "the successor works");
}

async fn a_refresh_retried_after_a_slow_restart_gets_the_same_successor(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let lost: Value = refresh(&f, &first).await.json().await.unwrap();

    let Fixture {
        server,
        app,
        user_id,
        _db,
    } = f;
    let config = server.state.config.clone();
    let restarted_at = server.state.clock.now() + config.refresh_reuse_grace_secs + 2;
    server.stop().await;
    let server = TestServer::start_with(config, Clock::manual(restarted_at)).await;
    let f = Fixture {
        server,
        app,
        user_id,
        _db,
    };

    let retried = refresh(&f, &first).await;
    assert_eq!(retried.status(), 200);
    assert_eq!(
        retried.json::<Value>().await.unwrap()["refresh_token"],
        lost["refresh_token"]
    );
}

async fn with_no_grace_a_reuse_in_the_same_second_revokes_the_family(backend: Backend) {
    let f = fixture_with(backend, |config| config.refresh_reuse_grace_secs = 0, web_app()).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let second: Value = refresh(&f, first).await.json().await.unwrap();
    let third: Value = refresh(&f, second["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();

    let reused = refresh(&f, first).await;
    assert_eq!(reused.status(), 400, "no clock tick passed, and still reuse");
    assert_eq!(
        refresh(&f, third["refresh_token"].as_str().unwrap())
            .await
            .status(),
        400
    );
}

/// Presents `code` as another client, a public one, with the real redirect URI and verifier.
async fn exchange_as_another_client(f: &Fixture, code: &str, verifier: &str) -> reqwest::Response {
    let other = f
        .server
        .create_client(NewClient {
            name: "Other".into(),
            redirect_uris: vec![REDIRECT.into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    common::http()
        .post(f.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", other.client_id.as_str()),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

async fn a_code_presented_by_another_client_is_not_spent(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let code = query_of(&redirect)["code"].clone();

    let stolen = exchange_as_another_client(&f, &code, &verifier).await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(
        exchange(&f, &code, &verifier).await.status(),
        200,
        "the app still gets its tokens"
    );
}

async fn a_spent_code_presented_by_another_client_does_not_revoke_the_apps_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let code = query_of(&redirect)["code"].clone();
    let tokens: Value = exchange(&f, &code, &verifier).await.json().await.unwrap();

    let replayed = exchange_as_another_client(&f, &code, &verifier).await;
    assert_eq!(replayed.status(), 400);
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f, access_token).await["active"], true);
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&f, refresh_token).await.status(), 200);
}

async fn two_tabs_refreshing_at_once_both_stay_signed_in(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let (one, two) = tokio::join!(refresh(&f, token), refresh(&f, token));
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (200, 200));
    let one: Value = one.json().await.unwrap();
    let two: Value = two.json().await.unwrap();
    assert_eq!(
        one["refresh_token"], two["refresh_token"],
        "both get the same successor: the family does not fork"
    );
    let again = refresh(&f, one["refresh_token"].as_str().unwrap()).await;
    assert_eq!(again.status(), 200, "the successor works");
}

async fn a_rotated_token_reused_within_the_grace_gets_the_same_successor_not_a_new_branch(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let successor: Value = refresh(&f, first).await.json().await.unwrap();
    let successor = successor["refresh_token"].as_str().unwrap().to_owned();
    let replay: Value = refresh(&f, first).await.json().await.unwrap();
    assert_eq!(replay["refresh_token"], successor.as_str());
    let next: Value = refresh(&f, &successor).await.json().await.unwrap();
    let newest: Value = refresh(&f, next["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    f.server
        .state
        .clock
        .advance(f.server.state.config.refresh_reuse_grace_secs + 1);
    let stolen = refresh(&f, &successor).await;
    assert_eq!(
        stolen.status(),
        400,
        "a rotated token after the grace, its successor used, is reuse"
    );
    let after = refresh(&f, newest["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        after.status(),
        400,
        "and it revoked the newest token of the family too"
    );
}

async fn a_refused_refresh_does_not_spend_the_token(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let wider = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid entitlements"),
        ],
    )
    .await;
    assert_eq!(wider.json::<Value>().await.unwrap()["error"], "invalid_scope");
    f.server
        .state
        .clock
        .advance(f.server.state.config.refresh_reuse_grace_secs + 1);
    assert_eq!(refresh(&f, token).await.status(), 200, "still the current token");
}

async fn a_refresh_may_narrow_the_access_token_scope_but_keeps_the_grant(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let narrower: Value = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "openid"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(narrower["scope"], "openid");
    assert_eq!(
        claims(narrower["access_token"].as_str().unwrap())["scope"],
        "openid"
    );
    let full: Value = refresh(
        &f,
        narrower["refresh_token"].as_str().expect("still a refresh token"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        full["scope"], "openid email profile offline_access",
        "RFC 6749 §6: the refresh token keeps the scope granted"
    );
}

async fn a_code_is_refused_once_the_person_signed_out(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let redirect = authorize_fully(&f, &browser, &authorize_path(&f.app.client_id, &challenge, &[])).await;
    let page = browser.get("/oauth/logout").await.text().await.unwrap();
    browser
        .post("/logout", &[("csrf", &hidden_field(&page, "csrf"))])
        .await;
    let response = exchange(&f, &query_of(&redirect)["code"], &verifier).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

async fn signing_out_after_signing_in_again_reaches_the_apps_of_the_earlier_session(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let page = browser.get("/oauth/logout").await.text().await.unwrap();
    browser
        .post("/logout", &[("csrf", &hidden_field(&page, "csrf"))])
        .await;
    assert_eq!(
        refresh(&f, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        400
    );
}

async fn userinfo_returns_the_claims_of_the_granted_scopes(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let by_get: Value = common::http()
        .get(f.server.endpoint("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_get["sub"], f.user_id);
    assert_eq!(by_get["email"], EMAIL);
    assert_eq!(by_get["email_verified"], false);
    assert_eq!(by_get["name"], "Ada Lovelace");
    let by_post: Value = common::http()
        .post(f.server.endpoint("/oauth/userinfo"))
        .form(&[("access_token", access_token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_post, by_get);

    let refused = common::http()
        .get(f.server.endpoint("/oauth/userinfo"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
        "{challenge}"
    );
}

async fn logout_with_an_id_token_hint_ends_the_session_and_its_refresh_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", LOGGED_OUT)
        .append_pair("state", "bye-state")
        .finish();
    let response = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{LOGGED_OUT}?state=bye-state"));

    assert_eq!(
        refresh(&f, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        400
    );
    let (_, challenge) = flow::pkce();
    let again = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    assert_eq!(again.status(), 200, "signed out: the login page is shown again");
}

async fn logout_refuses_an_unregistered_post_logout_redirect_uri(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://evil.example/")
        .finish();
    let response = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert_eq!(
        refresh(&f, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200,
        "still signed in"
    );
}

async fn logout_without_a_hint_asks_the_person_first(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let page = browser.get("/oauth/logout").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out"));
    assert_eq!(
        refresh(&f, tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200,
        "not yet"
    );
    let confirmed = browser
        .post("/logout", &[("csrf", &hidden_field(&html, "csrf"))])
        .await;
    assert_eq!(confirmed.status(), 200);
    assert!(confirmed.text().await.unwrap().contains("signed out"));
    let (_, challenge) = flow::pkce();
    assert_eq!(
        browser
            .get(&authorize_path(&f.app.client_id, &challenge, &[]))
            .await
            .status(),
        200
    );
}

async fn the_session_cookie_is_http_only_and_same_site_lax(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let response = browser.sign_in(None, EMAIL, PASSWORD).await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("usher_session="))
        .expect("a session cookie with its attributes");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http issuer: {cookie}");
}

async fn an_idle_session_ends(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    f.server
        .state
        .clock
        .advance(f.server.state.config.session_idle_secs + 1);
    let (_, challenge) = flow::pkce();
    let response = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    assert_eq!(response.status(), 200, "the login page again");
}

async fn revoking_a_refresh_token_ends_its_family_and_access_token(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let as_app = |token: &str| {
        let token = token.to_owned();
        let (url, app) = (f.server.endpoint("/oauth/introspect"), &f.app);
        async move {
            common::post_form(&url, app, &[("token", &token)])
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(as_app(refresh_token).await["token_type"], "refresh_token");
    assert_eq!(
        introspect(&f, refresh_token).await["active"],
        false,
        "only the client holding a refresh token learns about it"
    );
    let revoked = common::post_form(
        &f.server.endpoint("/oauth/revoke"),
        &f.app,
        &[("token", refresh_token)],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(as_app(refresh_token).await["active"], false);
    assert_eq!(
        introspect(&f, tokens["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

async fn signup_is_off_by_default_and_mails_a_link_when_on(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    assert_eq!(browser.get("/signup").await.status(), 404);
    f.server.stop().await;

    let f = fixture_with(backend, |config| config.allow_signup = true, web_app()).await;
    let browser = Browser::new(&f.server);
    let html = browser.get("/signup").await.text().await.unwrap();
    assert!(
        !html.contains("type=\"password\""),
        "no password before the address is proven"
    );
    let asked = browser
        .post(
            "/signup",
            &[
                ("csrf", &hidden_field(&html, "csrf")),
                ("request", ""),
                ("email", "grace@example.com"),
            ],
        )
        .await;
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("Check your email"));
}

async fn a_client_that_chose_es256_gets_es256_id_tokens(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            id_token_alg: Some("ES256".into()),
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let tokens = signed_in_tokens(&f, &browser).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("usher_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn signing_in_again_replaces_the_previous_session(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let first = session_cookie(&browser.sign_in(None, EMAIL, PASSWORD).await);
    let second = session_cookie(&browser.sign_in(None, EMAIL, PASSWORD).await);
    assert_ne!(first, second, "every sign-in gets a new session token");
    let with_first = common::http()
        .get(f.server.endpoint("/account"))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_first.status(),
        303,
        "the earlier token no longer signs anyone in"
    );
    assert_eq!(location(&with_first), "/login");
}

async fn an_authorization_request_sent_by_post_continues_as_a_get(backend: Backend) {
    let f = fixture(backend).await;
    let (_, challenge) = flow::pkce();
    let path = authorize_path(&f.app.client_id, &challenge, &[]);
    let query = path.split_once('?').unwrap().1.to_owned();
    let response = common::http()
        .post(f.server.endpoint("/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        303,
        "the session cookie only travels on the GET"
    );
    let next = location(&response);
    assert!(next.starts_with("/oauth/authorize?"), "{next}");
    assert_eq!(Browser::new(&f.server).get(&next).await.status(), 200);
}

async fn userinfo_without_a_token_challenges_without_an_error_code(backend: Backend) {
    let f = fixture(backend).await;
    for authorization in [None, Some("Basic dXNlcjpwYXNz")] {
        let mut request = common::http().get(f.server.endpoint("/oauth/userinfo"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"usher\"");
    }
}

async fn prompt_consent_asks_even_for_a_first_party_app(backend: Backend) {
    let f = fixture_with(
        backend,
        |_| {},
        NewClient {
            first_party: true,
            ..web_app()
        },
    )
    .await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let login = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    let signed_in = browser
        .sign_in(Some(&login.text().await.unwrap()), EMAIL, PASSWORD)
        .await;
    assert_eq!(
        browser.follow(signed_in).await.status(),
        303,
        "first-party: no consent page"
    );
    let asked = browser
        .get(&authorize_path(
            &f.app.client_id,
            &challenge,
            &[("prompt", "consent")],
        ))
        .await;
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("Allow"));
}

async fn a_consent_answer_from_another_sign_in_is_refused(backend: Backend) {
    let f = fixture(backend).await;
    let other = "other@example.com";
    flow::create_user(&f.server, other).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let login = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    let signed_in = browser
        .sign_in(Some(&login.text().await.unwrap()), EMAIL, PASSWORD)
        .await;
    let consent = browser.follow(signed_in).await.text().await.unwrap();
    // Someone else signs in from another tab of the same browser.
    assert_eq!(browser.sign_in(None, other, PASSWORD).await.status(), 303);
    let answer = browser
        .post(
            "/oauth/consent",
            &[
                ("csrf", &hidden_field(&consent, "csrf")),
                ("request", &hidden_field(&consent, "request")),
                ("session", &hidden_field(&consent, "session")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(
        answer.status(),
        403,
        "no code: the form's CSRF token was bound to the session it was shown in"
    );
    assert!(answer.text().await.unwrap().contains("This form expired"));
}

async fn an_unknown_account_costs_the_same_password_work_as_a_known_one(backend: Backend) {
    let f = fixture(backend).await;
    let browser = Browser::new(&f.server);
    let lane = &f.server.state.password_lane;
    for email in [EMAIL, "nobody@example.com"] {
        let before = lane.completed();
        assert_eq!(browser.sign_in(None, email, "wrong password").await.status(), 401);
        assert_eq!(lane.completed(), before + 1, "one argon2id check for {email}");
    }
}

async fn a_session_ends_at_its_absolute_lifetime_however_active(backend: Backend) {
    let f = fixture_with(
        backend,
        |config| {
            config.session_idle_secs = 100;
            config.session_max_secs = 250;
        },
        web_app(),
    )
    .await;
    let browser = Browser::new(&f.server);
    signed_in_tokens(&f, &browser).await;
    let (_, challenge) = flow::pkce();
    for _ in 0..2 {
        f.server.state.clock.advance(90);
        let used = browser
            .get(&authorize_path(&f.app.client_id, &challenge, &[]))
            .await;
        assert_eq!(used.status(), 303, "in use, within both lifetimes");
    }
    f.server.state.clock.advance(90);
    let over = browser
        .get(&authorize_path(&f.app.client_id, &challenge, &[]))
        .await;
    assert_eq!(over.status(), 200, "270 s after sign-in: the login page");
}

async fn a_browser_app_may_call_the_token_and_userinfo_endpoints_from_its_own_origin(backend: Backend) {
    let f = fixture(backend).await;
    for path in ["/oauth/token", "/oauth/userinfo", "/oauth/revoke"] {
        let preflight = common::http()
            .request(reqwest::Method::OPTIONS, f.server.endpoint(path))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{path}");
        assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
        assert!(
            preflight.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("Authorization")
        );
    }
    let refused = common::http()
        .get(f.server.endpoint("/oauth/userinfo"))
        .header("origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "*",
        "errors are readable too"
    );
    assert_eq!(
        refused.headers()["access-control-expose-headers"],
        "WWW-Authenticate"
    );
    let page = common::http()
        .request(reqwest::Method::OPTIONS, f.server.endpoint("/login"))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers().get("access-control-allow-origin").is_none(),
        "pages stay same-origin"
    );
}

on_both_backends!(
    a_confidential_client_must_use_pkce_too,
    a_confidential_client_registered_pkce_optional_may_go_without,
    a_public_client_cannot_be_registered_without_pkce,
    a_browser_app_may_call_the_token_and_userinfo_endpoints_from_its_own_origin,
    an_unknown_account_costs_the_same_password_work_as_a_known_one,
    a_session_ends_at_its_absolute_lifetime_however_active,
    an_authorization_request_sent_by_post_continues_as_a_get,
    userinfo_without_a_token_challenges_without_an_error_code,
    prompt_consent_asks_even_for_a_first_party_app,
    a_consent_answer_from_another_sign_in_is_refused,
    signing_in_again_replaces_the_previous_session,
    a_client_that_chose_es256_gets_es256_id_tokens,
    a_person_signs_in_consents_and_the_app_gets_tokens_with_the_right_claims,
    a_second_app_signs_the_person_in_without_asking_again,
    consent_is_remembered_and_prompt_consent_asks_again,
    denying_consent_sends_access_denied_to_the_app,
    a_replayed_code_is_refused_and_revokes_what_it_issued,
    a_wrong_pkce_verifier_is_refused,
    a_public_client_must_send_an_s256_challenge,
    a_public_client_redeems_its_code_with_the_verifier_and_no_secret,
    an_unregistered_redirect_uri_is_shown_as_an_error_and_never_redirected_to,
    a_wrong_client_secret_is_refused_at_the_token_endpoint,
    a_scope_beyond_the_clients_is_refused,
    unsupported_response_types_go_back_to_the_app,
    prompt_none_without_a_session_answers_login_required,
    an_oversized_state_is_refused_and_not_echoed,
    prompt_login_and_an_exceeded_max_age_show_the_login_page_despite_a_session,
    form_post_response_mode_answers_with_a_self_posting_form,
    the_self_posting_form_speaks_the_requests_language,
    the_login_form_without_its_csrf_token_is_refused,
    wrong_passwords_and_unknown_accounts_get_the_same_answer,
    wrong_passwords_are_rate_limited_per_account,
    wrong_passwords_are_rate_limited_per_address,
    a_refresh_rotates_the_token_and_reuse_revokes_the_family,
    a_refresh_retried_long_after_a_lost_answer_gets_the_same_unused_successor,
    a_refresh_retried_after_a_slow_restart_gets_the_same_successor,
    two_tabs_refreshing_at_once_both_stay_signed_in,
    with_no_grace_a_reuse_in_the_same_second_revokes_the_family,
    a_code_presented_by_another_client_is_not_spent,
    a_spent_code_presented_by_another_client_does_not_revoke_the_apps_tokens,
    a_refresh_may_narrow_the_access_token_scope_but_keeps_the_grant,
    a_rotated_token_reused_within_the_grace_gets_the_same_successor_not_a_new_branch,
    a_refused_refresh_does_not_spend_the_token,
    a_code_is_refused_once_the_person_signed_out,
    signing_out_after_signing_in_again_reaches_the_apps_of_the_earlier_session,
    userinfo_returns_the_claims_of_the_granted_scopes,
    logout_with_an_id_token_hint_ends_the_session_and_its_refresh_tokens,
    logout_refuses_an_unregistered_post_logout_redirect_uri,
    logout_without_a_hint_asks_the_person_first,
    the_session_cookie_is_http_only_and_same_site_lax,
    an_idle_session_ends,
    revoking_a_refresh_token_ends_its_family_and_access_token,
    signup_is_off_by_default_and_mails_a_link_when_on,
);
