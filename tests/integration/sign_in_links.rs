//! Emailed sign-in links over HTTP, with a real SMTP server (aiosmtpd) and a controlled clock:
//! the link continuing an app's authorization request, the button that spends it, expiry,
//! the same answer for unknown addresses, the limits per address and network and per IP, sign-up by
//! link, the second step after a link, setting a password after signing in by link,
//! disabled accounts, and the language the mail speaks.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::smtp::{ReceivedMail, SmtpServer};
use common::{Backend, TestDb, TestServer};
use diesel::prelude::*;
use serde_json::{Value, json};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::store::StoreError;
use usher::foundation::store::users::{self, User};

const EMAIL: &str = "viewer@example.com";
const REDIRECT: &str = "https://app.example/callback";
const CONTINUE: &str = "/login/link/continue";
/// Ten seconds into a 30-second step.
const START: i64 = 1_795_545_610;
const NEW_PASSWORD: &str = "a brand new passphrase";

struct Fixture {
    smtp: SmtpServer,
    server: TestServer,
    _db: TestDb,
}

/// A server mailing through its own aiosmtpd, on a manual clock, with [`EMAIL`] registered
/// (with [`PASSWORD`]); `configure` adjusts the configuration first.
async fn fixture(backend: Backend, configure: impl FnOnce(&mut Config)) -> Fixture {
    let db = TestDb::new(backend);
    let smtp = SmtpServer::start().await;
    let mut config = Config {
        smtp_url: Some(smtp.url()),
        ..db.config()
    };
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    flow::create_user(&server, EMAIL).await;
    Fixture {
        _db: db,
        smtp,
        server,
    }
}

fn now(f: &Fixture) -> i64 {
    f.server.state.clock.now()
}

/// "Email me a sign-in link" on the login page `login_html` (the plain login page when
/// `None`).
async fn ask_for_link(browser: &Browser, login_html: Option<&str>, email: &str) -> reqwest::Response {
    let html = match login_html {
        Some(html) => html.to_owned(),
        None => browser.get("/login").await.text().await.unwrap(),
    };
    let csrf = hidden_field(&html, "csrf");
    let request = hidden_field(&html, "request");
    browser
        .post(
            "/login/link",
            &[("csrf", &csrf), ("request", &request), ("email", email)],
        )
        .await
}

/// Asks for a link; the answer must be the "Check your email" page.
async fn ask_ok(browser: &Browser, login_html: Option<&str>, email: &str) -> String {
    let answer = ask_for_link(browser, login_html, email).await;
    assert_eq!(answer.status(), 200, "the link request for {email}");
    let html = answer.text().await.unwrap();
    assert!(html.contains("Check your email"), "{html}");
    html
}

/// The sign-in link of the next mail to `email`.
async fn mailed_link(f: &Fixture, email: &str) -> (ReceivedMail, String) {
    let mail = f.smtp.next_mail_to(email).await;
    let link = mail
        .link_containing(CONTINUE)
        .unwrap_or_else(|| panic!("no sign-in link in:\n{}", mail.text));
    assert!(
        link.starts_with(&f.server.endpoint(&format!("{CONTINUE}?token="))),
        "{link}"
    );
    (mail, link)
}

/// Opens the mailed link; the answer must be the page with the button.
async fn open_link(browser: &Browser, link: &str) -> String {
    let page = browser.get(link).await;
    assert_eq!(page.status(), 200, "the continue page");
    let html = page.text().await.unwrap();
    assert!(html.contains("Continue signing in"), "{html}");
    html
}

/// Presses the continue page's button.
async fn press_button(browser: &Browser, continue_html: &str) -> reqwest::Response {
    let csrf = hidden_field(continue_html, "csrf");
    let token = hidden_field(continue_html, "token");
    browser
        .post(
            CONTINUE,
            &[("csrf", &csrf), ("token", &token), ("passkey_offer", "")],
        )
        .await
}

/// Asks for a link to [`EMAIL`], opens it and presses the button, in `browser`.
async fn sign_in_by_link(f: &Fixture, browser: &Browser, login_html: Option<&str>) -> reqwest::Response {
    ask_ok(browser, login_html, EMAIL).await;
    let (_, link) = mailed_link(f, EMAIL).await;
    let page = open_link(browser, &link).await;
    press_button(browser, &page).await
}

/// Whether `browser` has a live session: the account page shows instead of sending it to
/// the login page.
async fn has_session(browser: &Browser) -> bool {
    let account = browser.get("/account").await;
    match account.status().as_u16() {
        200 => true,
        303 => {
            assert_eq!(location(&account), "/login");
            false
        }
        other => panic!("GET /account answered {other}"),
    }
}

/// Lets the mailer settle, then counts the mail received for `email` so far.
async fn mails_to(f: &Fixture, email: &str) -> usize {
    tokio::time::sleep(Duration::from_secs(1)).await;
    f.smtp
        .received()
        .iter()
        .filter(|mail| mail.to.to_ascii_lowercase().contains(email))
        .count()
}

/// Starts an authorization code request of `app` in `browser`; returns the PKCE verifier and
/// the login page it leads to.
async fn authorize(browser: &Browser, app: &CreatedClient) -> (String, String) {
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
    let login = browser.get(&format!("/oauth/authorize?{query}")).await;
    assert_eq!(login.status(), 200, "the login page");
    (verifier, login.text().await.unwrap())
}

/// Follows a signed-in answer back to the app, exchanges the code and returns the ID token's
/// claims (its signature is checked elsewhere).
async fn id_token_claims(
    f: &Fixture,
    browser: &Browser,
    app: &CreatedClient,
    signed_in: reqwest::Response,
    verifier: &str,
) -> Value {
    assert_eq!(signed_in.status(), 303);
    let redirect = browser.follow(signed_in).await;
    let target = url::Url::parse(&location(&redirect)).expect("a redirect to the app");
    assert_eq!(
        format!(
            "{}://{}{}",
            target.scheme(),
            target.host_str().unwrap(),
            target.path()
        ),
        REDIRECT
    );
    let query: Vec<(String, String)> = target.query_pairs().into_owned().collect();
    assert!(query.contains(&("state".to_owned(), "s".to_owned())), "{query:?}");
    let code = query
        .iter()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.clone())
        .expect("a code for the app");
    let tokens = common::post_form(
        &f.server.endpoint("/oauth/token"),
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status(), 200, "code exchange");
    let tokens: Value = tokens.json().await.unwrap();
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn find_user(f: &Fixture, email: &str) -> Option<User> {
    let email = email.to_owned();
    f.server
        .state
        .store
        .run::<_, StoreError, _>(move |conn| users::find_by_email(conn, &email))
        .await
        .unwrap()
}

/// The code an authenticator app shows for `secret` (base32, as the setup page shows it).
fn code_at(secret: &str, now: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(u64::try_from(now).unwrap()).to_string()
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

async fn account_csrf(browser: &Browser) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 200, "the account page");
    hidden_field(&page.text().await.unwrap(), "csrf")
}

/// Signs [`EMAIL`] in with the password and sets up an authenticator app on the account
/// page, and takes the notice mail about it; returns the secret.
async fn enrol_totp(f: &Fixture) -> String {
    let browser = Browser::new(&f.server);
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let csrf = account_csrf(&browser).await;
    let started = browser.post("/account/totp/start", &[("csrf", &csrf)]).await;
    assert_eq!(started.status(), 303);
    let html = browser.get("/account/totp").await.text().await.unwrap();
    let secret = between(&html, r#"<p class="secret" id="secret">"#, "</p>").to_owned();
    let confirmed = browser
        .post(
            "/account/totp/confirm",
            &[("csrf", &csrf), ("code", &code_at(&secret, now(f)))],
        )
        .await;
    assert_eq!(confirmed.status(), 200, "two-step sign-in on");
    // Its notice comes first, before any link.
    let notice = f.smtp.next_mail_to(EMAIL).await;
    assert!(
        notice.text.contains("Two-step sign-in was turned on"),
        "{}",
        notice.text
    );
    secret
}

async fn the_link_continues_the_apps_request_and_the_id_token_says_email(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let app: CreatedClient = f.server.create_client(flow::first_party_app()).await;
    let browser = Browser::new(&f.server);
    let (verifier, login) = authorize(&browser, &app).await;

    ask_ok(&browser, Some(&login), EMAIL).await;
    let (mail, link) = mailed_link(&f, EMAIL).await;
    assert_eq!(mail.subject, "Your sign-in link for Usher");
    assert!(
        mail.text.contains("Streamly"),
        "the mail names the app:\n{}",
        mail.text
    );
    let page = open_link(&browser, &link).await;
    assert!(page.contains(EMAIL));
    let signed_in = press_button(&browser, &page).await;
    assert!(
        location(&signed_in).starts_with("/oauth/authorize?"),
        "back to the interrupted request"
    );

    let claims = id_token_claims(&f, &browser, &app, signed_in, &verifier).await;
    assert_eq!(claims["amr"], json!(["email"]));
    assert_eq!(claims["email"], json!(EMAIL));
    assert_eq!(claims["email_verified"], json!(true));
}

async fn opening_the_link_does_not_spend_it_but_the_button_does(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = Browser::new(&f.server);
    ask_ok(&browser, None, EMAIL).await;
    let (_, link) = mailed_link(&f, EMAIL).await;

    // A mail scanner fetching the link, then the person opening it.
    let scanner = Browser::new(&f.server);
    open_link(&scanner, &link).await;
    let page = open_link(&browser, &link).await;
    assert!(!has_session(&browser).await, "opening signs no one in");

    let signed_in = press_button(&browser, &page).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/account");
    assert!(has_session(&browser).await);

    // The same link again, from another browser: gone, opened or pressed.
    let late = Browser::new(&f.server);
    assert_eq!(late.get(&link).await.status(), 410);
    let login = late.get("/login").await.text().await.unwrap();
    let again = late
        .post(
            CONTINUE,
            &[
                ("csrf", &hidden_field(&login, "csrf")),
                ("token", &hidden_field(&page, "token")),
                ("passkey_offer", ""),
            ],
        )
        .await;
    assert_eq!(again.status(), 410);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This sign-in link no longer works")
    );
    assert!(!has_session(&late).await, "no session from a spent link");
}

async fn a_link_used_after_ten_minutes_is_gone(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = Browser::new(&f.server);
    ask_ok(&browser, None, EMAIL).await;
    let (_, link) = mailed_link(&f, EMAIL).await;
    let page = open_link(&browser, &link).await;

    f.server.state.clock.advance(601);
    let late = press_button(&browser, &page).await;
    assert_eq!(late.status(), 410);
    assert!(!has_session(&browser).await);
    assert_eq!(browser.get(&link).await.status(), 410);
}

async fn an_unknown_address_gets_the_same_page_and_no_mail(backend: Backend) {
    const UNKNOWN: &str = "nobody@example.com";
    let f = fixture(backend, |_| {}).await;
    let browser = Browser::new(&f.server);

    let known = ask_for_link(&browser, None, EMAIL).await;
    let unknown = ask_for_link(&browser, None, UNKNOWN).await;
    assert_eq!(known.status(), 200);
    assert_eq!(unknown.status(), known.status());
    let known = known.text().await.unwrap().replace(EMAIL, "ADDRESS");
    let unknown = unknown.text().await.unwrap().replace(UNKNOWN, "ADDRESS");
    assert_eq!(unknown, known);

    mailed_link(&f, EMAIL).await;
    assert_eq!(mails_to(&f, UNKNOWN).await, 0, "no mail to an unknown address");
}

async fn an_address_gets_no_more_links_from_one_network_than_its_limit(backend: Backend) {
    let f = fixture(backend, |config| config.sign_in_links_per_address = 2).await;
    let browser = Browser::new(&f.server);
    ask_ok(&browser, None, EMAIL).await;
    mailed_link(&f, EMAIL).await;
    ask_ok(&browser, None, EMAIL).await;
    mailed_link(&f, EMAIL).await;

    let third = ask_for_link(&browser, None, EMAIL).await;
    assert_eq!(third.status(), 429, "told, not left waiting for a mail");
    assert!(third.text().await.unwrap().contains("Too many sign-in links"));
    let unknown = ask_for_link(&browser, None, "nobody@example.com").await;
    assert_eq!(unknown.status(), 200, "counted per address");
    assert_eq!(mails_to(&f, EMAIL).await, 2, "no third mail");
}

async fn the_owner_gets_a_link_from_another_network_after_an_attacker_used_up_theirs(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let attacker = Browser::from_address(&f.server, "127.0.1.1");
    let limits = &f.server.state.config;
    for _ in 0..limits.login_failures_per_account {
        assert_eq!(attacker.sign_in(None, EMAIL, "a guess").await.status(), 401);
    }
    assert_eq!(
        attacker.sign_in(None, EMAIL, PASSWORD).await.status(),
        429,
        "the password is locked"
    );
    for _ in 0..limits.sign_in_links_per_address {
        ask_ok(&attacker, None, EMAIL).await;
        mailed_link(&f, EMAIL).await;
    }
    assert_eq!(ask_for_link(&attacker, None, EMAIL).await.status(), 429);

    let owner = Browser::from_address(&f.server, "127.0.2.1");
    let signed_in = sign_in_by_link(&f, &owner, None).await;
    assert_eq!(
        signed_in.status(),
        303,
        "the link signs in despite the password lock"
    );
    assert!(has_session(&owner).await);
}

async fn a_network_gets_no_more_links_than_its_limit(backend: Backend) {
    let f = fixture(backend, |config| config.sign_in_links_per_ip = 3).await;
    let browser = Browser::new(&f.server);
    for n in 1..=3 {
        ask_ok(&browser, None, &format!("someone{n}@example.com")).await;
    }

    let refused = ask_for_link(&browser, None, EMAIL).await;
    assert_eq!(refused.status(), 429);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many sign-in links"), "{html}");
    assert_eq!(mails_to(&f, EMAIL).await, 0);
}

async fn with_sign_up_on_a_link_creates_a_verified_account(backend: Backend) {
    const NEWCOMER: &str = "newcomer@example.com";
    let f = fixture(backend, |config| config.allow_signup = true).await;
    let browser = Browser::new(&f.server);
    ask_ok(&browser, None, NEWCOMER).await;
    assert!(find_user(&f, NEWCOMER).await.is_none(), "asking creates nothing");

    let (mail, link) = mailed_link(&f, NEWCOMER).await;
    assert_eq!(mail.subject, "Finish creating your Usher account");
    let page = open_link(&browser, &link).await;
    assert!(find_user(&f, NEWCOMER).await.is_none(), "opening creates nothing");
    let signed_in = press_button(&browser, &page).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/account");

    let account = browser.get("/account").await;
    assert_eq!(account.status(), 200, "signed in");
    assert!(account.text().await.unwrap().contains(NEWCOMER));
    let user = find_user(&f, NEWCOMER).await.expect("the account was created");
    assert!(user.email_verified);
    assert!(user.password_hash.is_none());
    assert!(user.is_enabled());
}

/// Posts the sign-up form for `email`, with a password field too, as a form of an older page
/// (or an attacker) might.
async fn sign_up(browser: &Browser, email: &str) -> reqwest::Response {
    let html = browser.get("/signup").await.text().await.unwrap();
    browser
        .post(
            "/signup",
            &[
                ("csrf", &hidden_field(&html, "csrf")),
                ("request", ""),
                ("email", email),
                ("password", "the attacker's password"),
            ],
        )
        .await
}

async fn sign_up_mails_a_link_and_creates_the_account_only_when_it_is_used(backend: Backend) {
    const NEWCOMER: &str = "newcomer@example.com";
    let f = fixture(backend, |config| config.allow_signup = true).await;
    let browser = Browser::new(&f.server);
    let answer = sign_up(&browser, NEWCOMER).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("Check your email"));
    assert!(
        find_user(&f, NEWCOMER).await.is_none(),
        "no account before the address is proven"
    );
    assert!(!has_session(&browser).await);

    let (mail, link) = mailed_link(&f, NEWCOMER).await;
    assert_eq!(mail.subject, "Finish creating your Usher account");
    let signed_in = press_button(&browser, &open_link(&browser, &link).await).await;
    assert_eq!(signed_in.status(), 303);
    let user = find_user(&f, NEWCOMER).await.expect("the account was created");
    assert!(user.email_verified);
}

async fn signing_up_for_someone_elses_address_holds_nothing(backend: Backend) {
    const VICTIM: &str = "victim@example.com";
    let f = fixture(backend, |config| config.allow_signup = true).await;
    let attacker = Browser::new(&f.server);
    sign_up(&attacker, VICTIM).await;
    assert!(
        !has_session(&attacker).await,
        "the attacker is signed in to nothing"
    );

    let victim = Browser::new(&f.server);
    let (_, link) = mailed_link(&f, VICTIM).await;
    press_button(&victim, &open_link(&victim, &link).await).await;
    let user = find_user(&f, VICTIM).await.expect("the owner's account");
    assert!(user.password_hash.is_none(), "no password chosen by anyone else");
    let guessed = attacker.sign_in(None, VICTIM, "the attacker's password").await;
    assert_eq!(guessed.status(), 401);
    assert!(!has_session(&attacker).await);
}

async fn sign_up_answers_the_same_whether_or_not_the_address_has_an_account(backend: Backend) {
    const NEWCOMER: &str = "newcomer@example.com";
    let f = fixture(backend, |config| config.allow_signup = true).await;
    let browser = Browser::new(&f.server);
    let taken = sign_up(&browser, EMAIL).await;
    let free = sign_up(&browser, NEWCOMER).await;
    assert_eq!((taken.status(), free.status()), (free.status(), free.status()));
    let taken = taken.text().await.unwrap().replace(EMAIL, "ADDRESS");
    let free = free.text().await.unwrap().replace(NEWCOMER, "ADDRESS");
    assert_eq!(taken, free);
    let (mail, _) = mailed_link(&f, EMAIL).await;
    assert_ne!(
        mail.subject, "Finish creating your Usher account",
        "the owner gets a sign-in link"
    );
}

async fn sign_up_counts_against_the_networks_link_limit(backend: Backend) {
    let f = fixture(backend, |config| {
        config.allow_signup = true;
        config.sign_in_links_per_ip = 3;
    })
    .await;
    let browser = Browser::new(&f.server);
    for n in 1..=3 {
        assert_eq!(
            sign_up(&browser, &format!("someone{n}@example.com"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(sign_up(&browser, "one-more@example.com").await.status(), 429);
}

async fn a_person_with_two_step_sign_in_gets_the_code_page_after_the_link(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let app: CreatedClient = f.server.create_client(flow::first_party_app()).await;
    let secret = enrol_totp(&f).await;
    // The next 30-second step, so the code is not a replay of the enrolment's.
    f.server.state.clock.advance(30);

    let browser = Browser::new(&f.server);
    let (verifier, login) = authorize(&browser, &app).await;
    let answer = sign_in_by_link(&f, &browser, Some(&login)).await;
    assert_eq!(answer.status(), 200, "the code page, not a session");
    let page = answer.text().await.unwrap();
    assert!(
        page.contains("Enter the code from your authenticator app"),
        "{page}"
    );
    assert!(!has_session(&browser).await, "the link alone signs no one in");

    let answer = browser
        .post(
            "/login/code",
            &[
                ("csrf", &hidden_field(&page, "csrf")),
                ("request", &hidden_field(&page, "request")),
                ("code", &code_at(&secret, now(&f))),
            ],
        )
        .await;
    let claims = id_token_claims(&f, &browser, &app, answer, &verifier).await;
    assert_eq!(claims["amr"], json!(["email", "otp", "mfa"]));
}

async fn after_a_link_a_new_password_can_be_set_and_other_devices_are_signed_out(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let other = Browser::new(&f.server);
    assert_eq!(other.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    assert!(has_session(&other).await);

    let browser = Browser::new(&f.server);
    assert_eq!(sign_in_by_link(&f, &browser, None).await.status(), 303);
    let csrf = account_csrf(&browser).await;
    let saved = browser
        .post(
            "/account/password",
            &[("csrf", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/account?done=password");
    assert!(has_session(&browser).await, "this device stays signed in");
    assert!(!has_session(&other).await, "the other device is signed out");

    let fresh = Browser::new(&f.server);
    assert_eq!(fresh.sign_in(None, EMAIL, NEW_PASSWORD).await.status(), 303);
    let stale = Browser::new(&f.server);
    assert_eq!(stale.sign_in(None, EMAIL, PASSWORD).await.status(), 401);

    let notice = f.smtp.next_mail_to(EMAIL).await;
    assert!(
        notice.text.contains("The password of your account was changed."),
        "{}",
        notice.text
    );
}

async fn a_password_cannot_be_set_sixteen_minutes_after_signing_in(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = Browser::new(&f.server);
    assert_eq!(sign_in_by_link(&f, &browser, None).await.status(), 303);
    let csrf = account_csrf(&browser).await;

    f.server.state.clock.advance(16 * 60);
    let refused = browser
        .post(
            "/account/password",
            &[("csrf", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("Sign in again first"));

    let answer = Browser::new(&f.server).sign_in(None, EMAIL, PASSWORD).await;
    assert_eq!(answer.status(), 303, "the old password still works");
    let wrong = Browser::new(&f.server).sign_in(None, EMAIL, NEW_PASSWORD).await;
    assert_eq!(wrong.status(), 401);
}

async fn a_disabled_account_gets_no_mail(backend: Backend) {
    use usher::foundation::store::schema::users as table;

    let f = fixture(backend, |_| {}).await;
    let disabled_at = now(&f);
    f.server
        .state
        .store
        .run::<_, StoreError, _>(move |conn| {
            diesel::update(table::table.filter(table::email.eq(EMAIL)))
                .set(table::disabled_at.eq(Some(disabled_at)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(!find_user(&f, EMAIL).await.unwrap().is_enabled());

    let browser = Browser::new(&f.server);
    let answer = ask_ok(&browser, None, EMAIL).await;
    assert!(answer.contains(EMAIL));
    assert_eq!(mails_to(&f, EMAIL).await, 0);
}

/// Saves `tag` as [`EMAIL`]'s language (`None`: none saved), as the selector does for a
/// signed-in person.
async fn save_language(f: &Fixture, tag: Option<&'static str>) {
    use usher::foundation::store::schema::users as table;

    f.server
        .state
        .store
        .run::<_, StoreError, _>(move |conn| {
            diesel::update(table::table.filter(table::email.eq(EMAIL)))
                .set(table::locale.eq(tag))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// A signed-out browser whose pages speak `tag`, chosen with the language links.
async fn browser_speaking(f: &Fixture, tag: &str) -> Browser {
    let browser = Browser::new(&f.server);
    browser.get(&format!("/language?set={tag}&return_to=%2F")).await;
    browser
}

/// Asks for a link to `email` from the plain login page, in whatever language it speaks.
async fn ask_in_any_language(browser: &Browser, email: &str) {
    let answer = ask_for_link(browser, None, email).await;
    assert_eq!(answer.status(), 200, "the link request for {email}");
}

fn assert_urdu(mail: &ReceivedMail) {
    assert!(
        mail.html.contains("<html lang=\"ur\" dir=\"rtl\">"),
        "{}",
        mail.html
    );
    assert!(mail.subject.contains("سائن اِن لنک"), "{}", mail.subject);
    assert!(!mail.text.contains("mail-"), "{}", mail.text);
}

fn assert_english(mail: &ReceivedMail) {
    assert!(
        mail.html.contains("<html lang=\"en\" dir=\"ltr\">"),
        "{}",
        mail.html
    );
    assert_eq!(mail.subject, "Your sign-in link for Usher");
}

async fn the_link_mail_speaks_the_language_of_the_page_it_was_asked_on(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = browser_speaking(&f, "ur").await;
    ask_in_any_language(&browser, EMAIL).await;
    let (mail, link) = mailed_link(&f, EMAIL).await;
    assert_urdu(&mail);
    assert!(
        mail.text.contains("سائن اِن کرنے کے لیے یہ لنک کھولیں"),
        "{}",
        mail.text
    );
    open_link(&Browser::new(&f.server), &link).await;
}

async fn the_apps_ui_locales_choose_the_link_mails_language(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let app: CreatedClient = f.server.create_client(flow::first_party_app()).await;
    let browser = browser_speaking(&f, "en").await;
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("ui_locales", "ur")
        .finish();
    let login = browser
        .get(&format!("/oauth/authorize?{query}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("<html lang=\"ur\" dir=\"rtl\">"),
        "the login page is in Urdu"
    );

    let answer = ask_for_link(&browser, Some(&login), EMAIL).await;
    assert_eq!(answer.status(), 200);
    let (mail, _) = mailed_link(&f, EMAIL).await;
    assert_urdu(&mail);
    assert!(mail.text.contains("\u{2068}Streamly\u{2069}"), "{}", mail.text);
}

async fn the_recipients_saved_language_wins_over_the_pages(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    save_language(&f, Some("ur")).await;
    ask_in_any_language(&browser_speaking(&f, "en").await, EMAIL).await;
    let (mail, _) = mailed_link(&f, EMAIL).await;
    assert_urdu(&mail);

    save_language(&f, Some("en")).await;
    ask_in_any_language(&browser_speaking(&f, "ur").await, EMAIL).await;
    let (mail, _) = mailed_link(&f, EMAIL).await;
    assert_english(&mail);
}

async fn without_a_page_language_the_mail_speaks_the_default_locale(backend: Backend) {
    let f = fixture(backend, |config| config.default_locale = "ur".into()).await;
    ask_in_any_language(&Browser::new(&f.server), EMAIL).await;
    let (mail, _) = mailed_link(&f, EMAIL).await;
    assert_urdu(&mail);
}

async fn a_security_notice_speaks_the_saved_language_else_the_pages(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = browser_speaking(&f, "ur").await;
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let change_password = async |password: &str| {
        let csrf = account_csrf(&browser).await;
        let saved = browser
            .post("/account/password", &[("csrf", &csrf), ("password", password)])
            .await;
        assert_eq!(saved.status(), 303);
        f.smtp.next_mail_to(EMAIL).await
    };

    let notice = change_password(NEW_PASSWORD).await;
    assert!(
        notice.html.contains("<html lang=\"ur\" dir=\"rtl\">"),
        "{}",
        notice.html
    );
    assert!(
        notice.text.contains("آپ کے اکاؤنٹ کا پاس ورڈ بدل دیا گیا ہے۔"),
        "{}",
        notice.text
    );

    save_language(&f, Some("en")).await;
    let notice = change_password("yet another passphrase").await;
    assert!(
        notice.html.contains("<html lang=\"en\" dir=\"ltr\">"),
        "{}",
        notice.html
    );
    assert!(notice.text.contains("The password of your account was changed."));
}

async fn a_security_notice_tells_the_time_in_the_recipients_zone_and_language(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let browser = browser_speaking(&f, "ur").await;
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let csrf = account_csrf(&browser).await;
    let chosen = browser
        .post(
            "/account/time-zone",
            &[("csrf", &csrf), ("time_zone", "Asia/Karachi")],
        )
        .await;
    assert_eq!(chosen.status(), 303);
    let csrf = account_csrf(&browser).await;
    let saved = browser
        .post(
            "/account/password",
            &[("csrf", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let notice = f.smtp.next_mail_to(EMAIL).await;
    let when = notice
        .text
        .lines()
        .find(|line| line.starts_with("کب:"))
        .unwrap_or_else(|| panic!("a time: {}", notice.text))
        .to_owned();
    assert!(
        when.contains("GMT \u{200e}+5"),
        "Karachi's offset, as Urdu writes it: {when}"
    );
    assert!(!when.contains("UTC"), "{when}");
}

on_both_backends!(
    the_link_continues_the_apps_request_and_the_id_token_says_email,
    opening_the_link_does_not_spend_it_but_the_button_does,
    a_link_used_after_ten_minutes_is_gone,
    an_unknown_address_gets_the_same_page_and_no_mail,
    an_address_gets_no_more_links_from_one_network_than_its_limit,
    the_owner_gets_a_link_from_another_network_after_an_attacker_used_up_theirs,
    a_network_gets_no_more_links_than_its_limit,
    with_sign_up_on_a_link_creates_a_verified_account,
    sign_up_mails_a_link_and_creates_the_account_only_when_it_is_used,
    signing_up_for_someone_elses_address_holds_nothing,
    sign_up_answers_the_same_whether_or_not_the_address_has_an_account,
    sign_up_counts_against_the_networks_link_limit,
    a_person_with_two_step_sign_in_gets_the_code_page_after_the_link,
    after_a_link_a_new_password_can_be_set_and_other_devices_are_signed_out,
    a_password_cannot_be_set_sixteen_minutes_after_signing_in,
    a_disabled_account_gets_no_mail,
    the_link_mail_speaks_the_language_of_the_page_it_was_asked_on,
    the_apps_ui_locales_choose_the_link_mails_language,
    the_recipients_saved_language_wins_over_the_pages,
    without_a_page_language_the_mail_speaks_the_default_locale,
    a_security_notice_speaks_the_saved_language_else_the_pages,
    a_security_notice_tells_the_time_in_the_recipients_zone_and_language,
);
