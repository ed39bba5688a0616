//! Who may learn about a token by introspection: a resource server (content servers) about
//! any app's tokens, every other client about its own only.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow;
use common::{Backend, TestDb, TestServer};
use usher::domain::oauth::clients::{CreatedClient, NewClient};

const EMAIL: &str = "viewer@example.com";

struct Fixture {
    server: TestServer,
    app: CreatedClient,
    access_token: String,
    _db: TestDb,
}

/// A person's access token issued to a first-party web app.
async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, EMAIL).await;
    let app = server.create_client(flow::first_party_app()).await;
    let tokens = flow::person_tokens(&server, &app, EMAIL, "openid entitlements").await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    Fixture {
        server,
        app,
        access_token,
        _db: db,
    }
}

async fn another_app(server: &TestServer, resource_server: bool) -> CreatedClient {
    server
        .create_client(NewClient {
            name: "Another app".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["catalog:read".into()],
            resource_server,
            ..NewClient::default()
        })
        .await
}

async fn an_app_introspects_its_own_tokens(backend: Backend) {
    let fixture = fixture(backend).await;
    let answer = common::introspect(&fixture.server, &fixture.app, &fixture.access_token).await;
    assert_eq!(answer["active"], true);
}

async fn an_app_asking_about_another_apps_token_learns_nothing(backend: Backend) {
    let fixture = fixture(backend).await;
    let other = another_app(&fixture.server, false).await;
    let answer = common::introspect(&fixture.server, &other, &fixture.access_token).await;
    assert_eq!(answer, serde_json::json!({"active": false}));
}

async fn a_resource_server_introspects_every_apps_tokens_with_entitlements(backend: Backend) {
    let fixture = fixture(backend).await;
    let content_server = another_app(&fixture.server, true).await;
    let answer = common::introspect(&fixture.server, &content_server, &fixture.access_token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], fixture.app.client_id.as_str());
    assert!(answer.get("ent_ver").is_some(), "{answer}");
}

on_both_backends!(
    an_app_introspects_its_own_tokens,
    an_app_asking_about_another_apps_token_learns_nothing,
    a_resource_server_introspects_every_apps_tokens_with_entitlements,
);
