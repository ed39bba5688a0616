//! Profiles under an account, managed through the admin API: the tier caps how many, the PIN
//! is write-only and stored hashed, every change is audited.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow;
use common::{Backend, TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use usher::domain::entitlements::manage::TierInput;

struct Fixture {
    server: TestServer,
    token: String,
    user_id: String,
    _db: TestDb,
}

/// A person on a tier allowing `max_profiles`, and an admin API token.
async fn fixture(backend: Backend, max_profiles: i32) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let user_id = flow::create_user(&server, "holder@example.com").await;
    let plan = TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(max_profiles),
        ..TierInput::default()
    };
    common::subscribe(&server, &user_id, "family", plan).await;
    let admin = server.service_client(&["usher:admin"]).await;
    let token = common::issue_token(&server, &admin, Some("usher:admin")).await;
    Fixture {
        server,
        token,
        user_id,
        _db: db,
    }
}

impl Fixture {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = common::http()
            .request(method, self.server.endpoint(&format!("/admin/api/v1{path}")))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn profiles(&self) -> String {
        format!("/users/{}/profiles", self.user_id)
    }
}

async fn profiles_are_added_listed_changed_and_deleted(backend: Backend) {
    let fixture = fixture(backend, 5).await;
    let (status, created) = fixture
        .call(
            Method::POST,
            &fixture.profiles(),
            Some(json!({"name": "Ayesha", "maturity": "13", "kids": true})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "Ayesha");
    assert_eq!(created["maturity"], "13");
    assert_eq!(created["kids"], true);
    assert_eq!(created["has_pin"], false);
    assert!(created["color"].as_str().unwrap().starts_with('#'));
    let id = created["id"].as_str().unwrap();

    let (_, listed) = fixture.call(Method::GET, &fixture.profiles(), None).await;
    assert_eq!(listed, json!([created.clone()]));

    let path = format!("{}/{id}", fixture.profiles());
    let (status, changed) = fixture
        .call(
            Method::PUT,
            &path,
            Some(json!({"name": "Ayesha K", "maturity": "16"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            changed["name"].as_str(),
            changed["maturity"].as_str(),
            changed["kids"].as_bool()
        ),
        (Some("Ayesha K"), Some("16"), Some(false))
    );

    assert_eq!(fixture.call(Method::DELETE, &path, None).await.0, 204);
    assert_eq!(fixture.call(Method::DELETE, &path, None).await.0, 404);
    let (_, audit) = fixture
        .call(Method::GET, &format!("/audit?user_id={}", fixture.user_id), None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    for action in ["profile.create", "profile.update", "profile.delete"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

async fn the_tier_caps_how_many_profiles_an_account_has(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    for name in ["One", "Two"] {
        assert_eq!(
            fixture
                .call(Method::POST, &fixture.profiles(), Some(json!({"name": name})))
                .await
                .0,
            201
        );
    }
    let (status, refused) = fixture
        .call(Method::POST, &fixture.profiles(), Some(json!({"name": "Three"})))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("2 profiles"),
        "{refused}"
    );
    let (_, listed) = fixture.call(Method::GET, &fixture.profiles(), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "nothing half-written");
}

async fn a_pin_is_write_only_set_kept_and_cleared(backend: Backend) {
    let fixture = fixture(backend, 5).await;
    let (_, created) = fixture
        .call(
            Method::POST,
            &fixture.profiles(),
            Some(json!({"name": "Kids", "pin": "4821"})),
        )
        .await;
    assert_eq!(created["has_pin"], true);
    assert!(created.get("pin").is_none() && !created.to_string().contains("4821"));
    let path = format!("{}/{}", fixture.profiles(), created["id"].as_str().unwrap());
    let (_, kept) = fixture
        .call(Method::PUT, &path, Some(json!({"name": "Kids"})))
        .await;
    assert_eq!(kept["has_pin"], true, "left out: kept");
    let (_, cleared) = fixture
        .call(Method::PUT, &path, Some(json!({"name": "Kids", "pin": null})))
        .await;
    assert_eq!(cleared["has_pin"], false, "null: cleared");
}

async fn wrong_fields_are_named_and_change_nothing(backend: Backend) {
    let fixture = fixture(backend, 5).await;
    for (body, field) in [
        (json!({"name": "A", "maturity": "12"}), "maturity: "),
        (json!({"name": "A", "pin": "12a4"}), "pin: "),
        (json!({"name": "A", "pin": "12345"}), "pin: "),
        (json!({"name": ""}), "name: "),
        (json!({"name": "\u{202E}A"}), "name: "),
        (json!({"maturity": "7"}), "name: "),
    ] {
        let (status, refused) = fixture
            .call(Method::POST, &fixture.profiles(), Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}: {refused}");
        assert!(
            refused["error_description"].as_str().unwrap().starts_with(field),
            "{body}: {refused}"
        );
    }
    let (_, listed) = fixture.call(Method::GET, &fixture.profiles(), None).await;
    assert_eq!(listed, json!([]));
}

async fn another_persons_profile_cannot_be_reached_through_this_one(backend: Backend) {
    let fixture = fixture(backend, 5).await;
    let (_, created) = fixture
        .call(Method::POST, &fixture.profiles(), Some(json!({"name": "Mine"})))
        .await;
    let stranger = flow::create_user(&fixture.server, "stranger@example.com").await;
    let path = format!("/users/{stranger}/profiles/{}", created["id"].as_str().unwrap());
    assert_eq!(
        fixture
            .call(Method::PUT, &path, Some(json!({"name": "Taken"})))
            .await
            .0,
        404
    );
    assert_eq!(fixture.call(Method::DELETE, &path, None).await.0, 404);
    assert_eq!(
        fixture.call(Method::GET, "/users/nobody/profiles", None).await.0,
        404
    );
}

on_both_backends!(
    profiles_are_added_listed_changed_and_deleted,
    the_tier_caps_how_many_profiles_an_account_has,
    a_pin_is_write_only_set_kept_and_cleared,
    wrong_fields_are_named_and_change_nothing,
    another_persons_profile_cannot_be_reached_through_this_one,
);
