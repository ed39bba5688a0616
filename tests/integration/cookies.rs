//! The cookies that hold a browser's session and its forms' CSRF binding: named with the
//! `__Host-` prefix over https (no sibling subdomain can set them), and a form's token bound
//! to the browser's session, so a token and cookie planted from elsewhere are refused.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use reqwest::cookie::{CookieStore, Jar};
use usher::foundation::clock::Clock;

const VICTIM: &str = "victim@example.com";
const ATTACKER: &str = "attacker@example.com";

/// A browser whose cookies the test can read and plant.
fn browser_with_jar(server: &TestServer, builder: reqwest::ClientBuilder) -> (Browser, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let http = builder
        .cookie_provider(Arc::clone(&jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let browser = Browser {
        http,
        base: server.url.clone(),
    };
    (browser, jar)
}

/// The value of the cookie `name` that `jar` sends to `server`.
fn cookie(jar: &Jar, server: &TestServer, name: &str) -> String {
    let url = server.url.parse().unwrap();
    let header = jar.cookies(&url).expect("cookies");
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} in {header:?}"))
        .to_owned()
}

async fn account_csrf(browser: &Browser) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 200);
    hidden_field(&page.text().await.unwrap(), "csrf")
}

async fn a_csrf_token_from_another_browser_session_is_refused_even_with_its_cookie_planted(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, VICTIM).await;
    flow::create_user(&server, ATTACKER).await;

    let (attacker, attacker_jar) = browser_with_jar(&server, reqwest::Client::builder());
    assert_eq!(attacker.sign_in(None, ATTACKER, PASSWORD).await.status(), 303);
    let attacker_token = account_csrf(&attacker).await;
    let attacker_cookie = cookie(&attacker_jar, &server, "usher_csrf");

    let (victim, victim_jar) = browser_with_jar(&server, reqwest::Client::builder());
    assert_eq!(victim.sign_in(None, VICTIM, PASSWORD).await.status(), 303);
    // What a sibling subdomain can do over http: set the victim's CSRF cookie to its own.
    victim_jar.add_cookie_str(
        &format!("usher_csrf={attacker_cookie}; Path=/"),
        &server.url.parse().unwrap(),
    );
    let forged = victim
        .post(
            "/account/profile",
            &[("csrf", attacker_token.as_str()), ("name", "Mallory")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("This form expired"));
    let page = victim.get("/account").await.text().await.unwrap();
    assert!(!page.contains("Mallory"), "nothing changed");
}

async fn a_browser_sessions_own_token_is_accepted(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, VICTIM).await;
    let (browser, _) = browser_with_jar(&server, reqwest::Client::builder());
    assert_eq!(browser.sign_in(None, VICTIM, PASSWORD).await.status(), 303);
    let token = account_csrf(&browser).await;
    let changed = browser
        .post("/account/profile", &[("csrf", token.as_str()), ("name", "Grace")])
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(location(&changed), "/account?done=name");
}

/// Every `Set-Cookie` of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

fn the_cookie_named<'a>(set_cookies: &'a [String], name: &str) -> &'a str {
    set_cookies
        .iter()
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} set: {set_cookies:?}"))
}

/// What the `__Host-` prefix demands of a cookie (RFC 6265bis §4.1.3.2).
fn assert_host_prefix_rules(cookie: &str) {
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(
        cookie.contains("Path=/;") || cookie.ends_with("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
}

async fn over_https_the_session_and_csrf_cookies_carry_the_host_prefix(backend: Backend) {
    let db = TestDb::new(backend);
    let (config, tls) = db.tls_config();
    let server = TestServer::start_with(config, Clock::System).await;
    flow::create_user(&server, VICTIM).await;
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap());
    let (browser, _) = browser_with_jar(&server, trusting);

    let login = browser.get("/login").await;
    let csrf_cookie = set_cookies(&login);
    assert_host_prefix_rules(the_cookie_named(&csrf_cookie, "__Host-usher_csrf"));

    let signed_in = browser
        .sign_in(Some(&login.text().await.unwrap()), VICTIM, PASSWORD)
        .await;
    assert_eq!(signed_in.status(), 303);
    let session_cookie = set_cookies(&signed_in);
    assert_host_prefix_rules(the_cookie_named(&session_cookie, "__Host-usher_session"));

    let token = account_csrf(&browser).await;
    let changed = browser
        .post("/account/profile", &[("csrf", token.as_str()), ("name", "Grace")])
        .await;
    assert_eq!(changed.status(), 303, "the prefixed cookies are read back");
}

async fn over_http_the_cookies_keep_their_plain_names(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, VICTIM).await;
    let (browser, _) = browser_with_jar(&server, reqwest::Client::builder());

    let login = browser.get("/login").await;
    let csrf_cookie = set_cookies(&login);
    assert!(!the_cookie_named(&csrf_cookie, "usher_csrf").contains("Secure"));
    let signed_in = browser
        .sign_in(Some(&login.text().await.unwrap()), VICTIM, PASSWORD)
        .await;
    the_cookie_named(&set_cookies(&signed_in), "usher_session");
}

on_both_backends!(
    a_csrf_token_from_another_browser_session_is_refused_even_with_its_cookie_planted,
    a_browser_sessions_own_token_is_accepted,
    over_https_the_session_and_csrf_cookies_carry_the_host_prefix,
    over_http_the_cookies_keep_their_plain_names,
);
