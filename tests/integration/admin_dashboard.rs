//! Who gets into the admin dashboard, and what its forms do, over HTTP against the real
//! server: administrators signed in with two factors within the hour get in; everyone else
//! signs in first or gets 403, on every page and every form; forms without their CSRF token
//! are refused; and a tier and a product given here show in the person's next token and in
//! introspection. (`browser_admin.rs` does the same in Chromium, signing in with a passkey.)
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::entitlements::manage::Actor;
use usher::domain::identity::session;
use usher::domain::identity::users::{NewUser, create};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::store::streams as stream_store;
use usher::foundation::store::users;

const START: i64 = 1_795_000_000;

/// Every dashboard page (GET) and form (POST), with sample path parameters.
const EVERY_ROUTE: [(&str, &str); 34] = [
    ("GET", "/admin"),
    ("GET", "/admin/tiers"),
    ("POST", "/admin/tiers"),
    ("GET", "/admin/tiers/gold"),
    ("POST", "/admin/tiers/gold"),
    ("POST", "/admin/tiers/gold/delete"),
    ("GET", "/admin/products"),
    ("POST", "/admin/products"),
    ("GET", "/admin/products/final"),
    ("POST", "/admin/products/final"),
    ("GET", "/admin/people"),
    ("GET", "/admin/people/someone"),
    ("POST", "/admin/people/someone/subscription"),
    ("POST", "/admin/people/someone/subscription/end"),
    ("POST", "/admin/people/someone/grants"),
    ("POST", "/admin/people/someone/grants/grant/revoke"),
    ("POST", "/admin/people/someone/sign-out"),
    ("POST", "/admin/people/someone/disable"),
    ("POST", "/admin/people/someone/enable"),
    ("POST", "/admin/people/someone/second-factor/reset"),
    ("POST", "/admin/people/someone/admin"),
    ("POST", "/admin/people/someone/admin/remove"),
    ("POST", "/admin/people/someone/streams/stream/stop"),
    ("POST", "/admin/people/someone/profiles"),
    ("POST", "/admin/people/someone/profiles/profile/delete"),
    ("POST", "/admin/people/someone/profiles/profile/pin/clear"),
    ("POST", "/admin/people/someone/household/members/member/remove"),
    ("GET", "/admin/apps"),
    ("POST", "/admin/apps"),
    ("POST", "/admin/apps/app/rotate"),
    ("POST", "/admin/apps/app/disable"),
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys/rotate"),
    ("GET", "/admin/audit"),
];

/// A browser of `email` (created, an administrator when `admin`) signed in with `amr`: a
/// cookie-keeping client holding a session made the way a sign-in makes it.
async fn signed_in(server: &TestServer, email: &str, admin: bool, amr: &[&str]) -> (reqwest::Client, String) {
    let now = server.state.clock.now();
    let new = NewUser {
        email: email.to_owned(),
        name: None,
        password: Some(flow::PASSWORD.into()),
        admin,
    };
    let state = server.state.clone();
    let amr: Vec<String> = amr.iter().map(|method| (*method).to_owned()).collect();
    let (user_id, session_token) = server
        .state
        .store
        .run(move |conn| {
            let created = create(conn, new, now).unwrap();
            let user = users::find_by_id(conn, &created.id)?.unwrap();
            let session::Started::SignedIn { token, .. } =
                session::start(&state, conn, &user, amr, "tests", None, now)?
            else {
                unreachable!("a person without a tier has no device limit")
            };
            Ok::<_, usher::foundation::store::StoreError>((created.id, token))
        })
        .await
        .unwrap();
    let jar = reqwest::cookie::Jar::default();
    jar.add_cookie_str(
        &format!("{}={session_token}", usher::web::session_cookie::COOKIE),
        &server.url.parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .cookie_provider(std::sync::Arc::new(jar))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, user_id)
}

/// The CSRF token of a page the client can open (the login page for anyone).
async fn csrf_of(server: &TestServer, client: &reqwest::Client, path: &str) -> String {
    let page = client
        .get(server.endpoint(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden_field(&page, "csrf")
}

/// The database first: bound as `let (_db, server)`, the server is dropped, and stops, before it.
async fn start(backend: Backend) -> (TestDb, TestServer) {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(START)).await;
    (db, server)
}

async fn the_dashboard_wears_the_platforms_brand(backend: Backend) {
    let db = TestDb::new(backend);
    let mut config = db.config();
    config.brand_name = "Aurora Music".into();
    config.brand_color = Some("#0b6e4f".into());
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["pwd", "otp", "mfa"]).await;
    let response = admin.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("· Aurora Music</title>"), "{page}");
    assert!(page.contains("<p class=\"brand\">Aurora Music</p>"), "{page}");
    assert!(page.contains("--accent:#0b6e4f"), "{page}");
    assert_eq!(
        policy.matches("'sha256-").count(),
        2,
        "the stylesheet and the brand's colours: {policy}"
    );
}

async fn someone_not_signed_in_is_sent_to_sign_in_and_comes_back(backend: Backend) {
    let (_db, server) = start(backend).await;
    let response = common::http()
        .get(server.endpoint("/admin/tiers"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let to = location(&response);
    assert!(to.starts_with("/login?request="), "{to}");
    assert!(to.contains("return_to%3D%252Fadmin%252Ftiers"), "{to}");
}

async fn a_person_who_is_not_an_administrator_gets_403_everywhere(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "viewer@example.com", false, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &client, "/login").await;
    for (method, path) in EVERY_ROUTE {
        let request = match method {
            "GET" => client.get(server.endpoint(path)),
            _ => client
                .post(server.endpoint(path))
                .form(&[("csrf", csrf.as_str())]),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
}

async fn an_administrator_signed_in_with_one_factor_signs_in_again(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "admin@example.com", true, &["pwd"]).await;
    let response = client.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?request="));
}

async fn an_administrator_signs_in_again_after_an_hour(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "admin@example.com", true, &["pwd", "otp", "mfa"]).await;
    let response = client.get(server.endpoint("/admin/tiers")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.state.clock.advance(3601);
    let response = client.get(server.endpoint("/admin/tiers")).send().await.unwrap();
    assert_eq!(response.status(), 303, "the admin session is short-lived");
}

async fn every_dashboard_page_opens_for_an_administrator(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    for (method, path) in EVERY_ROUTE {
        if method == "GET" && !path.contains("gold") && !path.contains("final") && !path.contains("someone") {
            let response = client.get(server.endpoint(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let page = response.text().await.unwrap();
            assert_eq!(page.matches("<h1").count(), 1, "{path}");
        }
    }
}

async fn a_form_without_its_csrf_token_is_refused(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let refused = client
        .post(server.endpoint("/admin/tiers"))
        .form(&[
            ("slug", "gold"),
            ("name", "Gold"),
            ("rank", "30"),
            ("max_streams", "4"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let tiers = client
        .get(server.endpoint("/admin/tiers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!tiers.contains("/admin/tiers/gold"), "nothing was created");
}

async fn a_tier_and_a_product_given_here_show_in_the_next_token_and_introspection(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let app = server.create_client(flow::first_party_app()).await;
    let person_id = flow::create_user(&server, "viewer@example.com").await;
    let csrf = csrf_of(&server, &admin, "/admin/tiers").await;
    let post = |path: &str, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        admin.post(server.endpoint(path)).form(&form).send()
    };
    let created = post(
        "/admin/tiers",
        vec![
            ("slug", "gold"),
            ("name", "Gold"),
            ("rank", "30"),
            ("features", "hd, 4k"),
            ("max_streams", "4"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 303);
    let created = post(
        "/admin/products",
        vec![
            ("slug", "final-2026"),
            ("title", "Championship Final"),
            ("rental_hours", "48"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 303);
    let found = admin
        .get(server.endpoint("/admin/people?email=viewer"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(found.contains(&format!("/admin/people/{person_id}")));
    let given = post(
        &format!("/admin/people/{person_id}/subscription"),
        vec![
            ("tier", "gold"),
            ("status", "active"),
            ("current_period_end", "2027-01-01T00:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        location(&given),
        format!("/admin/people/{person_id}?done=subscription-set")
    );
    let granted = post(
        &format!("/admin/people/{person_id}/grants"),
        vec![("product", "final-2026")],
    )
    .await
    .unwrap();
    assert_eq!(granted.status(), 303);

    let tokens = flow::person_tokens(&server, &app, "viewer@example.com", "openid entitlements").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let claims: Value = {
        use base64::Engine;
        let payload = access_token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["tier"], "gold");
    assert_eq!(claims["features"], serde_json::json!(["hd", "4k"]));
    assert_eq!(claims["ppv"], serde_json::json!(["final-2026"]));
    let service = server.service_client(&[]).await;
    let introspected = common::introspect(&server, &service, access_token).await;
    assert_eq!(introspected["tier"], "gold");
    assert_eq!(introspected["ppv"], serde_json::json!(["final-2026"]));

    let audit = admin
        .get(server.endpoint("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for action in [
        "tier.create",
        "product.create",
        "subscription.put",
        "grant.create",
    ] {
        assert!(audit.contains(action), "{action} is in the audit log");
    }
}

async fn token_with(server: &TestServer, id: &str, secret: &str) -> u16 {
    common::http()
        .post(server.endpoint("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The client id and secret an app-secret page shows, in that order.
fn shown_codes(page: &str) -> Vec<String> {
    page.split("<code class=\"secret\">")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect()
}

async fn a_rotated_secret_and_a_disabled_app_stop_working_at_once(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/apps").await;
    let registered = admin
        .post(server.endpoint("/admin/apps"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Content service"),
            ("grant_client_credentials", "1"),
            ("scopes", "usher:entitlements"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);
    let codes = shown_codes(&registered.text().await.unwrap());
    let (id, secret) = (codes[0].clone(), codes[1].clone());
    assert_eq!(token_with(&server, &id, &secret).await, 200);

    let rotated = admin
        .post(server.endpoint(&format!("/admin/apps/{id}/rotate")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let new_secret = shown_codes(&rotated.text().await.unwrap())[1].clone();
    assert_eq!(token_with(&server, &id, &new_secret).await, 200);
    assert_eq!(
        token_with(&server, &id, &secret).await,
        401,
        "the old secret stops at once"
    );

    let disabled = admin
        .post(server.endpoint(&format!("/admin/apps/{id}/disable")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 303);
    assert_eq!(
        token_with(&server, &id, &new_secret).await,
        401,
        "disabled at once"
    );
    let audit = admin
        .get(server.endpoint("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for action in ["client.create", "client.rotate_secret", "client.disable"] {
        assert!(audit.contains(action), "{action}");
    }
    assert!(
        !audit.contains(&secret) && !audit.contains(&new_secret),
        "no secret in the log"
    );
}

async fn an_app_that_could_never_sign_anyone_in_is_refused_and_not_registered(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/apps").await;
    let refused = admin
        .post(server.endpoint("/admin/apps"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Nowhere app"),
            ("grant_authorization_code", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("role=\"alert\">redirect uri: a client with authorization_code"),
        "{page}"
    );
    let listed = admin
        .get(server.endpoint("/admin/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("Nowhere app"), "{listed}");
}

/// A right-to-left override: the dashboard would show "Content service" the wrong way round.
const BIDI_NAME: &str = "\u{202E}ecivres tnetnoC";

async fn an_app_named_with_a_bidi_override_is_refused_and_not_registered(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/apps").await;
    let refused = admin
        .post(server.endpoint("/admin/apps"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", BIDI_NAME),
            ("grant_client_credentials", "1"),
            ("scopes", "usher:entitlements"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("role=\"alert\">name: "), "{page}");
    let listed = admin
        .get(server.endpoint("/admin/apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(BIDI_NAME), "{listed}");
}

async fn a_tier_named_here_with_a_bidi_override_is_refused_and_not_created(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/tiers").await;
    let refused = admin
        .post(server.endpoint("/admin/tiers"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("slug", "gold"),
            ("name", "\u{202E}dloG"),
            ("rank", "30"),
            ("max_streams", "4"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("role=\"alert\">name: "), "{page}");
    let tier = admin
        .get(server.endpoint("/admin/tiers/gold"))
        .send()
        .await
        .unwrap();
    assert_eq!(tier.status(), 404);
}

async fn a_disabled_apps_access_tokens_stop_working_at_once(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/apps").await;
    let registered = admin
        .post(server.endpoint("/admin/apps"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Payments"),
            ("grant_client_credentials", "1"),
            ("scopes", "usher:entitlements"),
        ])
        .send()
        .await
        .unwrap();
    let codes = shown_codes(&registered.text().await.unwrap());
    let app = usher::domain::oauth::clients::CreatedClient {
        client_id: codes[0].clone(),
        client_secret: Some(codes[1].clone()),
    };
    let token = common::issue_token(&server, &app, None).await;
    let content_server = server.service_client(&[]).await;
    assert_eq!(
        common::introspect(&server, &content_server, &token).await["active"],
        true
    );

    let disabled = admin
        .post(server.endpoint(&format!("/admin/apps/{}/disable", app.client_id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 303);
    assert_eq!(
        common::introspect(&server, &content_server, &token).await["active"],
        false,
        "an access token issued before the app was disabled ends with it"
    );
}

async fn a_notice_in_the_address_shows_only_the_dashboards_own_texts(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let page = |done: &'static str| {
        let (admin, url) = (
            admin.clone(),
            server.endpoint(&format!("/admin/tiers?done={done}")),
        );
        async move { admin.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let crafted = page("Your+session+expired%2C+call+%2B1-555-0100").await;
    assert!(
        !crafted.contains("call +1-555-0100"),
        "no text of the address's own"
    );
    assert!(page("tier-created").await.contains("The tier was created."));
}

async fn rotating_keys_here_signs_with_the_new_key_at_once(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, "/admin/keys").await;
    let active = || {
        server
            .state
            .keyring
            .current()
            .active(usher::foundation::crypto::keys::SigningAlg::Es256)
            .unwrap()
            .kid
            .clone()
    };
    let before = active();
    let rotated = admin
        .post(server.endpoint("/admin/keys/rotate"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 303);
    assert_ne!(active(), before);
    let page = admin
        .get(server.endpoint("/admin/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&before), "the old key is still published");
}

async fn an_administrator_cannot_disable_their_own_account(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, admin_id) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let csrf = csrf_of(&server, &admin, &format!("/admin/people/{admin_id}")).await;
    let refused = admin
        .post(server.endpoint(&format!("/admin/people/{admin_id}/disable")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("You cannot disable your own account here.")
    );
    let still_in = admin.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(still_in.status(), 200, "still enabled and signed in");
}

async fn disabling_a_person_ends_their_access_tokens_at_once(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let person_id = flow::create_user(&server, "viewer@example.com").await;
    let app = server.create_client(flow::first_party_app()).await;
    let tokens = flow::person_tokens(&server, &app, "viewer@example.com", "openid").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        common::introspect(&server, &app, access_token).await["active"],
        true
    );

    let csrf = csrf_of(&server, &admin, &format!("/admin/people/{person_id}")).await;
    let disabled = admin
        .post(server.endpoint(&format!("/admin/people/{person_id}/disable")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 303);

    assert_eq!(
        common::introspect(&server, &app, access_token).await["active"],
        false
    );
}

async fn a_grant_for_a_product_not_yet_on_sale_is_not_shown_as_active(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let person_id = flow::create_user(&server, "viewer@example.com").await;
    let csrf = csrf_of(&server, &admin, "/admin/products").await;
    let post = |path: String, form: Vec<(&str, &str)>| {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        admin.post(server.endpoint(&path)).form(&form).send()
    };
    let created = post(
        "/admin/products".to_owned(),
        vec![
            ("slug", "final-2027"),
            ("title", "Championship Final"),
            ("starts_at", "2027-06-01T20:00"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 303);
    let granted = post(
        format!("/admin/people/{person_id}/grants"),
        vec![("product", "final-2027")],
    )
    .await
    .unwrap();
    assert_eq!(granted.status(), 303);

    let page = admin
        .get(server.endpoint(&format!("/admin/people/{person_id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Not yet on sale: starts 1 Jun 2027, 20:00 UTC"),
        "{page}"
    );
    assert!(!page.contains("· Active"), "{page}");
    let product_page = admin
        .get(server.endpoint("/admin/products/final-2027"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(product_page.contains("Not yet on sale"), "{product_page}");
}

async fn the_403_page_says_how_to_become_an_administrator(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (client, _) = signed_in(&server, "viewer@example.com", false, &["hwk", "user", "mfa"]).await;
    let refused = client.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("An administrator can make your account one on the dashboard"),
        "{page}"
    );
    assert!(page.contains("People page"), "{page}");
}

async fn an_administrator_makes_a_person_an_administrator_who_then_gets_in(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let (person, person_id) = signed_in(&server, "viewer@example.com", false, &["hwk", "user", "mfa"]).await;
    let person_page = format!("/admin/people/{person_id}");
    let csrf = csrf_of(&server, &admin, &person_page).await;
    let made = admin
        .post(server.endpoint(&format!("{person_page}/admin")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&made), format!("{person_page}?done=made-admin"));
    let let_in = person.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(let_in.status(), 200);
    let audit = admin
        .get(server.endpoint("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("user.make_admin"), "{audit}");
}

async fn an_administrator_removes_another_administrators_rights(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let (other, other_id) = signed_in(&server, "other@example.com", true, &["hwk", "user", "mfa"]).await;
    let other_page = format!("/admin/people/{other_id}");
    let csrf = csrf_of(&server, &admin, &other_page).await;
    let removed = admin
        .post(server.endpoint(&format!("{other_page}/admin/remove")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&removed), format!("{other_page}?done=admin-removed"));
    let refused = other.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
}

async fn an_administrator_cannot_remove_their_own_administrator_rights(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, admin_id) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let own_page = format!("/admin/people/{admin_id}");
    let csrf = csrf_of(&server, &admin, &own_page).await;
    let refused = admin
        .post(server.endpoint(&format!("{own_page}/admin/remove")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("You cannot remove your own administrator rights.")
    );
    let still_in = admin.get(server.endpoint("/admin")).send().await.unwrap();
    assert_eq!(still_in.status(), 200);
}

async fn every_dashboard_page_names_who_is_signed_in_and_signs_them_out(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    for path in [
        "/admin",
        "/admin/tiers",
        "/admin/people",
        "/admin/apps",
        "/admin/keys",
    ] {
        let page = admin
            .get(server.endpoint(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Signed in as <strong>admin@example.com</strong>"),
            "{path}"
        );
        assert!(
            page.contains(r#"<form method="post" action="/logout">"#),
            "{path}"
        );
    }
    let csrf = csrf_of(&server, &admin, "/admin").await;
    let signed_out = admin
        .post(server.endpoint("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    let after = admin.get(server.endpoint("/admin")).send().await.unwrap();
    assert!(location(&after).starts_with("/login?request="));
}

/// The dashboard has its words in English only (`locales/en/admin.ftl`): an administrator who
/// chose Urdu gets Urdu viewer pages and an English dashboard, marked English, left to right.
async fn the_dashboard_speaks_english_left_to_right_to_an_administrator_who_chose_urdu(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let chose = admin
        .get(server.endpoint("/language?set=ur&return_to=/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(chose.status(), 303);
    let open = |path: &'static str| {
        admin
            .get(server.endpoint(path))
            .header("accept-language", "ur")
            .send()
    };
    let account = open("/account").await.unwrap().text().await.unwrap();
    assert!(account.contains(r#"<html lang="ur" dir="rtl">"#), "{account}");
    for path in ["/admin", "/admin/people", "/admin/apps", "/admin/audit"] {
        let page = open(path).await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"<html lang="en" dir="ltr">"#), "{path}: {page}");
        assert!(
            page.contains("Signed in as <strong>admin@example.com</strong>"),
            "{path}: {page}"
        );
        assert!(!page.contains("dash-"), "{path} shows a message id: {page}");
    }
}

async fn the_login_page_on_the_way_to_the_dashboard_says_what_sign_in_it_needs(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["pwd"]).await;
    let sent = admin.get(server.endpoint("/admin")).send().await.unwrap();
    let login = admin
        .get(server.endpoint(&location(&sent)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login.contains("The dashboard needs a sign-in with two factors, made no more than 1 hour ago"),
        "{login}"
    );
    let plain = admin
        .get(server.endpoint("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!plain.contains("The dashboard needs"));
    let urdu = admin
        .get(server.endpoint(&location(&sent)))
        .header("accept-language", "ur")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        urdu.contains(
            "ڈیش بورڈ کے لیے ایسا سائن اِن ضروری ہے جس میں دو طریقوں سے تصدیق ہوئی ہو اور جو \u{2068}ایک گھنٹے\u{2069} سے پرانا نہ ہو"
        ),
        "the rule in the page's language: {urdu}"
    );
}

/// A new person `email` (without a tier: one stream may play), a content server holding
/// `usher:streams`, and the stream it started for the person on `device_id`.
async fn playing(server: &TestServer, email: &str, device_id: &str) -> (String, CreatedClient, String) {
    let person_id = flow::create_user(server, email).await;
    let app = server.create_client(flow::first_party_app()).await;
    let tokens = flow::person_tokens(server, &app, email, "openid").await;
    let content_server = server.service_client(&["usher:streams"]).await;
    let started = common::post_form(
        &server.endpoint("/streams"),
        &content_server,
        &[
            ("token", tokens["access_token"].as_str().unwrap()),
            ("device_id", device_id),
            ("content", "The Final"),
        ],
    )
    .await;
    assert_eq!(started.status(), 201);
    let stream_id = started.json::<Value>().await.unwrap()["stream_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (person_id, content_server, stream_id)
}

async fn heartbeat(server: &TestServer, content_server: &CreatedClient, stream_id: &str) -> u16 {
    common::post_form(
        &server.endpoint(&format!("/streams/{stream_id}/heartbeat")),
        content_server,
        &[],
    )
    .await
    .status()
    .as_u16()
}

async fn a_stream_stopped_from_the_persons_page_ends_and_is_audited(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let (person_id, content_server, tv) = playing(&server, "viewer@example.com", "living-room-tv").await;
    let person_path = format!("/admin/people/{person_id}");
    let page = admin
        .get(server.endpoint(&person_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("The Final"), "{page}");
    assert!(
        page.contains(">Stop playback on living-room-tv</button>"),
        "{page}"
    );

    let csrf = hidden_field(&page, "csrf");
    let stop_path = format!("{person_path}/streams/{tv}/stop");
    let stopped = admin
        .post(server.endpoint(&stop_path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 303);
    assert_eq!(location(&stopped), format!("{person_path}?done=stream-stopped"));
    assert_eq!(heartbeat(&server, &content_server, &tv).await, 404);
    let again = admin
        .post(server.endpoint(&stop_path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&again), format!("{person_path}?done=stream-over"));

    let audit = admin
        .get(server.endpoint("/admin/audit?action=stream.stop"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(audit.matches("<code>stream.stop</code>").count(), 1, "{audit}");
    assert!(audit.contains(&format!("stream:{tv}")), "{audit}");
    assert!(
        audit.contains("admin@example.com"),
        "the administrator is the actor: {audit}"
    );
}

async fn profiles_are_added_unlocked_and_deleted_from_the_persons_page(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let person_id = flow::create_user(&server, "family@example.com").await;
    let person_path = format!("/admin/people/{person_id}");
    let csrf = csrf_of(&server, &admin, &person_path).await;
    let added = admin
        .post(server.endpoint(&format!("{person_path}/profiles")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Zara"),
            ("maturity", "7"),
            ("kids", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&added), format!("{person_path}?done=profile-added"));
    let too_many = admin
        .post(server.endpoint(&format!("{person_path}/profiles")))
        .form(&[("csrf", csrf.as_str()), ("name", "Omar"), ("maturity", "18")])
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), 422, "without a plan, one profile");
    assert!(
        too_many
            .text()
            .await
            .unwrap()
            .contains("Their plan allows 1 profile.")
    );

    let owner = person_id.clone();
    let profile = server
        .state
        .store
        .run(move |conn| usher::foundation::store::profiles::of_user(conn, &owner))
        .await
        .unwrap()
        .remove(0);
    let locked = usher::domain::profiles::ProfileInput {
        name: "Zara".into(),
        maturity: Some("7".into()),
        kids: true,
        pin: usher::domain::profiles::PinChange::Set("1234".into()),
    };
    usher::domain::profiles::update(
        &server.state.core,
        &Actor::client("test"),
        &person_id,
        &profile.id,
        locked,
    )
    .await
    .unwrap();
    let page = admin
        .get(server.endpoint(&person_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Up to 7+ · Kids · PIN"), "{page}");
    let cleared = admin
        .post(server.endpoint(&format!("{person_path}/profiles/{}/pin/clear", profile.id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&cleared),
        format!("{person_path}?done=profile-pin-cleared")
    );
    let deleted = admin
        .post(server.endpoint(&format!("{person_path}/profiles/{}/delete", profile.id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&deleted), format!("{person_path}?done=profile-deleted"));

    let audit = admin
        .get(server.endpoint("/admin/audit?action=profile.update"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("admin@example.com"),
        "the administrator is the actor: {audit}"
    );
    assert!(
        !audit.contains("argon2"),
        "the PIN's hash is never shown: {audit}"
    );
}

async fn a_stream_of_someone_else_is_not_stopped_from_a_persons_page(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    let (_, content_server, tv) = playing(&server, "viewer@example.com", "living-room-tv").await;
    let other_id = flow::create_user(&server, "other@example.com").await;
    let other_path = format!("/admin/people/{other_id}");
    let csrf = csrf_of(&server, &admin, &other_path).await;
    let refused = admin
        .post(server.endpoint(&format!("{other_path}/streams/{tv}/stop")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&refused), format!("{other_path}?done=stream-over"));
    assert_eq!(
        heartbeat(&server, &content_server, &tv).await,
        200,
        "still playing"
    );
}

async fn the_overview_charts_the_concurrent_streams_counted_each_minute(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (admin, _) = signed_in(&server, "admin@example.com", true, &["hwk", "user", "mfa"]).await;
    playing(&server, "viewer@example.com", "living-room-tv").await;
    // START is 11:06:40 UTC; three minutes two hours before it, and one older than a day.
    let minute = START - START % 60;
    let samples = [
        (minute - 7_200, 4),
        (minute - 7_140, 7),
        (minute - 7_080, 2),
        (minute - 2 * 86_400, 99),
    ];
    server
        .state
        .store
        .run(move |conn| {
            for (minute, streams) in samples {
                stream_store::record_sample(conn, minute, streams)?;
            }
            Ok::<_, usher::foundation::store::StoreError>(())
        })
        .await
        .unwrap();

    let overview = admin
        .get(server.endpoint("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(overview.contains("Concurrent streams"), "{overview}");
    assert!(
        overview.contains("<span class=\"figure\">1</span><span class=\"hint\">playing now</span>"),
        "{overview}"
    );
    assert!(
        overview.contains(
            "aria-label=\"Concurrent streams per minute, last 24 hours (UTC): 1 now; most 7 at 09:07.\""
        ),
        "{overview}"
    );
    assert!(overview.contains("<path d=\"M"), "a line is drawn: {overview}");
    assert!(
        overview.contains("<th scope=\"row\">18 Nov, 09:00</th><td class=\"num\">7</td>"),
        "{overview}"
    );
    assert!(!overview.contains(">99<"), "older than a day: {overview}");
}

on_both_backends!(
    a_stream_stopped_from_the_persons_page_ends_and_is_audited,
    a_stream_of_someone_else_is_not_stopped_from_a_persons_page,
    the_overview_charts_the_concurrent_streams_counted_each_minute,
    the_403_page_says_how_to_become_an_administrator,
    an_administrator_makes_a_person_an_administrator_who_then_gets_in,
    an_administrator_removes_another_administrators_rights,
    an_administrator_cannot_remove_their_own_administrator_rights,
    every_dashboard_page_names_who_is_signed_in_and_signs_them_out,
    the_dashboard_speaks_english_left_to_right_to_an_administrator_who_chose_urdu,
    the_login_page_on_the_way_to_the_dashboard_says_what_sign_in_it_needs,
    a_grant_for_a_product_not_yet_on_sale_is_not_shown_as_active,
    an_administrator_cannot_disable_their_own_account,
    disabling_a_person_ends_their_access_tokens_at_once,
    a_rotated_secret_and_a_disabled_app_stop_working_at_once,
    an_app_named_with_a_bidi_override_is_refused_and_not_registered,
    an_app_that_could_never_sign_anyone_in_is_refused_and_not_registered,
    a_tier_named_here_with_a_bidi_override_is_refused_and_not_created,
    a_disabled_apps_access_tokens_stop_working_at_once,
    a_notice_in_the_address_shows_only_the_dashboards_own_texts,
    rotating_keys_here_signs_with_the_new_key_at_once,
    someone_not_signed_in_is_sent_to_sign_in_and_comes_back,
    the_dashboard_wears_the_platforms_brand,
    a_person_who_is_not_an_administrator_gets_403_everywhere,
    an_administrator_signed_in_with_one_factor_signs_in_again,
    an_administrator_signs_in_again_after_an_hour,
    every_dashboard_page_opens_for_an_administrator,
    a_form_without_its_csrf_token_is_refused,
    a_tier_and_a_product_given_here_show_in_the_next_token_and_introspection,
    profiles_are_added_unlocked_and_deleted_from_the_persons_page,
);
