//! The admin dashboard in headless Chromium: an administrator signs in with a passkey,
//! creates a tier and a pay-per-view product, gives both to a person, and that person's next
//! token and introspection carry them. With `USHER_SCREENSHOTS` set, every dashboard page is
//! also photographed at desktop and phone widths, on demo data.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::browser::{Browser, Page};
use common::flow::{self, PASSWORD};
use common::{Backend, TestDb, TestServer};
use serde_json::{Value, json};
use usher::domain::identity::users::{NewUser, create};

const ADMIN: &str = "admin@example.com";
const VIEWER: &str = "viewer@example.com";

async fn add_authenticator(page: &Page) {
    page.command("WebAuthn.enable", json!({})).await;
    page.command(
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
        }}),
    )
    .await;
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "PublicKeyCredential.isConditionalMediationAvailable = async () => false;" }),
    )
    .await;
}

async fn create_admin(server: &TestServer) {
    let now = server.state.clock.now();
    server
        .state
        .store
        .run(move |conn| {
            create(
                conn,
                NewUser {
                    email: ADMIN.into(),
                    name: Some("Grace Hopper".into()),
                    password: Some(PASSWORD.into()),
                    admin: true,
                },
                now,
            )
        })
        .await
        .unwrap();
}

/// The administrator's first sign-in: the password, then the passkey Usher insists on; then
/// the dashboard, which asks for a sign-in with two factors: the passkey.
async fn sign_in_to_the_dashboard(server: &TestServer, page: &Page) {
    page.goto(&server.endpoint("/login")).await;
    page.fill("#email", ADMIN).await;
    page.fill("#password", PASSWORD).await;
    page.click_and_wait("button.primary").await;
    assert_eq!(page.text("h1").await, "Add a second factor");
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click_and_wait("[data-passkey-start]").await;

    page.goto(&server.endpoint("/admin")).await;
    assert_eq!(
        page.text("h1").await,
        "Sign in",
        "one factor is not enough for the dashboard"
    );
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    page.click_and_wait("[data-passkey-start]").await;
    assert!(page.url().await.ends_with("/admin"), "{}", page.url().await);
}

fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn an_admin_signs_in_with_a_passkey_and_gives_a_person_a_tier_and_a_product(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    create_admin(&server).await;
    let person_id = flow::create_user(&server, VIEWER).await;
    let app = server.create_client(flow::first_party_app()).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    add_authenticator(&page).await;
    sign_in_to_the_dashboard(&server, &page).await;

    page.goto(&server.endpoint("/admin/tiers")).await;
    page.fill("#tier-slug", "gold").await;
    page.fill("#tier-name", "Gold").await;
    page.fill("#tier-rank", "30").await;
    page.fill("#tier-streams", "4").await;
    page.fill("#tier-features", "hd, 4k").await;
    page.click_and_wait("form[action='/admin/tiers'] button").await;
    assert!(page.text("[role=status]").await.contains("The tier was created."));

    page.goto(&server.endpoint("/admin/products")).await;
    page.fill("#product-slug", "final-2026").await;
    page.fill("#product-title", "Championship Final").await;
    page.fill("#product-rental", "48").await;
    page.click_and_wait("form[action='/admin/products'] button").await;
    assert!(
        page.text("[role=status]")
            .await
            .contains("The product was created.")
    );

    page.goto(&server.endpoint("/admin/people?email=viewer")).await;
    page.click_and_wait(&format!("a[href='/admin/people/{person_id}']"))
        .await;
    assert_eq!(page.text("h1").await, VIEWER);
    page.eval("document.querySelector('#sub-tier').value = 'gold'")
        .await;
    page.click_and_wait(&format!(
        "form[action='/admin/people/{person_id}/subscription'] button"
    ))
    .await;
    assert!(
        page.text("[role=status]")
            .await
            .contains("The subscription was saved.")
    );
    page.eval("document.querySelector('#grant-product').value = 'final-2026'")
        .await;
    page.click_and_wait(&format!("form[action='/admin/people/{person_id}/grants'] button"))
        .await;
    assert!(
        page.text("[role=status]")
            .await
            .contains("The pay-per-view product was granted.")
    );

    let tokens = flow::person_tokens(&server, &app, VIEWER, "openid entitlements").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(access_token);
    assert_eq!(claims["tier"], "gold");
    assert_eq!(claims["ppv"], json!(["final-2026"]));
    let service = server.service_client(&[]).await;
    let introspected = common::introspect(&server, &service, access_token).await;
    assert_eq!(introspected["tier"], "gold");
    assert_eq!(introspected["features"], json!(["hd", "4k"]));
    assert_eq!(introspected["ppv"], json!(["final-2026"]));

    drop(page);
    drop(browser);
}

on_both_backends!(an_admin_signs_in_with_a_passkey_and_gives_a_person_a_tier_and_a_product);

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("USHER_SCREENSHOTS").map(PathBuf::from)
}

/// Every dashboard page at desktop and phone widths, each checked for one heading, labelled
/// fields, no sideways scrolling and an Apps table no wider than its card, on demo data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_pages_are_readable_at_desktop_and_phone_widths() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start(&db).await;
    create_admin(&server).await;
    let state = server.state.clone();
    tokio::task::spawn_blocking(move || {
        let options = usher::app::demo::Options {
            people: 120,
            admin_password: Some(PASSWORD.into()),
            session_max_secs: state.config.session_max_secs,
        };
        usher::app::demo::seed(&state.store, &state.clock, options)
    })
    .await
    .unwrap()
    .unwrap();
    // A person with a subscription and a purchase, for a page worth looking at.
    let person = server
        .state
        .store
        .run(|conn| {
            for number in 1..=120 {
                let email = format!("person{number:04}@example.com");
                let Some(person) = usher::foundation::store::users::find_by_email(conn, &email)? else {
                    continue;
                };
                let subscribed =
                    usher::foundation::store::entitlements::find_subscription(conn, &person.id)?.is_some();
                if subscribed
                    && !usher::foundation::store::entitlements::list_grants(conn, &person.id)?.is_empty()
                {
                    return Ok::<_, usher::foundation::store::StoreError>(Some(person));
                }
            }
            Ok(None)
        })
        .await
        .unwrap()
        .expect("a demo person with a subscription and a grant");
    // Something playing for the person on a device with a long name, and a day of counts for
    // the overview's chart.
    let (person_id, now) = (person.id.clone(), server.state.clock.now());
    server
        .state
        .store
        .run(move |conn| {
            use diesel::RunQueryDsl;
            use usher::foundation::store::{StoreError, schema, streams, transaction};
            transaction(conn, |conn| {
                let stream = streams::Stream {
                    id: "demo-stream".into(),
                    account_id: person_id.clone(),
                    viewer_id: person_id,
                    client_id: "content-service".into(),
                    device_id: "living-room-tv-samsung-qe65q80-firmware-1402".into(),
                    content: Some("Championship Final, live from the arena".into()),
                    started_at: now - 600,
                    expires_at: now + 90,
                };
                diesel::insert_into(schema::streams::table)
                    .values(&stream)
                    .execute(conn)
                    .map_err(StoreError::Query)?;
                for minutes_ago in 1..1_440 {
                    let hour = minutes_ago / 60;
                    streams::record_sample(conn, now - now % 60 - minutes_ago * 60, 3 + hour * 7 % 13)?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .await
        .unwrap();
    // Apps with long names, codes and addresses, as the Apps table must fit them.
    for name in ["Streamly for living-room TVs", "Content service"] {
        server
            .create_client(usher::domain::oauth::clients::NewClient {
                name: name.into(),
                redirect_uris: vec![
                    "https://tv.streamly.example/oauth/callback/after-sign-in".into(),
                    "com.streamly.example.tvapp:/oauth2redirect/streamly".into(),
                ],
                grant_types: vec![
                    "authorization_code".into(),
                    "refresh_token".into(),
                    "urn:ietf:params:oauth:grant-type:device_code".into(),
                ],
                first_party: true,
                ..usher::domain::oauth::clients::NewClient::default()
            })
            .await;
    }
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    add_authenticator(&page).await;
    sign_in_to_the_dashboard(&server, &page).await;

    let pages = [
        ("admin-overview", "/admin".to_owned()),
        ("admin-tiers", "/admin/tiers".to_owned()),
        ("admin-tier", "/admin/tiers/premium".to_owned()),
        ("admin-products", "/admin/products".to_owned()),
        ("admin-people", "/admin/people".to_owned()),
        ("admin-person", format!("/admin/people/{}", person.id)),
        ("admin-apps", "/admin/apps".to_owned()),
        ("admin-keys", "/admin/keys".to_owned()),
        ("admin-audit", "/admin/audit".to_owned()),
    ];
    for (name, path) in &pages {
        for (viewport, width, height, mobile) in [("desktop", 1280, 800, false), ("phone", 390, 844, true)] {
            page.set_viewport(width, height, mobile).await;
            page.goto(&server.endpoint(path)).await;
            let report = page
                .eval(
                    "(() => ({ h1: document.querySelectorAll('h1').length, \
                     unlabelled: [...document.querySelectorAll('input:not([type=hidden]),select')] \
                       .filter((i) => !i.hidden && i.labels.length === 0 && !i.getAttribute('aria-label')).map((i) => i.name), \
                     overflow: document.documentElement.scrollWidth > window.innerWidth, \
                     table_wider_than_card: [...document.querySelectorAll('.table-wrap')] \
                       .some((wrap) => wrap.scrollWidth > wrap.clientWidth) }))()",
                )
                .await;
            assert_eq!(report["h1"], 1, "{name} at {viewport}: {report}");
            assert_eq!(report["unlabelled"], json!([]), "{name} at {viewport}: {report}");
            assert_eq!(report["overflow"], false, "{name} at {viewport}: {report}");
            // Other tables may scroll inside their card on a phone; the Apps table never does.
            if *name == "admin-apps" {
                assert_eq!(
                    report["table_wider_than_card"], false,
                    "{name} at {viewport}: {report}"
                );
            }
            if let Some(dir) = screenshot_dir() {
                page.screenshot(dir.join(format!("{name}-{viewport}.png"))).await;
            }
        }
    }
    drop(page);
    drop(browser);
}
