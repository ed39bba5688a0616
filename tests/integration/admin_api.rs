//! The admin API over HTTP on both databases: the catalogue, people's subscriptions and grants,
//! entitlements, the audit log, who may call what, how refusals look, and the OpenAPI document.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, first_party_app, person_tokens};
use common::{Backend, TestDb, TestServer};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use usher::foundation::clock::Clock;

/// 2030-03-17T17:46:40Z.
const START: i64 = 1_900_000_000;
const START_TEXT: &str = "2030-03-17T17:46:40Z";
/// START plus 30 days.
const PERIOD_END: &str = "2030-04-16T17:46:40Z";
const EMAIL: &str = "viewer@example.com";

struct Api {
    server: TestServer,
    user_id: String,
    /// A `usher:admin` token.
    admin: String,
    _db: TestDb,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The `error_description` of an error answer.
    fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or_default()
    }
}

async fn api(backend: Backend) -> Api {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let admin = token(&server, "usher:admin").await;
    Api {
        _db: db,
        server,
        user_id,
        admin,
    }
}

/// A client credentials token with `scope`, from a client registered for it.
async fn token(server: &TestServer, scope: &str) -> String {
    let client = server.service_client(&[scope]).await;
    common::issue_token(server, &client, Some(scope)).await
}

impl Api {
    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        let mut request =
            common::http().request(method, self.server.endpoint(&format!("/admin/api/v1{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn with(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        let body = body.map(|body| body.to_string());
        self.send(method, path, Some(token), body.as_deref()).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.with(&self.admin, method, path, body).await
    }

    async fn tier(&self, slug: &str, rank: i32, features: &[&str]) {
        let created = self
            .admin(
                Method::POST,
                "/tiers",
                Some(json!({"slug": slug, "name": slug.to_uppercase(), "rank": rank,
                    "features": features, "max_streams": 2})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }

    async fn product(&self, slug: &str) {
        let created = self
            .admin(
                Method::POST,
                "/products",
                Some(json!({"slug": slug, "title": "The Final", "rental_hours": 48})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }

    fn user(&self, rest: &str) -> String {
        format!("/users/{}{rest}", self.user_id)
    }

    async fn subscribe(&self, token: &str, tier: &str) -> Answer {
        self.with(
            token,
            Method::PUT,
            &self.user("/subscription"),
            Some(
                json!({"tier": tier, "status": "active", "current_period_end": PERIOD_END,
                "external_ref": "sub_1"}),
            ),
        )
        .await
    }

    async fn grant(&self, token: &str, product: &str, external_ref: &str) -> Answer {
        self.with(
            token,
            Method::POST,
            &self.user("/grants"),
            Some(json!({"product": product, "external_ref": external_ref})),
        )
        .await
    }
}

/// Every route, with `{user}` and `{grant}` standing for ids, and whether `usher:entitlements`
/// may use it.
const ROUTES: [(&str, &str, bool); 18] = [
    ("GET", "/tiers", false),
    ("POST", "/tiers", false),
    ("GET", "/tiers/basic", false),
    ("PUT", "/tiers/basic", false),
    ("DELETE", "/tiers/basic", false),
    ("GET", "/products", false),
    ("POST", "/products", false),
    ("GET", "/products/final", false),
    ("PUT", "/products/final", false),
    ("DELETE", "/products/final", false),
    ("GET", "/users?email=viewer@example.com", false),
    ("GET", "/users/{user}", false),
    ("PUT", "/users/{user}/subscription", true),
    ("DELETE", "/users/{user}/subscription", true),
    ("POST", "/users/{user}/grants", true),
    ("DELETE", "/users/{user}/grants/{grant}", true),
    ("GET", "/users/{user}/entitlements", false),
    ("GET", "/audit", false),
];

fn route(api: &Api, method: &str, path: &str) -> (Method, String) {
    (
        Method::from_bytes(method.as_bytes()).unwrap(),
        path.replace("{user}", &api.user_id).replace("{grant}", "g-1"),
    )
}

async fn tiers_are_created_read_changed_and_deleted(backend: Backend) {
    let api = api(backend).await;
    let created = api
        .admin(
            Method::POST,
            "/tiers",
            Some(json!({"slug": "premium", "name": "Premium", "rank": 20,
                "features": ["hd", "4k"], "max_streams": 4, "colour": "gold"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), "/admin/api/v1/tiers/premium");
    let expected = json!({"slug": "premium", "name": "Premium", "rank": 20,
        "features": ["hd", "4k"], "max_streams": 4, "stream_limit_policy": "refuse",
        "max_devices": null, "max_profiles": 5, "max_members": 0});
    assert_eq!(created.body, expected);
    assert_eq!(
        api.admin(Method::GET, "/tiers/premium", None).await.body,
        expected
    );

    let changed = api
        .admin(
            Method::PUT,
            "/tiers/premium",
            Some(
                json!({"name": "Premium+", "rank": 30, "features": ["hd", "4k", "ad_free"], "max_streams": 5,
                "stream_limit_policy": "end_oldest", "max_devices": 6}),
            ),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(
        changed.body,
        json!({"slug": "premium", "name": "Premium+", "rank": 30,
            "features": ["hd", "4k", "ad_free"], "max_streams": 5,
            "stream_limit_policy": "end_oldest", "max_devices": 6, "max_profiles": 5,
            "max_members": 0})
    );
    let wrong_policy = api
        .admin(
            Method::PUT,
            "/tiers/premium",
            Some(json!({"name": "Premium+", "rank": 30, "max_streams": 5, "stream_limit_policy": "kick"})),
        )
        .await;
    assert_eq!(wrong_policy.status, 422);
    assert!(
        wrong_policy.description().starts_with("stream_limit_policy: "),
        "{}",
        wrong_policy.body
    );
    let renamed = api
        .admin(
            Method::PUT,
            "/tiers/premium",
            Some(json!({"slug": "gold", "name": "Gold", "rank": 30, "max_streams": 5})),
        )
        .await;
    assert_eq!(renamed.status, 422);
    assert!(renamed.description().starts_with("slug: "), "{}", renamed.body);

    assert_eq!(
        api.admin(Method::DELETE, "/tiers/premium", None).await.status,
        204
    );
    let gone = api.admin(Method::GET, "/tiers/premium", None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["error"], "not_found");
    assert_eq!(
        api.admin(Method::DELETE, "/tiers/premium", None).await.status,
        404
    );
    let absent = api
        .admin(
            Method::PUT,
            "/tiers/premium",
            Some(json!({"name": "Premium", "rank": 1, "max_streams": 1})),
        )
        .await;
    assert_eq!(absent.status, 404);
}

async fn tiers_are_listed_lowest_rank_first(backend: Backend) {
    let api = api(backend).await;
    api.tier("premium", 20, &["hd", "4k"]).await;
    api.tier("basic", 10, &["hd"]).await;
    api.tier("family", 15, &[]).await;
    let listed = api.admin(Method::GET, "/tiers", None).await;
    assert_eq!(listed.status, 200);
    let slugs: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|tier| tier["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["basic", "family", "premium"]);
}

async fn a_second_tier_with_the_same_slug_is_a_conflict(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &[]).await;
    let again = api
        .admin(
            Method::POST,
            "/tiers",
            Some(json!({"slug": "basic", "name": "Basic", "rank": 1, "max_streams": 1})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"], "conflict");
}

async fn products_are_created_read_changed_and_deleted(backend: Backend) {
    let api = api(backend).await;
    let created = api
        .admin(
            Method::POST,
            "/products",
            Some(json!({"slug": "final-2030", "title": "The Final",
                "starts_at": "2030-03-17T19:46:40+02:00", "ends_at": "2030-03-18T17:46:40.250Z",
                "rental_hours": 48})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let expected = json!({"slug": "final-2030", "title": "The Final",
        "starts_at": START_TEXT, "ends_at": "2030-03-18T17:46:40Z", "rental_hours": 48,
        "household": false});
    assert_eq!(created.body, expected);
    assert_eq!(
        api.admin(Method::GET, "/products/final-2030", None).await.body,
        expected
    );
    let listed = api.admin(Method::GET, "/products", None).await;
    assert_eq!(listed.body, json!([expected]));

    // PUT replaces: what is left out becomes null.
    let changed = api
        .admin(
            Method::PUT,
            "/products/final-2030",
            Some(json!({"title": "The Final, replay"})),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(
        changed.body,
        json!({"slug": "final-2030", "title": "The Final, replay",
            "starts_at": null, "ends_at": null, "rental_hours": null, "household": false})
    );

    assert_eq!(
        api.admin(Method::DELETE, "/products/final-2030", None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.admin(Method::GET, "/products/final-2030", None).await.status,
        404
    );
}

async fn a_tier_in_use_cannot_be_deleted(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &["hd"]).await;
    assert_eq!(api.subscribe(&api.admin, "basic").await.status, 200);
    let refused = api.admin(Method::DELETE, "/tiers/basic", None).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.body["error"], "conflict");
    assert_eq!(api.admin(Method::GET, "/tiers/basic", None).await.status, 200);
}

async fn a_granted_product_cannot_be_deleted(backend: Backend) {
    let api = api(backend).await;
    api.product("final").await;
    assert_eq!(api.grant(&api.admin, "final", "pi_1").await.status, 201);
    assert_eq!(
        api.admin(Method::DELETE, "/products/final", None).await.status,
        409
    );
}

async fn every_route_refuses_a_request_without_a_token(backend: Backend) {
    let api = api(backend).await;
    for (method, path, _) in ROUTES {
        let (method, path) = route(&api, method, path);
        let refused = api.send(method.clone(), &path, None, Some("{}")).await;
        assert_eq!(refused.status, 401, "{method} {path}");
        assert_eq!(
            refused.header("www-authenticate"),
            "Bearer realm=\"usher\"",
            "{method} {path}"
        );
        assert_eq!(refused.body["error"], "invalid_request", "{method} {path}");
    }
}

async fn a_bad_expired_or_revoked_token_is_refused_as_invalid(backend: Backend) {
    let api = api(backend).await;
    let garbage = api.send(Method::GET, "/tiers", Some("not-a-token"), None).await;
    assert_eq!(garbage.status, 401);
    assert_eq!(garbage.body["error"], "invalid_token");
    assert!(
        garbage
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );

    let client = api.server.service_client(&["usher:admin"]).await;
    let revoked = common::issue_token(&api.server, &client, Some("usher:admin")).await;
    let response = common::post_form(
        &api.server.endpoint("/oauth/revoke"),
        &client,
        &[("token", &revoked)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let refused = api.send(Method::GET, "/tiers", Some(&revoked), None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["error"], "invalid_token");

    api.server
        .state
        .clock
        .advance(api.server.state.config.access_token_ttl_secs + 1);
    let expired = api.send(Method::GET, "/tiers", Some(&api.admin), None).await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.body["error"], "invalid_token");
}

async fn every_route_refuses_a_token_without_an_admin_scope(backend: Backend) {
    let api = api(backend).await;
    let catalog = token(&api.server, "catalog:read").await;
    for (method, path, _) in ROUTES {
        let (method, path) = route(&api, method, path);
        let refused = api.send(method.clone(), &path, Some(&catalog), Some("{}")).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(refused.body["error"], "insufficient_scope", "{method} {path}");
        assert!(
            refused
                .header("www-authenticate")
                .contains("error=\"insufficient_scope\""),
            "{method} {path}"
        );
    }
}

async fn an_entitlements_token_may_not_touch_the_catalogue_people_or_audit(backend: Backend) {
    let api = api(backend).await;
    let payments = token(&api.server, "usher:entitlements").await;
    for (method, path, _) in ROUTES.iter().filter(|(_, _, allowed)| !allowed) {
        let (method, path) = route(&api, method, path);
        let refused = api.send(method.clone(), &path, Some(&payments), Some("{}")).await;
        assert_eq!(refused.status, 403, "{method} {path}");
        assert!(
            refused
                .header("www-authenticate")
                .contains("scope=\"usher:admin\""),
            "{method} {path}"
        );
    }
}

async fn an_entitlements_token_changes_subscriptions_and_grants(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &["hd"]).await;
    api.product("final").await;
    let payments = token(&api.server, "usher:entitlements").await;
    assert_eq!(api.subscribe(&payments, "basic").await.status, 200);
    let granted = api.grant(&payments, "final", "pi_1").await;
    assert_eq!(granted.status, 201);
    let entitlements = api
        .with(&payments, Method::GET, &api.user("/entitlements"), None)
        .await;
    assert_eq!(entitlements.status, 403, "entitlement writes only");
    let grant = format!("/grants/{}", granted.body["id"].as_str().unwrap());
    let revoked = api.with(&payments, Method::DELETE, &api.user(&grant), None).await;
    assert_eq!(revoked.status, 204);
    let ended = api
        .with(&payments, Method::DELETE, &api.user("/subscription"), None)
        .await;
    assert_eq!(ended.status, 204);
}

async fn a_wrong_value_is_refused_with_422_naming_the_field(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &[]).await;
    api.product("final").await;
    let subscription = |tier: &str, status: &str, end: &str| json!({"tier": tier, "status": status, "current_period_end": end});
    let cases = [
        (
            Method::POST,
            "/tiers".to_owned(),
            json!({"slug": "Not A Slug", "name": "X", "rank": 1, "max_streams": 1}),
            "slug",
        ),
        (
            Method::POST,
            "/tiers".to_owned(),
            json!({"slug": "x", "name": "X", "rank": "high", "max_streams": 1}),
            "rank",
        ),
        (
            Method::POST,
            "/tiers".to_owned(),
            json!({"slug": "x", "rank": 1, "max_streams": 1}),
            "name",
        ),
        (
            Method::POST,
            "/products".to_owned(),
            json!({"slug": "x", "title": "X", "starts_at": "tomorrow"}),
            "starts_at",
        ),
        (
            Method::PUT,
            api.user("/subscription"),
            subscription("gold", "active", PERIOD_END),
            "tier",
        ),
        (
            Method::PUT,
            api.user("/subscription"),
            subscription("basic", "paused", PERIOD_END),
            "status",
        ),
        (
            Method::PUT,
            api.user("/subscription"),
            subscription("basic", "active", "2030-04-31T00:00:00Z"),
            "current_period_end",
        ),
        (
            Method::PUT,
            api.user("/subscription"),
            json!({"tier": "basic", "status": "active", "current_period_end": START + 1}),
            "current_period_end",
        ),
        (
            Method::POST,
            api.user("/grants"),
            json!({"product": "final", "valid_until": "2030-03-17 17:46:40"}),
            "valid_until",
        ),
        (
            Method::POST,
            api.user("/grants"),
            json!({"product": "concert"}),
            "product",
        ),
    ];
    for (method, path, body, field) in cases {
        let refused = api.admin(method.clone(), &path, Some(body.clone())).await;
        assert_eq!(refused.status, 422, "{method} {path} {body}: {}", refused.body);
        assert_eq!(refused.body["error"], "invalid_field");
        assert!(
            refused.description().starts_with(&format!("{field}: ")),
            "{method} {path} {body}: {}",
            refused.body
        );
    }
}

/// A right-to-left override: an administrator would read "Gold" the wrong way round.
const BIDI_NAME: &str = "\u{202E}dloG";

async fn a_tier_named_with_a_bidi_override_is_refused_and_not_stored(backend: Backend) {
    let api = api(backend).await;
    let refused = api
        .admin(
            Method::POST,
            "/tiers",
            Some(json!({"slug": "gold", "name": BIDI_NAME, "rank": 1, "max_streams": 1})),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["error"], "invalid_field");
    assert!(refused.description().starts_with("name: "), "{}", refused.body);
    assert_eq!(api.admin(Method::GET, "/tiers/gold", None).await.status, 404);
}

async fn a_tier_renamed_with_a_bidi_override_keeps_its_name(backend: Backend) {
    let api = api(backend).await;
    api.tier("gold", 1, &[]).await;
    let refused = api
        .admin(
            Method::PUT,
            "/tiers/gold",
            Some(json!({"name": format!("Gold{BIDI_NAME}"), "rank": 1, "max_streams": 1})),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.description().starts_with("name: "), "{}", refused.body);
    assert_eq!(
        api.admin(Method::GET, "/tiers/gold", None).await.body["name"],
        "GOLD"
    );
}

async fn a_product_titled_with_a_bidi_override_is_refused_and_not_stored(backend: Backend) {
    let api = api(backend).await;
    let refused = api
        .admin(
            Method::POST,
            "/products",
            Some(json!({"slug": "final", "title": BIDI_NAME})),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["error"], "invalid_field");
    assert!(refused.description().starts_with("title: "), "{}", refused.body);
    assert_eq!(api.admin(Method::GET, "/products/final", None).await.status, 404);
}

async fn a_body_that_is_not_a_json_object_is_a_bad_request(backend: Backend) {
    let api = api(backend).await;
    for body in ["{\"slug\": ", "[]", ""] {
        let refused = api
            .send(Method::POST, "/tiers", Some(&api.admin), Some(body))
            .await;
        assert_eq!(refused.status, 400, "{body:?}");
        assert_eq!(refused.body["error"], "invalid_request");
    }
}

async fn a_grant_is_idempotent_on_its_external_ref(backend: Backend) {
    let api = api(backend).await;
    api.product("final").await;
    api.product("concert").await;
    let first = api.grant(&api.admin, "final", "pi_3NxY7a").await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["product"], "final");
    assert_eq!(first.body["valid_from"], START_TEXT);
    // The product's 48 rental hours.
    assert_eq!(first.body["valid_until"], "2030-03-19T17:46:40Z");
    assert_eq!(first.body["external_ref"], "pi_3NxY7a");
    assert_eq!(first.body["revoked_at"], Value::Null);

    api.server.state.clock.advance(60);
    let again = api.grant(&api.admin, "final", "pi_3NxY7a").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);

    let other = api.grant(&api.admin, "concert", "pi_3NxY7a").await;
    assert_eq!(other.status, 409);
    let shown = api.admin(Method::GET, &api.user(""), None).await;
    assert_eq!(shown.body["grants"].as_array().unwrap().len(), 1);
}

async fn simultaneous_deliveries_of_one_payment_grant_once(backend: Backend) {
    let api = api(backend).await;
    api.product("final").await;
    let (a, b, c) = tokio::join!(
        api.grant(&api.admin, "final", "pi_twice"),
        api.grant(&api.admin, "final", "pi_twice"),
        api.grant(&api.admin, "final", "pi_twice"),
    );
    let mut statuses = [a.status, b.status, c.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 201]);
    assert!(a.body["id"] == b.body["id"] && b.body["id"] == c.body["id"]);
    let shown = api.admin(Method::GET, &api.user(""), None).await;
    assert_eq!(shown.body["grants"].as_array().unwrap().len(), 1);
}

async fn a_revoked_grant_gives_nothing(backend: Backend) {
    let api = api(backend).await;
    api.product("final").await;
    let granted = api.grant(&api.admin, "final", "pi_1").await;
    let id = granted.body["id"].as_str().unwrap();
    let before = api.admin(Method::GET, &api.user("/entitlements"), None).await;
    assert_eq!(before.body["ppv"][0]["product"], "final");

    let grant = api.user(&format!("/grants/{id}"));
    assert_eq!(api.admin(Method::DELETE, &grant, None).await.status, 204);
    let after = api.admin(Method::GET, &api.user("/entitlements"), None).await;
    assert_eq!(after.body["ppv"], json!([]));
    let shown = api.admin(Method::GET, &api.user(""), None).await;
    assert_eq!(shown.body["grants"][0]["revoked_at"], START_TEXT);
    // Revoking again changes nothing; an unknown grant is not found.
    assert_eq!(api.admin(Method::DELETE, &grant, None).await.status, 204);
    let unknown = api.admin(Method::DELETE, &api.user("/grants/nope"), None).await;
    assert_eq!(unknown.status, 404);
}

async fn people_are_found_by_email(backend: Backend) {
    let api = api(backend).await;
    let found = api
        .admin(Method::GET, "/users?email=%20Viewer%40Example.com", None)
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(
        found.body,
        json!([{"id": api.user_id, "email": EMAIL, "name": "Ada Lovelace",
            "subscription": null, "grants": []}])
    );
    let nobody = api
        .admin(Method::GET, "/users?email=nobody@example.com", None)
        .await;
    assert_eq!(nobody.body, json!([]));
    let missing = api.admin(Method::GET, "/users", None).await;
    assert_eq!(missing.status, 422);
    assert!(missing.description().starts_with("email: "));
}

async fn a_person_is_shown_with_subscription_and_grants(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &["hd"]).await;
    api.product("final").await;
    api.subscribe(&api.admin, "basic").await;
    let granted = api.grant(&api.admin, "final", "pi_1").await;
    let shown = api.admin(Method::GET, &api.user(""), None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.body,
        json!({"id": api.user_id, "email": EMAIL, "name": "Ada Lovelace",
            "subscription": {"tier": "basic", "status": "active",
                "current_period_end": PERIOD_END, "external_ref": "sub_1"},
            "grants": [granted.body]})
    );
    assert_eq!(api.admin(Method::GET, "/users/nobody", None).await.status, 404);
}

async fn entitlements_follow_the_subscription_and_grants(backend: Backend) {
    let api = api(backend).await;
    api.tier("premium", 20, &["hd", "4k"]).await;
    api.product("final").await;
    let nothing = api.admin(Method::GET, &api.user("/entitlements"), None).await;
    assert_eq!(nothing.status, 200);
    assert_eq!(
        nothing.body,
        json!({"tier": null, "features": [], "ppv": [], "ent_ver": 0})
    );

    api.subscribe(&api.admin, "premium").await;
    api.grant(&api.admin, "final", "pi_1").await;
    let both = api.admin(Method::GET, &api.user("/entitlements"), None).await;
    assert_eq!(
        both.body,
        json!({"tier": "premium", "features": ["hd", "4k"],
            "ppv": [{"product": "final", "valid_until": "2030-03-19T17:46:40Z"}], "ent_ver": 2})
    );

    assert_eq!(
        api.admin(Method::DELETE, &api.user("/subscription"), None)
            .await
            .status,
        204
    );
    let ended = api.admin(Method::GET, &api.user("/entitlements"), None).await;
    assert_eq!(ended.body["tier"], Value::Null);
    assert_eq!(ended.body["ent_ver"], 3);
    let none_left = api.admin(Method::DELETE, &api.user("/subscription"), None).await;
    assert_eq!(none_left.status, 404);
    let unknown = api.admin(Method::GET, "/users/nobody/entitlements", None).await;
    assert_eq!(unknown.status, 404);
}

async fn a_change_shows_in_introspection_at_once(backend: Backend) {
    let api = api(backend).await;
    api.tier("premium", 20, &["hd"]).await;
    let app = api.server.create_client(first_party_app()).await;
    let tokens = person_tokens(&api.server, &app, EMAIL, "openid entitlements").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let resource_server = api.server.service_client(&[]).await;
    let before = common::introspect(&api.server, &resource_server, access_token).await;
    assert_eq!(before["tier"], Value::Null, "{before}");

    api.subscribe(&api.admin, "premium").await;
    let after = common::introspect(&api.server, &resource_server, access_token).await;
    assert_eq!(after["tier"], "premium", "{after}");
}

async fn the_audit_log_records_who_changed_what(backend: Backend) {
    let api = api(backend).await;
    let payments_client = api.server.service_client(&["usher:entitlements"]).await;
    let payments = common::issue_token(&api.server, &payments_client, Some("usher:entitlements")).await;
    api.tier("basic", 10, &["hd"]).await;
    api.server.state.clock.advance(60);
    assert_eq!(api.subscribe(&payments, "basic").await.status, 200);

    let log = api.admin(Method::GET, "/audit", None).await;
    assert_eq!(log.status, 200);
    let entries = log.body.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["subscription.put", "tier.create"]);
    let latest = &entries[0];
    assert_eq!(latest["actor"], format!("client:{}", payments_client.client_id));
    assert_eq!(latest["user_id"], api.user_id.as_str());
    assert_eq!(latest["target"], api.user_id.as_str());
    assert_eq!(latest["at"], "2030-03-17T17:47:40Z");
    let state = json!({"tier": "basic", "status": "active",
        "current_period_end": PERIOD_END, "external_ref": "sub_1"});
    assert_eq!(latest["before"], Value::Null);
    assert_eq!(latest["after"], state);
    assert_eq!(entries[1]["user_id"], Value::Null);
    assert_eq!(entries[1]["target"], "basic");
    assert!(entries[1]["actor"].as_str().unwrap().starts_with("client:"));
}

async fn a_repeated_identical_subscription_changes_nothing(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &["hd"]).await;
    assert_eq!(api.subscribe(&api.admin, "basic").await.status, 200);
    let path = format!("/users/{}/entitlements", api.user_id);
    let first = api.admin(Method::GET, &path, None).await.body["ent_ver"].clone();
    api.server.state.clock.advance(60);
    assert_eq!(
        api.subscribe(&api.admin, "basic").await.status,
        200,
        "a renewal resent"
    );
    let again = api.admin(Method::GET, &path, None).await.body["ent_ver"].clone();
    assert_eq!(first, again, "no new version");
    let log = api
        .admin(Method::GET, "/audit?action=subscription.put", None)
        .await;
    assert_eq!(log.body.as_array().unwrap().len(), 1, "and no second audit entry");
}

async fn the_audit_log_is_filtered_and_paged(backend: Backend) {
    let api = api(backend).await;
    api.tier("basic", 10, &[]).await;
    api.tier("premium", 20, &[]).await;
    api.subscribe(&api.admin, "basic").await;
    let count = |answer: &Answer| answer.body.as_array().map_or(usize::MAX, Vec::len);

    let mine = api
        .admin(Method::GET, &format!("/audit?user_id={}", api.user_id), None)
        .await;
    assert_eq!(count(&mine), 1);
    let created = api.admin(Method::GET, "/audit?action=tier.create", None).await;
    assert_eq!(count(&created), 2);
    let first_page = api.admin(Method::GET, "/audit?limit=2", None).await;
    assert_eq!(count(&first_page), 2);
    let last_id = first_page.body[1]["id"].as_i64().unwrap();
    let next_page = api
        .admin(Method::GET, &format!("/audit?limit=2&before_id={last_id}"), None)
        .await;
    assert_eq!(count(&next_page), 1);
    assert_eq!(next_page.body[0]["target"], "basic");
    let later = api
        .admin(Method::GET, "/audit?since=2030-03-17T17:46:41Z", None)
        .await;
    assert_eq!(count(&later), 0);

    let too_many = api.admin(Method::GET, "/audit?limit=501", None).await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.description().starts_with("limit: "));
    let bad_time = api.admin(Method::GET, "/audit?until=yesterday", None).await;
    assert_eq!(bad_time.status, 422);
    assert!(bad_time.description().starts_with("until: "));
}

async fn every_route_accepts_exactly_the_scopes_its_openapi_document_names(backend: Backend) {
    let api = api(backend).await;
    let entitlements = token(&api.server, "usher:entitlements").await;
    let document = api.send(Method::GET, "/openapi.json", None, None).await;
    let paths = document.body["paths"].as_object().unwrap();
    for (path, operations) in paths {
        let path = path.strip_prefix("/admin/api/v1").unwrap();
        // Ids nobody has: authorization comes before any lookup, so a 404 still shows it.
        let concrete: String = path
            .split('/')
            .map(|part| if part.starts_with('{') { "nobody" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in operations.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let documented: Vec<&str> = operation["security"]
                .as_array()
                .map(|requirements| {
                    requirements
                        .iter()
                        .filter_map(|requirement| requirement["bearer"].as_array())
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect()
                })
                .unwrap_or_default();
            if documented.is_empty() {
                continue;
            }
            for (scope, token) in [("usher:admin", &api.admin), ("usher:entitlements", &entitlements)] {
                let answer = api.send(method.clone(), &concrete, Some(token), Some("{}")).await;
                if documented.contains(&scope) {
                    assert_ne!(answer.status, 403, "{method} {path} documents {scope}");
                } else {
                    assert_eq!(answer.status, 403, "{method} {path} does not document {scope}");
                }
            }
        }
    }
}

async fn the_openapi_document_describes_every_route(backend: Backend) {
    let api = api(backend).await;
    let document = api.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert!(document.body["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        document.body["servers"][0]["url"],
        api.server.state.issuer.as_str()
    );
    let paths = document.body["paths"].as_object().unwrap();
    for (method, path, _) in ROUTES {
        let path = path
            .split('?')
            .next()
            .unwrap()
            .replace("/basic", "/{slug}")
            .replace("/final", "/{slug}")
            .replace("{user}", "{id}")
            .replace("{grant}", "{grant_id}");
        let operation = &paths[&format!("/admin/api/v1{path}")][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path}");
        assert!(operation["responses"]["401"].is_object(), "{method} {path}");
    }
    assert_eq!(
        document.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

async fn a_method_a_route_does_not_take_is_refused_with_allow(backend: Backend) {
    let api = api(backend).await;
    let refused = api.admin(Method::GET, &api.user("/subscription"), None).await;
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("allow"), "PUT, DELETE");
    assert_eq!(refused.body["error"], "method_not_allowed");
}

on_both_backends!(
    tiers_are_created_read_changed_and_deleted,
    tiers_are_listed_lowest_rank_first,
    a_second_tier_with_the_same_slug_is_a_conflict,
    products_are_created_read_changed_and_deleted,
    a_tier_in_use_cannot_be_deleted,
    a_granted_product_cannot_be_deleted,
    every_route_refuses_a_request_without_a_token,
    a_bad_expired_or_revoked_token_is_refused_as_invalid,
    every_route_refuses_a_token_without_an_admin_scope,
    an_entitlements_token_may_not_touch_the_catalogue_people_or_audit,
    an_entitlements_token_changes_subscriptions_and_grants,
    a_wrong_value_is_refused_with_422_naming_the_field,
    a_tier_named_with_a_bidi_override_is_refused_and_not_stored,
    a_tier_renamed_with_a_bidi_override_keeps_its_name,
    a_product_titled_with_a_bidi_override_is_refused_and_not_stored,
    a_body_that_is_not_a_json_object_is_a_bad_request,
    a_grant_is_idempotent_on_its_external_ref,
    simultaneous_deliveries_of_one_payment_grant_once,
    a_revoked_grant_gives_nothing,
    people_are_found_by_email,
    a_person_is_shown_with_subscription_and_grants,
    entitlements_follow_the_subscription_and_grants,
    a_change_shows_in_introspection_at_once,
    the_audit_log_records_who_changed_what,
    a_repeated_identical_subscription_changes_nothing,
    the_audit_log_is_filtered_and_paged,
    the_openapi_document_describes_every_route,
    every_route_accepts_exactly_the_scopes_its_openapi_document_names,
    a_method_a_route_does_not_take_is_refused_with_allow,
);
