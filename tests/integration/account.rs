//! The account page over HTTP, as a browser without JavaScript uses it: the profile, the apps
//! with access and the signed-in devices, and what taking each of them back ends.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use usher::domain::oauth::clients::NewClient;
use usher::foundation::store::refresh_tokens::{self, RefreshToken};
use usher::foundation::store::{StoreError, consents, passkeys, users};

const EMAIL: &str = "viewer@example.com";

struct Fixture {
    server: TestServer,
    user_id: String,
    _db: TestDb,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    Fixture {
        _db: db,
        server,
        user_id,
    }
}

/// A browser signed in as `email` on the plain login page, which lands on the account page.
async fn signed_in(server: &TestServer, email: &str) -> Browser {
    let browser = Browser::new(server);
    let answer = browser.sign_in(None, email, PASSWORD).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account");
    browser
}

async fn account_page(browser: &Browser) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// The sid in each device's sign-out form, and whether the device is the one looking.
fn devices(html: &str) -> Vec<(String, bool)> {
    html.split("<li>")
        .filter(|item| item.contains("name=\"sid\""))
        .map(|item| (hidden_field(item, "sid"), item.contains("This device")))
        .collect()
}

fn this_device(html: &str) -> String {
    devices(html)
        .into_iter()
        .find_map(|(sid, current)| current.then_some(sid))
        .expect("the page marks this device")
}

async fn post_with_csrf(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = hidden_field(&account_page(browser).await, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

async fn is_signed_in(browser: &Browser) -> bool {
    let answer = browser.get("/account").await;
    match answer.status().as_u16() {
        200 => true,
        303 => {
            assert_eq!(location(&answer), "/login");
            false
        }
        status => panic!("unexpected status {status}"),
    }
}

async fn the_account_page_redirects_to_login_without_a_session(backend: Backend) {
    let fixture = fixture(backend).await;
    let answer = Browser::new(&fixture.server).get("/account").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/login");
}

async fn the_account_page_shows_the_name_email_and_this_device(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let html = account_page(&browser).await;
    assert!(html.contains("Ada Lovelace"), "{html}");
    assert!(html.contains(EMAIL), "{html}");
    assert!(html.contains("autocomplete=\"name\""), "{html}");
    let listed = devices(&html);
    assert_eq!(listed.len(), 1, "{html}");
    assert!(listed[0].1, "the only device is this one: {html}");
    assert!(
        html.contains("Unknown device"),
        "the tests' user agent names no browser: {html}"
    );
}

async fn signing_out_another_device_ends_its_session(backend: Backend) {
    let fixture = fixture(backend).await;
    let laptop = signed_in(&fixture.server, EMAIL).await;
    let phone = signed_in(&fixture.server, EMAIL).await;
    let phone_sid = this_device(&account_page(&phone).await);
    assert_eq!(devices(&account_page(&laptop).await).len(), 2);

    let answer = post_with_csrf(&laptop, "/account/sessions/end", &[("sid", phone_sid.as_str())]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account?done=session");

    let html = laptop.get(&location(&answer)).await.text().await.unwrap();
    assert!(html.contains("role=\"status\""), "{html}");
    assert!(!is_signed_in(&phone).await);
    assert_eq!(devices(&html).len(), 1, "{html}");
}

async fn signing_out_this_device_from_the_list_goes_to_login(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let sid = this_device(&account_page(&browser).await);
    let answer = post_with_csrf(&browser, "/account/sessions/end", &[("sid", sid.as_str())]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/login");
    assert!(!is_signed_in(&browser).await);
}

async fn the_plain_sign_out_button_ends_this_session(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let html = account_page(&browser).await;
    let footer = &html[html.find("<footer>").expect("a footer")..];
    assert!(footer.contains("action=\"/logout\""), "{footer}");
    let csrf = hidden_field(footer, "csrf");
    let answer = browser.post("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(answer.status(), 200);
    assert!(!is_signed_in(&browser).await);
}

async fn another_persons_session_cannot_be_ended(backend: Backend) {
    let fixture = fixture(backend).await;
    flow::create_user(&fixture.server, "other@example.com").await;
    let mine = signed_in(&fixture.server, EMAIL).await;
    let theirs = signed_in(&fixture.server, "other@example.com").await;
    let their_sid = this_device(&account_page(&theirs).await);

    let answer = post_with_csrf(&mine, "/account/sessions/end", &[("sid", their_sid.as_str())]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account");
    assert!(is_signed_in(&theirs).await);
}

async fn signing_out_everywhere_ends_every_session(backend: Backend) {
    let fixture = fixture(backend).await;
    let laptop = signed_in(&fixture.server, EMAIL).await;
    let phone = signed_in(&fixture.server, EMAIL).await;

    let answer = post_with_csrf(&laptop, "/account/sessions/end-all", &[]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/login");

    assert!(!is_signed_in(&laptop).await);
    assert!(!is_signed_in(&phone).await);
    let user_id = fixture.user_id.clone();
    let now = fixture.server.state.clock.now();
    let live = fixture
        .server
        .state
        .store
        .run(move |conn| usher::foundation::store::sessions::list_live_for_user(conn, &user_id, now))
        .await
        .unwrap();
    assert!(live.is_empty(), "{live:?}");
}

async fn removing_an_apps_access_deletes_consent_and_revokes_its_tokens(backend: Backend) {
    let fixture = fixture(backend).await;
    let server = &fixture.server;
    let app = server
        .create_client(NewClient {
            name: "Film Club".into(),
            redirect_uris: vec!["https://films.example/callback".into()],
            ..NewClient::default()
        })
        .await;
    let now = server.state.clock.now();
    let token = RefreshToken {
        token_hash: "refresh-hash".into(),
        family_id: "family".into(),
        client_id: app.client_id.clone(),
        user_id: fixture.user_id.clone(),
        sid: "some-session".into(),
        code_hash: "code-hash".into(),
        scope: "openid profile offline_access".into(),
        auth_time: now,
        amr: vec!["pwd".into()],
        created_at: now,
        expires_at: now + 3600,
        rotated_at: None,
        revoked_at: None,
        access_token: Some(("access-jti".into(), now + 900)),
        profile_id: None,
    };
    let (user_id, client_id) = (fixture.user_id.clone(), app.client_id.clone());
    server
        .state
        .store
        .run(move |conn| {
            consents::grant(
                conn,
                &user_id,
                &client_id,
                &["openid".into(), "profile".into()],
                now,
            )?;
            refresh_tokens::insert(conn, &token)
        })
        .await
        .unwrap();

    let browser = signed_in(server, EMAIL).await;
    let html = account_page(&browser).await;
    assert!(html.contains("Film Club"), "{html}");
    assert!(html.contains("See your name"), "{html}");
    assert!(
        html.contains("aria-label=\"Remove access for Film Club\""),
        "{html}"
    );

    let answer = post_with_csrf(
        &browser,
        "/account/apps/revoke",
        &[("client_id", app.client_id.as_str())],
    )
    .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account?done=app");

    let (user_id, client_id) = (fixture.user_id.clone(), app.client_id.clone());
    let (granted, token) = server
        .state
        .store
        .run(move |conn| {
            let granted = consents::granted(conn, &user_id, &client_id)?;
            let token = refresh_tokens::find(conn, "refresh-hash")?;
            Ok::<_, StoreError>((granted, token))
        })
        .await
        .unwrap();
    assert!(granted.is_empty(), "{granted:?}");
    assert!(token.unwrap().revoked_at.is_some());
    assert!(server.state.revoked.is_revoked("access-jti"));
    assert!(!account_page(&browser).await.contains("Film Club"));
}

async fn a_form_posted_without_csrf_is_refused(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let sid = this_device(&account_page(&browser).await);
    for (path, fields) in [
        ("/account/profile", vec![("name", "Mallory")]),
        ("/account/apps/revoke", vec![("client_id", "any")]),
        ("/account/sessions/end", vec![("sid", sid.as_str())]),
        ("/account/sessions/end-all", vec![]),
    ] {
        let answer = browser.post(path, &fields).await;
        assert_eq!(answer.status(), 403, "{path}");
    }
    assert!(is_signed_in(&browser).await);
    assert!(!account_page(&browser).await.contains("Mallory"));
}

async fn a_form_posted_without_a_session_goes_to_login(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = Browser::new(&fixture.server);
    let login = browser.get("/login").await.text().await.unwrap();
    let csrf = hidden_field(&login, "csrf");
    let answer = browser
        .post(
            "/account/profile",
            &[("csrf", csrf.as_str()), ("name", "Mallory")],
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/login");
}

async fn a_changed_name_shows_on_the_page(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let answer = post_with_csrf(&browser, "/account/profile", &[("name", "  Grace Hopper  ")]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account?done=name");
    let html = account_page(&browser).await;
    assert!(html.contains("value=\"Grace Hopper\""), "{html}");
    assert!(!html.contains("Ada Lovelace"), "{html}");

    post_with_csrf(&browser, "/account/profile", &[("name", "")]).await;
    assert!(account_page(&browser).await.contains("Not set"));
}

async fn a_name_with_a_bidi_override_is_refused_and_the_old_one_kept(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let answer = post_with_csrf(&browser, "/account/profile", &[("name", "\u{202E}reppoH ecarG")]).await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("formatting characters"), "{html}");
    let stored = fixture
        .server
        .state
        .store
        .run({
            let user_id = fixture.user_id.clone();
            move |conn| users::find_by_id(conn, &user_id)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name.as_deref(), Some("Ada Lovelace"));
}

async fn a_passkey_named_with_a_bidi_override_is_refused_before_its_ceremony(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = signed_in(&fixture.server, EMAIL).await;
    let answer = post_with_csrf(
        &browser,
        "/account/passkeys",
        &[
            ("name", "\u{202E}enohp yM"),
            ("ceremony", "unused"),
            ("credential", "{}"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("formatting characters"), "{html}");
    let user_id = fixture.user_id.clone();
    let stored = fixture
        .server
        .state
        .store
        .run(move |conn| passkeys::list_for_user(conn, &user_id))
        .await
        .unwrap();
    assert!(stored.is_empty());
}

on_both_backends!(
    the_account_page_redirects_to_login_without_a_session,
    the_account_page_shows_the_name_email_and_this_device,
    signing_out_another_device_ends_its_session,
    signing_out_this_device_from_the_list_goes_to_login,
    the_plain_sign_out_button_ends_this_session,
    another_persons_session_cannot_be_ended,
    signing_out_everywhere_ends_every_session,
    removing_an_apps_access_deletes_consent_and_revokes_its_tokens,
    a_form_posted_without_csrf_is_refused,
    a_form_posted_without_a_session_goes_to_login,
    a_changed_name_shows_on_the_page,
    a_name_with_a_bidi_override_is_refused_and_the_old_one_kept,
    a_passkey_named_with_a_bidi_override_is_refused_before_its_ceremony,
);
