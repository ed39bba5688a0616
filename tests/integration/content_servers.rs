//! The content servers docs/content-servers.md shows, in Node, Python and Go, run against a
//! live Usher: each decides a person's requests from the access token checked against the JWKS,
//! asks introspection for what must be current, takes Usher's webhooks (verified in the
//! Standard Webhooks format) as the sign that a token's entitlements are stale, sees a
//! revocation at once through introspection, and follows a key rotation by fetching the JWKS
//! again for the new kid.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tools::{self, Running};
use common::{Backend, TestDb, TestServer, flow};
use serde_json::Value;
use usher::domain::entitlements::manage::{self, Actor, ProductInput, SubscriptionInput, TierInput};
use usher::domain::webhooks;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::crypto::keyring;

const EMAIL: &str = "viewer@example.com";
/// Time for a snippet to start (Go compiles it first) and for a webhook to arrive.
const PATIENCE: Duration = Duration::from_secs(60);
/// The snippets fetch the JWKS again for an unknown kid at most once per this long.
const JWKS_REFETCH_COOLDOWN: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
enum Language {
    Node,
    Python,
    Go,
}

fn snippet(language: Language) -> std::process::Command {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/content-server");
    match language {
        Language::Node => {
            let mut node = tools::node();
            node.arg(format!("{dir}/node/content_server.js"));
            node
        }
        Language::Python => {
            let mut python = tools::python();
            python.arg(format!("{dir}/python/content_server.py"));
            python
        }
        Language::Go => {
            let mut go = tools::go();
            go.args(["run", &format!("{dir}/go/content_server.go")]);
            go
        }
    }
}

/// Usher with a premium tier, a pay-per-view product, and a person subscribed to the tier.
struct Site {
    server: TestServer,
    user_id: String,
    app: usher::domain::oauth::clients::CreatedClient,
    _db: TestDb,
}

impl Site {
    async fn start() -> Self {
        let db = TestDb::new(Backend::Sqlite);
        let config = Config {
            webhook_poll_interval_ms: 20,
            ..db.config()
        };
        // The snippets check expiry and webhook timestamps against the real clock.
        let server = TestServer::start_with(config, Clock::System).await;
        let user_id = flow::create_user(&server, EMAIL).await;
        let app = server.create_client(flow::first_party_app()).await;
        let (person, now) = (user_id.clone(), server.state.clock.now());
        server
            .state
            .store
            .run(move |conn| {
                let payments = Actor::client("payments");
                let tier = TierInput {
                    name: "Premium".into(),
                    rank: 10,
                    features: vec!["hd".into(), "4k".into()],
                    max_streams: 2,
                    stream_limit_policy: None,
                    max_devices: None,
                    max_profiles: None,
                    max_members: 0,
                };
                manage::create_tier(conn, &payments, "premium", &tier, now)?;
                let product = ProductInput {
                    title: "The final".into(),
                    starts_at: None,
                    ends_at: None,
                    rental_hours: None,
                    household: false,
                };
                manage::create_product(conn, &payments, "final-match", &product, now)?;
                let subscription = SubscriptionInput {
                    tier: "premium".into(),
                    status: "active".into(),
                    current_period_end: now + 30 * 86_400,
                    external_ref: None,
                };
                manage::put_subscription(conn, &payments, &person, &subscription, now)
            })
            .await
            .expect("entitlements set up");
        Self {
            server,
            user_id,
            app,
            _db: db,
        }
    }

    async fn access_token(&self) -> String {
        let tokens = flow::person_tokens(&self.server, &self.app, EMAIL, "openid entitlements").await;
        tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Starts the snippet as a content server registered with `--resource-server`, with its
    /// own webhook endpoint.
    async fn content_server(&self, language: Language) -> (Running, u16) {
        let content = self.server.service_client(&[]).await;
        let port = tools::free_port();
        let (state, client_id, now) = (
            Arc::clone(&self.server.state),
            content.client_id.clone(),
            self.server.state.clock.now(),
        );
        let registered = self
            .server
            .state
            .store
            .run(move |conn| {
                let url = format!("http://127.0.0.1:{port}/usher-events");
                webhooks::register(conn, &state.master_key, &client_id, &url, 0, now)
            })
            .await
            .expect("webhook endpoint registered");
        let mut command = snippet(language);
        command
            .env("ISSUER", &self.server.url)
            .env("CLIENT_ID", &content.client_id)
            .env("CLIENT_SECRET", content.client_secret.as_deref().unwrap())
            .env("USHER_WEBHOOK_SECRET", &registered.secret)
            .env("PORT", port.to_string());
        let running = Running::start(command);
        assert_eq!(running.next_line(PATIENCE), format!("listening on {port}"));
        (running, port)
    }

    /// Grants the product as a payment service does, through the admin API.
    async fn grant_final_match(&self) {
        let payments = self.server.service_client(&["usher:entitlements"]).await;
        let token = common::issue_token(&self.server, &payments, Some("usher:entitlements")).await;
        let response = common::http()
            .post(
                self.server
                    .endpoint(&format!("/admin/api/v1/users/{}/grants", self.user_id)),
            )
            .bearer_auth(token)
            .json(&serde_json::json!({"product": "final-match", "external_ref": "pi_final"}))
            .send()
            .await
            .expect("admin API answers");
        assert_eq!(response.status(), 201);
    }

    async fn revoke(&self, token: &str) {
        let response = common::post_form(
            &self.server.endpoint("/oauth/revoke"),
            &self.app,
            &[("token", token)],
        )
        .await;
        assert_eq!(response.status(), 200);
    }

    /// Rotates the signing keys as `usher keys rotate` does.
    async fn rotate_keys(&self) {
        let state = Arc::clone(&self.server.state);
        let (now, ttl) = (state.clock.now(), state.config.longest_token_lifetime_secs());
        let store_state = Arc::clone(&state);
        state
            .store
            .run(move |conn| keyring::rotate(conn, &store_state.master_key, now, ttl))
            .await
            .expect("keys rotated");
        state.core.reload_keys().await.expect("keys reloaded");
    }
}

/// `GET http://127.0.0.1:PORT{path}` with the token: the status and the JSON answer.
async fn ask(port: u16, path: &str, token: &str) -> (u16, Value) {
    let response = common::http()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the content server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn decides_with_a_live_usher(language: Language) {
    let site = Site::start().await;
    let (content_server, port) = site.content_server(language).await;
    let token = site.access_token().await;

    // A segment: the token alone decides, with the entitlements it carries.
    let (status, answer) = ask(port, "/segment/1.ts", &token).await;
    let first_jwks_fetch = Instant::now();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decided_by"], "token");
    assert_eq!(answer["sub"], site.user_id.as_str());
    assert_eq!(answer["tier"], "premium");
    assert_eq!(answer["features"], serde_json::json!(["hd", "4k"]));
    let ent_ver = answer["ent_ver"].as_i64().expect("ent_ver");

    // A token whose signature was tampered with is refused.
    let mut forged = token.clone().into_bytes();
    let inside_signature = forged.len() - 20;
    forged[inside_signature] = if forged[inside_signature] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let forged = String::from_utf8(forged).unwrap();
    let (status, _) = ask(port, "/segment/1.ts", &forged).await;
    assert_eq!(status, 401);

    // Playback of a product not bought: introspection says no.
    let (status, answer) = ask(port, "/play/final-match", &token).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["decided_by"], "introspection");

    // A purchase: the webhook arrives verified, and the same token now plays the product,
    // though it was issued before; segments ask Usher while the token's claims are stale.
    site.grant_final_match().await;
    let event = content_server.next_line(PATIENCE);
    assert!(
        event.starts_with("event grant.create id=")
            && event.ends_with(&format!(" users={} ent_ver={}", site.user_id, ent_ver + 1)),
        "{event}"
    );
    let (status, answer) = ask(port, "/play/final-match", &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ppv"], serde_json::json!(["final-match"]));
    assert_eq!(answer["ent_ver"], ent_ver + 1);
    let (status, answer) = ask(port, "/segment/2.ts", &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decided_by"], "introspection");
    assert_eq!(answer["ppv"], serde_json::json!(["final-match"]));

    // Revoked: introspection sees it at once (and segments ask it, the claims being stale).
    site.revoke(&token).await;
    let (status, _) = ask(port, "/play/final-match", &token).await;
    assert_eq!(status, 401);
    let (status, _) = ask(port, "/segment/3.ts", &token).await;
    assert_eq!(status, 401);

    // Keys rotated: a new token's kid is unknown to the snippet, which fetches the JWKS again
    // (once its refetch cooldown has passed) and accepts it from its claims alone.
    site.rotate_keys().await;
    let new_token = site.access_token().await;
    assert_ne!(kid_of(&new_token), kid_of(&token));
    tokio::time::sleep(JWKS_REFETCH_COOLDOWN.saturating_sub(first_jwks_fetch.elapsed())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, answer) = ask(port, "/segment/4.ts", &new_token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decided_by"], "token");
    assert_eq!(answer["ppv"], serde_json::json!(["final-match"]));
    assert_eq!(answer["ent_ver"], ent_ver + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_content_server_decides_with_a_live_usher() {
    decides_with_a_live_usher(Language::Node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_content_server_decides_with_a_live_usher() {
    decides_with_a_live_usher(Language::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_content_server_decides_with_a_live_usher() {
    decides_with_a_live_usher(Language::Go).await;
}

/// Every `js`, `python` and `go` block of docs/content-servers.md is a verbatim part of the
/// example in its language: the guide shows the code the tests above run.
#[test]
fn the_guide_shows_code_from_the_tested_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/content-servers.md")).unwrap();
    let mut shown = 0;
    for (fence, program) in [
        ("```js\n", "node/content_server.js"),
        ("```python\n", "python/content_server.py"),
        ("```go\n", "go/content_server.go"),
    ] {
        let program_text =
            std::fs::read_to_string(root.join("docs/examples/content-server").join(program)).unwrap();
        for block in guide.split(fence).skip(1) {
            let code = block.split("\n```").next().unwrap();
            assert!(
                program_text.contains(code),
                "{program} does not contain what the guide shows:\n{code}"
            );
            shown += 1;
        }
    }
    assert_eq!(shown, 9, "three excerpts in each language");
}
