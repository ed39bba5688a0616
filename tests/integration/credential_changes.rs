//! Who may change how an account signs in: a recent sign-in, with the second factor when the
//! account had one (a stolen password alone must not add a passkey or an authenticator), and
//! what a new password ends: every other session, app and TV of the person.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::oauth::clients::NewClient;
use usher::foundation::clock::Clock;
use usher::foundation::store::passkeys::{self, PasskeyRow};

const EMAIL: &str = "viewer@example.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The database first: bound as `let (_db, server, ..)`, the server is dropped, and stops,
/// before it.
async fn start(backend: Backend) -> (TestDb, TestServer, String) {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(1_795_000_000)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    (db, server, user_id)
}

/// A passkey registered an hour ago (its public key is never read on these paths).
async fn existing_passkey(server: &TestServer, user_id: &str) {
    let row = PasskeyRow {
        id: "passkey-1".into(),
        user_id: user_id.to_owned(),
        credential_id: "Y3JlZGVudGlhbA".into(),
        name: "Phone".into(),
        credential: "{}".into(),
        created_at: server.state.clock.now() - 3600,
        last_used_at: None,
    };
    server
        .state
        .store
        .run(move |conn| passkeys::insert(conn, &row))
        .await
        .unwrap();
}

async fn signed_in_with_password(server: &TestServer) -> (Browser, String) {
    let browser = Browser::new(server);
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let account = browser.get("/account").await.text().await.unwrap();
    let csrf = hidden_field(&account, "csrf");
    (browser, csrf)
}

async fn a_password_alone_cannot_add_a_way_in_to_an_account_with_a_passkey(backend: Backend) {
    let (_db, server, user_id) = start(backend).await;
    existing_passkey(&server, &user_id).await;
    let (browser, csrf) = signed_in_with_password(&server).await;
    for path in ["/account/passkeys/options", "/account/totp/start"] {
        let refused = browser.post(path, &[("csrf", csrf.as_str())]).await;
        assert_eq!(refused.status(), 403, "{path}");
    }
    let refused = browser
        .post(
            "/account/password",
            &[("csrf", csrf.as_str()), ("password", "a new password")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let removal = browser
        .post(
            "/account/passkeys/remove",
            &[("csrf", csrf.as_str()), ("id", "passkey-1")],
        )
        .await;
    assert_eq!(removal.status(), 403, "nor take one away");
}

async fn a_fresh_sign_in_may_add_the_first_second_factor(backend: Backend) {
    let (_db, server, _) = start(backend).await;
    let (browser, csrf) = signed_in_with_password(&server).await;
    let options = browser
        .post("/account/passkeys/options", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(options.status(), 200);
    let options: Value = options.json().await.unwrap();
    assert!(options["ceremony"].is_string());
    server.state.clock.advance(16 * 60);
    let stale = browser
        .post("/account/passkeys/options", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(
        stale.status(),
        403,
        "a sign-in older than 15 minutes signs in again first"
    );
}

async fn a_new_password_signs_out_the_tv_too(backend: Backend) {
    let (_db, server, _) = start(backend).await;
    let tv = server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![DEVICE_GRANT.into(), "refresh_token".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let codes: Value = common::http()
        .post(server.endpoint("/oauth/device_authorization"))
        .form(&[
            ("client_id", tv.client_id.as_str()),
            ("scope", "openid offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (phone, csrf) = signed_in_with_password(&server).await;
    let confirm = phone
        .post(
            "/device",
            &[
                ("csrf", csrf.as_str()),
                ("user_code", codes["user_code"].as_str().unwrap()),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    phone
        .post(
            "/device/decision",
            &[
                ("csrf", hidden_field(&confirm, "csrf").as_str()),
                ("user_code", hidden_field(&confirm, "user_code").as_str()),
                ("decision", "allow"),
            ],
        )
        .await;
    let tokens: Value = common::http()
        .post(server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", codes["device_code"].as_str().unwrap()),
            ("client_id", tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().expect("the TV got tokens");

    let changed = phone
        .post(
            "/account/password",
            &[("csrf", csrf.as_str()), ("password", "a new password")],
        )
        .await;
    assert_eq!(changed.status(), 303);
    let refreshed = common::http()
        .post(server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        400,
        "the TV is signed out by the new password"
    );
    assert_eq!(
        phone.get("/account").await.status(),
        200,
        "the phone that changed it stays"
    );
}

on_both_backends!(
    a_password_alone_cannot_add_a_way_in_to_an_account_with_a_passkey,
    a_fresh_sign_in_may_add_the_first_second_factor,
    a_new_password_signs_out_the_tv_too,
);
