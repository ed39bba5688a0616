//! Two-step sign-in with an authenticator app over HTTP, with a controlled clock: enrolment
//! on the account page, the code step of password sign-in, replayed and wrong codes,
//! recovery codes, the per-challenge limit, and turning it off.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::store::StoreError;
use usher::foundation::store::entitlements::{AuditFilter, list_audit};

const EMAIL: &str = "viewer@example.com";
const REDIRECT: &str = "https://app.example/callback";
/// Ten seconds into a 30-second step.
const START: i64 = 1_795_545_610;

struct Fixture {
    server: TestServer,
    user_id: String,
    _db: TestDb,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    Fixture {
        _db: db,
        server,
        user_id,
    }
}

/// The code an authenticator app shows for `secret` (base32, as the setup page shows it).
fn code_at(secret: &str, now: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(u64::try_from(now).unwrap()).to_string()
}

fn now(f: &Fixture) -> i64 {
    f.server.state.clock.now()
}

/// Moves the clock to the next 30-second step, so a new code is due.
fn next_step(f: &Fixture) {
    f.server.state.clock.advance(30);
}

async fn signed_in(f: &Fixture) -> Browser {
    let browser = Browser::new(&f.server);
    let answer = browser.sign_in(None, EMAIL, PASSWORD).await;
    assert_eq!(answer.status(), 303);
    browser
}

async fn csrf_of(browser: &Browser, path: &str) -> String {
    let page = browser.get(path).await;
    assert_eq!(page.status(), 200, "{path}");
    hidden_field(&page.text().await.unwrap(), "csrf")
}

/// The text between `start` and the next `end` after it.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in:\n{html}"))
        + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

/// Sets up an authenticator app through the account page; returns the secret as shown and
/// the recovery codes.
async fn enrol(f: &Fixture, browser: &Browser) -> (String, Vec<String>) {
    let csrf = csrf_of(browser, "/account").await;
    let started = browser.post("/account/totp/start", &[("csrf", &csrf)]).await;
    assert_eq!(started.status(), 303);
    assert_eq!(location(&started), "/account/totp");
    let setup = browser.get("/account/totp").await;
    assert_eq!(setup.status(), 200);
    let html = setup.text().await.unwrap();
    assert!(html.contains("<svg"), "a QR code");
    assert!(html.contains(r#"autocomplete="one-time-code""#));
    let secret = between(&html, r#"<p class="secret" id="secret">"#, "</p>").to_owned();
    let code = code_at(&secret, now(f));
    let confirmed = browser
        .post("/account/totp/confirm", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(confirmed.status(), 200);
    let html = confirmed.text().await.unwrap();
    let list = between(
        &html,
        r#"<ol class="codes" aria-label="Recovery codes">"#,
        "</ol>",
    );
    let codes = list
        .split("<li>")
        .filter_map(|item| item.split("</li>").next())
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
        .collect();
    (secret, codes)
}

/// Signs in with the password; the answer must be the code page.
async fn password_step(browser: &Browser, page: Option<&str>) -> String {
    let answer = browser.sign_in(page, EMAIL, PASSWORD).await;
    assert_eq!(answer.status(), 200, "the code page, not a session");
    let html = answer.text().await.unwrap();
    assert!(html.contains("Enter the code from your authenticator app"));
    assert!(html.contains(r#"autocomplete="one-time-code""#));
    html
}

async fn submit_code(browser: &Browser, page: &str, code: &str) -> reqwest::Response {
    let csrf = hidden_field(page, "csrf");
    let request = hidden_field(page, "request");
    browser
        .post(
            "/login/code",
            &[("csrf", &csrf), ("request", &request), ("code", code)],
        )
        .await
}

async fn actions(f: &Fixture) -> Vec<String> {
    let user_id = f.user_id.clone();
    let filter = AuditFilter {
        user_id: Some(user_id),
        limit: 100,
        ..AuditFilter::default()
    };
    let entries = f
        .server
        .state
        .store
        .run::<_, StoreError, _>(move |conn| list_audit(conn, &filter))
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .all(|entry| entry.actor == format!("user:{}", f.user_id))
    );
    // Oldest first.
    entries.into_iter().rev().map(|entry| entry.action).collect()
}

async fn enrolment_turns_on_two_step_with_ten_recovery_codes(backend: Backend) {
    let f = fixture(backend).await;
    let browser = signed_in(&f).await;
    let (_, codes) = enrol(&f, &browser).await;
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    let account = browser.get("/account").await.text().await.unwrap();
    assert!(account.contains("On since"));
    assert!(account.contains("10 unused recovery codes left"));
    assert_eq!(actions(&f).await, ["totp.enable"]);
}

async fn a_wrong_first_code_does_not_turn_it_on(backend: Backend) {
    let f = fixture(backend).await;
    let browser = signed_in(&f).await;
    let csrf = csrf_of(&browser, "/account").await;
    browser.post("/account/totp/start", &[("csrf", &csrf)]).await;
    let refused = browser
        .post("/account/totp/confirm", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(refused.status(), 422);
    let account = browser.get("/account").await.text().await.unwrap();
    assert!(account.contains("Set up an authenticator app"));
    assert!(actions(&f).await.is_empty());
}

async fn sign_in_asks_for_the_code_and_the_id_token_says_mfa(backend: Backend) {
    let f = fixture(backend).await;
    let app: CreatedClient = f.server.create_client(flow::first_party_app()).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    next_step(&f);

    let browser = Browser::new(&f.server);
    let (verifier, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email")
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let login = browser
        .get(&format!("/oauth/authorize?{query}"))
        .await
        .text()
        .await
        .unwrap();
    let page = password_step(&browser, Some(&login)).await;
    let answer = submit_code(&browser, &page, &code_at(&secret, now(&f))).await;
    assert_eq!(answer.status(), 303);
    let redirect = browser.follow(answer).await;
    let code = url::Url::parse(&location(&redirect))
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .expect("a code for the app");
    let tokens = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
}

async fn a_replayed_code_is_refused(backend: Backend) {
    let f = fixture(backend).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    next_step(&f);
    let code = code_at(&secret, now(&f));

    let first = Browser::new(&f.server);
    let page = password_step(&first, None).await;
    assert_eq!(submit_code(&first, &page, &code).await.status(), 303);

    let second = Browser::new(&f.server);
    let page = password_step(&second, None).await;
    let replayed = submit_code(&second, &page, &code).await;
    assert_eq!(replayed.status(), 401);
    assert!(replayed.text().await.unwrap().contains("That code didn"));
    // The next step's code is fine.
    next_step(&f);
    let answer = submit_code(&second, &page, &code_at(&secret, now(&f))).await;
    assert_eq!(answer.status(), 303);
}

async fn a_device_that_can_hold_a_passkey_is_offered_one_after_the_code(backend: Backend) {
    let f = fixture(backend).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    next_step(&f);
    let browser = Browser::new(&f.server);
    let page = password_step(&browser, None).await;
    assert!(
        page.contains(r#"name="passkey_offer""#),
        "the code page asks the script"
    );
    let answer = browser
        .post(
            "/login/code",
            &[
                ("csrf", hidden_field(&page, "csrf").as_str()),
                ("request", ""),
                ("passkey_offer", "1"),
                ("code", code_at(&secret, now(&f)).as_str()),
            ],
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert!(
        location(&answer).starts_with("/account/passkeys/offer?request="),
        "{}",
        location(&answer)
    );
}

async fn a_recovery_code_works_once(backend: Backend) {
    let f = fixture(backend).await;
    let (_, codes) = enrol(&f, &signed_in(&f).await).await;
    let recovery = codes[3].to_uppercase();

    let first = Browser::new(&f.server);
    let page = password_step(&first, None).await;
    assert_eq!(submit_code(&first, &page, &recovery).await.status(), 303);
    let account = first.get("/account").await.text().await.unwrap();
    assert!(account.contains("9 unused recovery codes left"));
    assert_eq!(actions(&f).await, ["totp.enable", "recovery_code.use"]);

    let second = Browser::new(&f.server);
    let page = password_step(&second, None).await;
    assert_eq!(submit_code(&second, &page, &recovery).await.status(), 401);
}

async fn new_recovery_codes_replace_the_old_ones_for_a_current_code(backend: Backend) {
    let f = fixture(backend).await;
    let browser = signed_in(&f).await;
    let (secret, old_codes) = enrol(&f, &browser).await;
    let csrf = csrf_of(&browser, "/account").await;
    let wrong = browser
        .post(
            "/account/totp/recovery-codes",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status(), 422, "a code is needed");
    next_step(&f);
    let renewed = browser
        .post(
            "/account/totp/recovery-codes",
            &[("csrf", &csrf), ("code", &code_at(&secret, now(&f)))],
        )
        .await;
    assert_eq!(renewed.status(), 200);
    let html = renewed.text().await.unwrap();
    let list = between(
        &html,
        r#"<ol class="codes" aria-label="Recovery codes">"#,
        "</ol>",
    );
    let new_code = list
        .split("<li>")
        .filter_map(|item| item.split("</li>").next())
        .map(str::trim)
        .find(|code| !code.is_empty())
        .unwrap()
        .to_owned();
    assert!(!old_codes.contains(&new_code));
    assert_eq!(actions(&f).await, ["totp.enable", "recovery_codes.renew"]);

    let stale = Browser::new(&f.server);
    let page = password_step(&stale, None).await;
    assert_eq!(
        submit_code(&stale, &page, &old_codes[0]).await.status(),
        401,
        "old codes stop working"
    );
    let fresh = Browser::new(&f.server);
    let page = password_step(&fresh, None).await;
    assert_eq!(submit_code(&fresh, &page, &new_code).await.status(), 303);
}

async fn a_wrong_code_starts_no_session(backend: Backend) {
    let f = fixture(backend).await;
    enrol(&f, &signed_in(&f).await).await;
    let browser = Browser::new(&f.server);
    let page = password_step(&browser, None).await;
    assert_eq!(submit_code(&browser, &page, "123456").await.status(), 401);
    let account = browser.get("/account").await;
    assert_eq!(account.status(), 303);
    assert_eq!(location(&account), "/login");
}

async fn five_wrong_codes_end_the_sign_in(backend: Backend) {
    let f = fixture(backend).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    next_step(&f);
    let browser = Browser::new(&f.server);
    let page = password_step(&browser, None).await;
    for attempt in 1..=5 {
        let answer = submit_code(&browser, &page, "000000").await;
        assert_eq!(answer.status(), 401, "attempt {attempt}");
        let html = answer.text().await.unwrap();
        assert_eq!(html.contains("Sign in again"), attempt == 5, "attempt {attempt}");
    }
    // The right code no longer finishes this sign-in.
    let late = submit_code(&browser, &page, &code_at(&secret, now(&f))).await;
    assert_ne!(late.status(), 303);
    assert_eq!(browser.get("/account").await.status(), 303);
}

async fn the_challenge_expires(backend: Backend) {
    let f = fixture(backend).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    let browser = Browser::new(&f.server);
    let page = password_step(&browser, None).await;
    f.server.state.clock.advance(301);
    let late = submit_code(&browser, &page, &code_at(&secret, now(&f))).await;
    assert_eq!(late.status(), 401);
    assert!(late.text().await.unwrap().contains("Sign in again"));
}

async fn a_sign_in_that_must_start_over_returns_to_the_app_that_asked(backend: Backend) {
    let f = fixture(backend).await;
    let app: CreatedClient = f.server.create_client(flow::first_party_app()).await;
    let (secret, _) = enrol(&f, &signed_in(&f).await).await;
    let browser = Browser::new(&f.server);
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let login = browser
        .get(&format!("/oauth/authorize?{query}"))
        .await
        .text()
        .await
        .unwrap();
    let page = password_step(&browser, Some(&login)).await;
    f.server.state.clock.advance(301);
    let again = submit_code(&browser, &page, &code_at(&secret, now(&f)))
        .await
        .text()
        .await
        .unwrap();
    assert!(again.contains("Streamly"), "the login page names the app again");
    assert!(
        hidden_field(&again, "request").contains(&app.client_id),
        "and carries its request"
    );
}

async fn turning_it_off_needs_a_code(backend: Backend) {
    let f = fixture(backend).await;
    let browser = signed_in(&f).await;
    let (secret, _) = enrol(&f, &browser).await;
    let csrf = csrf_of(&browser, "/account").await;
    let refused = browser
        .post("/account/totp/disable", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(refused.status(), 422);
    next_step(&f);
    let code = code_at(&secret, now(&f));
    let off = browser
        .post("/account/totp/disable", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(off.status(), 303);
    assert_eq!(location(&off), "/account?done=totp-off");
    assert_eq!(actions(&f).await, ["totp.enable", "totp.disable"]);
    // The password alone signs in again.
    let answer = Browser::new(&f.server).sign_in(None, EMAIL, PASSWORD).await;
    assert_eq!(answer.status(), 303);
}

async fn forms_without_csrf_are_refused(backend: Backend) {
    let f = fixture(backend).await;
    let browser = signed_in(&f).await;
    for path in [
        "/account/totp/start",
        "/account/totp/confirm",
        "/account/totp/disable",
        "/login/code",
    ] {
        let answer = browser.post(path, &[("code", "123456")]).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
}

async fn an_administrator_asked_for_a_second_factor_continues_to_the_dashboard_after_adding_an_app(
    backend: Backend,
) {
    let f = fixture(backend).await;
    let admin = usher::domain::identity::users::NewUser {
        email: "admin@example.com".to_owned(),
        name: None,
        password: Some(PASSWORD.into()),
        admin: true,
    };
    let created_at = now(&f);
    f.server
        .state
        .store
        .run(move |conn| usher::domain::identity::users::create(conn, admin, created_at).map(|_| ()))
        .await
        .unwrap();
    let browser = Browser::new(&f.server);
    let login = browser.follow(browser.get("/admin").await).await;
    let login = login.text().await.unwrap();
    let signed_in = browser.sign_in(Some(&login), "admin@example.com", PASSWORD).await;
    assert_eq!(
        location(&signed_in),
        "/account/second-factor?request=return_to%3D%252Fadmin"
    );
    let asked = browser.get(&location(&signed_in)).await.text().await.unwrap();
    let (csrf, carried) = (hidden_field(&asked, "csrf"), hidden_field(&asked, "request"));
    let started = browser
        .post("/account/totp/start", &[("csrf", &csrf), ("request", &carried)])
        .await;
    assert_eq!(location(&started), "/account/totp?request=return_to%3D%252Fadmin");
    let setup = browser.get(&location(&started)).await.text().await.unwrap();
    let secret = between(&setup, r#"<p class="secret" id="secret">"#, "</p>").to_owned();
    let confirmed = browser
        .post(
            "/account/totp/confirm",
            &[
                ("csrf", &csrf),
                ("request", &hidden_field(&setup, "request")),
                ("code", &code_at(&secret, now(&f))),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    let codes_page = confirmed.text().await.unwrap();
    assert!(
        codes_page.contains(r#"<a href="/admin">I saved them: continue</a>"#),
        "{codes_page}"
    );
}

on_both_backends!(
    an_administrator_asked_for_a_second_factor_continues_to_the_dashboard_after_adding_an_app,
    a_device_that_can_hold_a_passkey_is_offered_one_after_the_code,
    enrolment_turns_on_two_step_with_ten_recovery_codes,
    a_wrong_first_code_does_not_turn_it_on,
    sign_in_asks_for_the_code_and_the_id_token_says_mfa,
    a_replayed_code_is_refused,
    a_recovery_code_works_once,
    new_recovery_codes_replace_the_old_ones_for_a_current_code,
    a_wrong_code_starts_no_session,
    five_wrong_codes_end_the_sign_in,
    the_challenge_expires,
    a_sign_in_that_must_start_over_returns_to_the_app_that_asked,
    turning_it_off_needs_a_code,
    forms_without_csrf_are_refused,
);
