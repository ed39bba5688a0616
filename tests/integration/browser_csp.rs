//! The pages' Content Security Policy in headless Chromium: every kind of page (sign-in, account,
//! two-step setup with its QR code, device, error, each dashboard page on demo data with its
//! charts) is styled, and the browser reports no violation. The policy allows the one
//! `<style>` block by its hash, so a stylesheet changed without its hash, a `style="…"`
//! attribute in a template or an SVG chart, or a second `<style>` block shows up here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::browser::{Browser, Page};
use common::flow::PASSWORD;
use common::{Backend, TestDb, TestServer};
use serde_json::{Value, json};
use usher::domain::identity::session;
use usher::foundation::store::users;

/// Records every `securitypolicyviolation` of every document the page opens.
const RECORD_VIOLATIONS: &str = "window.__violations = []; \
    document.addEventListener('securitypolicyviolation', (e) => \
    window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.target.nodeName}`));";

/// The violations of the current document, once queued events have run.
async fn violations(page: &Page) -> Value {
    page.eval("new Promise((done) => setTimeout(() => done(window.__violations), 100))")
        .await
}

/// Opens `url` and checks that the stylesheet applies and nothing was blocked.
async fn assert_styled_without_violations(page: &Page, url: &str) {
    page.goto(url).await;
    let styled = page
        .eval("getComputedStyle(document.querySelector('main')).maxWidth !== 'none'")
        .await;
    assert_eq!(styled, json!(true), "{url}: the stylesheet applies");
    assert_eq!(violations(page).await, json!([]), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_styled_and_nothing_breaks_their_content_security_policy() {
    let db = TestDb::new(Backend::Sqlite);
    let config = usher::foundation::config::Config {
        allow_signup: true,
        ..db.config()
    };
    let server = TestServer::start_with(config, usher::foundation::clock::Clock::System).await;
    let state = server.state.clone();
    tokio::task::spawn_blocking(move || {
        let options = usher::app::demo::Options {
            people: 20,
            admin_password: Some(PASSWORD.into()),
            session_max_secs: state.config.session_max_secs,
        };
        usher::app::demo::seed(&state.store, &state.clock, options)
    })
    .await
    .unwrap()
    .unwrap();
    // The demo's administrator, signed in with two factors as after a passkey sign-in.
    let (state, now) = (server.state.clone(), server.state.clock.now());
    let session_token = server
        .state
        .store
        .run(move |conn| {
            let user = users::find_by_email(conn, usher::app::demo::ADMIN_EMAIL)?.unwrap();
            let amr = vec!["hwk".to_owned(), "user".to_owned(), "mfa".to_owned()];
            let session::Started::SignedIn { token, .. } =
                session::start(&state, conn, &user, amr, "tests", None, now)?
            else {
                unreachable!("a person without a tier has no device limit")
            };
            Ok::<_, usher::foundation::store::StoreError>(token)
        })
        .await
        .unwrap();

    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": RECORD_VIOLATIONS }),
    )
    .await;

    for path in ["/", "/login", "/signup", "/oauth/authorize?client_id=nobody"] {
        assert_styled_without_violations(&page, &server.endpoint(path)).await;
    }

    let set = page
        .command(
            "Network.setCookie",
            json!({
                "name": usher::web::session_cookie::COOKIE, "value": session_token, "url": server.url,
                "path": "/", "httpOnly": true, "secure": false,
            }),
        )
        .await;
    assert_eq!(set["success"], json!(true), "{set}");
    for path in [
        "/account",
        "/device",
        "/admin",
        "/admin/tiers",
        "/admin/products",
        "/admin/people",
        "/admin/apps",
        "/admin/keys",
        "/admin/audit",
    ] {
        assert_styled_without_violations(&page, &server.endpoint(path)).await;
    }

    // The overview's charts take their size and segment outlines from the stylesheet.
    page.goto(&server.endpoint("/admin")).await;
    let charts = page
        .eval(
            "({ widths: [...new Set([...document.querySelectorAll('.chart svg')].map((svg) => getComputedStyle(svg).maxWidth))], \
             outline: getComputedStyle(document.querySelector('.chart .column rect')).stroke })",
        )
        .await;
    assert_eq!(
        charts,
        json!({ "widths": ["448px"], "outline": "rgb(255, 255, 255)" }),
        "charts no wider than 28rem, stacked segments outlined in the card's colour"
    );
    page.eval("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        .await;
    assert_eq!(violations(&page).await, json!([]), "the overview's tables");

    // Two-step sign-in setup: its QR code is inline SVG.
    page.goto(&server.endpoint("/account")).await;
    page.click_and_wait("form[action='/account/totp/start'] button")
        .await;
    assert!(page.html().await.contains("<svg"), "a QR code");
    assert_eq!(violations(&page).await, json!([]), "the two-step setup page");

    // The device QR code, an SVG document of its own.
    page.goto(&server.endpoint("/device/qr?user_code=BCDF-GHJK"))
        .await;
    assert_eq!(violations(&page).await, json!([]), "the device QR code");

    // The check itself works: an injected style block and a style attribute are blocked.
    page.goto(&server.endpoint("/login")).await;
    page.eval(
        "document.head.append(Object.assign(document.createElement('style'), { textContent: 'p { color: red }' })); \
         document.querySelector('h1').setAttribute('style', 'color: red')",
    )
    .await;
    let blocked = violations(&page).await;
    assert_eq!(blocked.as_array().map(Vec::len), Some(2), "{blocked}");
    assert!(
        blocked
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_str().unwrap().starts_with("style-src")),
        "{blocked}"
    );

    drop(page);
    drop(browser);
    server.stop().await;
}
