//! Whatever ends a session, an app's access or a person's sign-ins ends the access tokens
//! issued within it at once, those that came without a refresh token included: a content
//! server's introspection and userinfo stop accepting them.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use usher::domain::oauth::clients::CreatedClient;

const EMAIL: &str = "viewer@example.com";

struct Fixture {
    server: TestServer,
    app: CreatedClient,
    _db: TestDb,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, EMAIL).await;
    let app = server.create_client(flow::first_party_app()).await;
    Fixture { server, app, _db: db }
}

impl Fixture {
    /// An access token issued without `offline_access`, so without a refresh token, in a
    /// sign-in of its own; with the browser that holds that sign-in and the ID token.
    async fn access_token_without_refresh(&self) -> (String, String, Browser) {
        let browser = Browser::new(&self.server);
        let tokens = flow::person_tokens_in(&browser, &self.server, &self.app, EMAIL, "openid profile").await;
        assert!(tokens.get("refresh_token").is_none());
        let access_token = tokens["access_token"].as_str().unwrap().to_owned();
        assert!(self.is_active(&access_token).await);
        (
            access_token,
            tokens["id_token"].as_str().unwrap().to_owned(),
            browser,
        )
    }

    async fn is_active(&self, access_token: &str) -> bool {
        common::introspect(&self.server, &self.app, access_token).await["active"] == true
    }

    async fn userinfo_status(&self, access_token: &str) -> u16 {
        common::http()
            .get(self.server.endpoint("/oauth/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A browser signed in on the plain login page, as the person's other device.
    async fn other_browser(&self) -> Browser {
        let browser = Browser::new(&self.server);
        let signed_in = browser.sign_in(None, EMAIL, PASSWORD).await;
        assert_eq!(location(&signed_in), "/account");
        browser
    }
}

async fn account_form(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let account = browser.get("/account").await.text().await.unwrap();
    let csrf = hidden_field(&account, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

async fn signing_out_everywhere_ends_access_tokens_issued_without_a_refresh_token(backend: Backend) {
    let fixture = fixture(backend).await;
    let (access_token, _, _) = fixture.access_token_without_refresh().await;
    assert_eq!(fixture.userinfo_status(&access_token).await, 200);

    let laptop = fixture.other_browser().await;
    let ended = account_form(&laptop, "/account/sessions/end-all", &[]).await;
    assert_eq!(location(&ended), "/login");

    assert!(!fixture.is_active(&access_token).await);
    assert_eq!(fixture.userinfo_status(&access_token).await, 401);
}

async fn logging_out_from_the_app_ends_the_access_tokens_of_that_session_only(backend: Backend) {
    let fixture = fixture(backend).await;
    let (access_token, id_token, browser) = fixture.access_token_without_refresh().await;
    let (elsewhere, _, _) = fixture.access_token_without_refresh().await;

    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &id_token)
        .finish();
    let logged_out = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(logged_out.status(), 200);

    assert!(!fixture.is_active(&access_token).await);
    assert!(
        fixture.is_active(&elsewhere).await,
        "another session's token lives on"
    );
}

async fn removing_an_app_ends_its_access_tokens_issued_without_a_refresh_token(backend: Backend) {
    let fixture = fixture(backend).await;
    let (access_token, _, _) = fixture.access_token_without_refresh().await;

    let browser = fixture.other_browser().await;
    let removed = account_form(
        &browser,
        "/account/apps/revoke",
        &[("client_id", fixture.app.client_id.as_str())],
    )
    .await;
    assert_eq!(location(&removed), "/account?done=app");

    assert!(!fixture.is_active(&access_token).await);
}

async fn a_new_password_ends_the_access_tokens_of_every_other_sign_in(backend: Backend) {
    let fixture = fixture(backend).await;
    let (elsewhere, _, _) = fixture.access_token_without_refresh().await;
    let (here, _, browser) = fixture.access_token_without_refresh().await;

    let changed = account_form(
        &browser,
        "/account/password",
        &[("password", "a brand new password")],
    )
    .await;
    assert_eq!(changed.status(), 303);

    assert!(!fixture.is_active(&elsewhere).await);
    assert!(
        fixture.is_active(&here).await,
        "the browser that changed it stays signed in"
    );
}

on_both_backends!(
    signing_out_everywhere_ends_access_tokens_issued_without_a_refresh_token,
    logging_out_from_the_app_ends_the_access_tokens_of_that_session_only,
    removing_an_app_ends_its_access_tokens_issued_without_a_refresh_token,
    a_new_password_ends_the_access_tokens_of_every_other_sign_in,
);
