//! Concurrent playback: content servers start, keep alive and stop streams; the account's tier
//! limits how many play at once, live, on every instance.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::flow;
use common::{Backend, TestDb, TestServer};
use serde_json::{Value, json};
use usher::domain::entitlements::manage::{self, Actor, SubscriptionInput, TierInput};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const EMAIL: &str = "viewer@example.com";
const START: i64 = 1_900_000_000;

struct Fixture {
    server: TestServer,
    content_server: CreatedClient,
    viewer_token: String,
    user_id: String,
    _db: TestDb,
}

fn tier(max_streams: i32, policy: &str) -> TierInput {
    TierInput {
        name: "Family".into(),
        rank: 10,
        features: vec!["hd".into()],
        max_streams,
        stream_limit_policy: Some(policy.into()),
        max_devices: None,
        max_profiles: None,
        max_members: 0,
    }
}

/// A viewer subscribed to a tier with `max_streams` and `policy`, their access token, and a
/// content server holding `usher:streams`; on a manual clock.
async fn fixture_on(
    backend: Backend,
    config: impl FnOnce(Config) -> Config,
    max_streams: i32,
    policy: &str,
) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(config(db.config()), Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let app = server.create_client(flow::first_party_app()).await;
    let content_server = server.service_client(&["usher:streams"]).await;
    let tokens = flow::person_tokens(&server, &app, EMAIL, "openid entitlements").await;
    let viewer_token = tokens["access_token"].as_str().unwrap().to_owned();
    let fixture = Fixture {
        server,
        content_server,
        viewer_token,
        user_id,
        _db: db,
    };
    fixture.subscribe("family", tier(max_streams, policy)).await;
    fixture
}

async fn fixture(backend: Backend, max_streams: i32) -> Fixture {
    fixture_on(backend, |config| config, max_streams, "refuse").await
}

impl Fixture {
    async fn subscribe(&self, slug: &'static str, input: TierInput) {
        let user_id = self.user_id.clone();
        let now = self.server.state.clock.now();
        self.server
            .state
            .store
            .run(move |conn| {
                let actor = Actor::client("payments");
                manage::create_tier(conn, &actor, slug, &input, now)?;
                let subscription = SubscriptionInput {
                    tier: slug.into(),
                    status: "active".into(),
                    current_period_end: now + 30 * 86_400,
                    external_ref: None,
                };
                manage::put_subscription(conn, &actor, &user_id, &subscription, now)
            })
            .await
            .unwrap();
    }

    /// Changes the tier's limit as an administrator does, through the admin API.
    async fn set_max_streams(&self, max_streams: i32) {
        let admin = self.server.service_client(&["usher:admin"]).await;
        let token = common::issue_token(&self.server, &admin, Some("usher:admin")).await;
        let response = common::http()
            .put(self.server.endpoint("/admin/api/v1/tiers/family"))
            .bearer_auth(token)
            .json(&json!({"name": "Family", "rank": 10, "features": ["hd"], "max_streams": max_streams}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn start(&self, device_id: &str) -> (u16, Value) {
        start_on(&self.server, &self.content_server, &self.viewer_token, device_id).await
    }

    async fn started(&self, device_id: &str) -> String {
        let (status, body) = self.start(device_id).await;
        assert_eq!(status, 201, "{body}");
        body["stream_id"].as_str().unwrap().to_owned()
    }

    async fn heartbeat(&self, stream_id: &str) -> u16 {
        heartbeat_on(&self.server, &self.content_server, stream_id).await
    }

    async fn stop(&self, stream_id: &str) -> u16 {
        common::http()
            .delete(self.server.endpoint(&format!("/streams/{stream_id}")))
            .basic_auth(
                &self.content_server.client_id,
                self.content_server.client_secret.as_deref(),
            )
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

async fn start_on(
    server: &TestServer,
    content_server: &CreatedClient,
    token: &str,
    device_id: &str,
) -> (u16, Value) {
    let response = common::post_form(
        &server.endpoint("/streams"),
        content_server,
        &[
            ("token", token),
            ("device_id", device_id),
            ("content", "The Final"),
        ],
    )
    .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn heartbeat_on(server: &TestServer, content_server: &CreatedClient, stream_id: &str) -> u16 {
    common::post_form(
        &server.endpoint(&format!("/streams/{stream_id}/heartbeat")),
        content_server,
        &[],
    )
    .await
    .status()
    .as_u16()
}

async fn a_start_answers_its_lease_and_the_accounts_count(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let (status, body) = fixture.start("living-room-tv").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 90);
    assert_eq!(body["heartbeat_interval"], 30);
    assert_eq!(body["max_streams"], 2);
    assert_eq!(body["active_streams"], 1);
    assert_eq!(body["stream_id"].as_str().unwrap().len(), 22);
}

async fn a_start_over_the_limit_is_refused_with_the_streams_in_use(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    fixture.server.state.clock.advance(1);
    let phone = fixture.started("phone").await;
    let (status, body) = fixture.start("laptop").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "too_many_streams");
    assert_eq!(body["max_streams"], 2);
    let listed: Vec<(&str, &str)> = body["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| {
            (
                stream["stream_id"].as_str().unwrap(),
                stream["device_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![(tv.as_str(), "living-room-tv"), (phone.as_str(), "phone")]
    );
    assert_eq!(body["streams"][0]["content"], "The Final");
    assert!(body["streams"][0]["started_at"].as_str().unwrap().ends_with('Z'));
}

async fn the_same_device_starting_again_replaces_its_own_stream(backend: Backend) {
    let fixture = fixture(backend, 1).await;
    let first = fixture.started("living-room-tv").await;
    let (status, body) = fixture.start("living-room-tv").await;
    assert_eq!(status, 201, "the device takes no second slot: {body}");
    assert_eq!(body["active_streams"], 1);
    assert_eq!(
        fixture.heartbeat(&first).await,
        404,
        "the replaced stream is over"
    );
    let second = body["stream_id"].as_str().unwrap();
    assert_eq!(fixture.heartbeat(second).await, 200);
}

async fn a_stream_without_heartbeats_expires_and_frees_its_slot(backend: Backend) {
    let fixture = fixture(backend, 1).await;
    let tv = fixture.started("living-room-tv").await;
    fixture.server.state.clock.advance(60);
    assert_eq!(fixture.heartbeat(&tv).await, 200, "a heartbeat within the lease");
    fixture.server.state.clock.advance(89);
    assert_eq!(
        fixture.start("phone").await.0,
        409,
        "the heartbeat moved the lease on"
    );
    fixture.server.state.clock.advance(2);
    assert_eq!(fixture.start("phone").await.0, 201, "the lease ran out");
    assert_eq!(fixture.heartbeat(&tv).await, 404);
}

async fn a_stopped_stream_answers_404_to_its_next_heartbeat(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    assert_eq!(fixture.stop(&tv).await, 204);
    assert_eq!(fixture.heartbeat(&tv).await, 404);
    assert_eq!(fixture.stop(&tv).await, 204, "stopping twice is no error");
}

async fn lowering_or_raising_the_tiers_limit_applies_to_the_next_start(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    fixture.started("living-room-tv").await;
    fixture.set_max_streams(1).await;
    assert_eq!(fixture.start("phone").await.0, 409);
    fixture.set_max_streams(3).await;
    let (status, body) = fixture.start("phone").await;
    assert_eq!(status, 201);
    assert_eq!(body["max_streams"], 3);
}

async fn introspection_carries_the_accounts_stream_limit(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let answer = common::introspect(&fixture.server, &fixture.content_server, &fixture.viewer_token).await;
    assert_eq!(answer["max_streams"], 2, "{answer}");
}

async fn with_end_oldest_a_start_at_the_limit_ends_the_oldest_stream(backend: Backend) {
    let fixture = fixture_on(backend, |config| config, 2, "end_oldest").await;
    let tv = fixture.started("living-room-tv").await;
    fixture.server.state.clock.advance(1);
    let phone = fixture.started("phone").await;
    fixture.server.state.clock.advance(1);
    let (status, body) = fixture.start("laptop").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["active_streams"], 2);
    assert_eq!(fixture.heartbeat(&tv).await, 404, "the oldest ended");
    assert_eq!(fixture.heartbeat(&phone).await, 200);
}

async fn a_tier_without_playback_refuses_every_start(backend: Backend) {
    let fixture = fixture(backend, 0).await;
    let (status, body) = fixture.start("living-room-tv").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["max_streams"], 0);
    assert_eq!(body["streams"], json!([]));
}

async fn signing_out_everywhere_ends_the_viewers_streams(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    let laptop = flow::Browser::new(&fixture.server);
    laptop.sign_in(None, EMAIL, flow::PASSWORD).await;
    let account = laptop.get("/account").await.text().await.unwrap();
    let csrf = flow::hidden_field(&account, "csrf");
    let ended = laptop
        .post("/account/sessions/end-all", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(ended.status(), 303);
    assert_eq!(fixture.heartbeat(&tv).await, 404);
}

/// A browser of `email` signed in with the password, and the account page it sees.
async fn account_page_of(server: &TestServer, email: &str) -> (flow::Browser, String) {
    let browser = flow::Browser::new(server);
    browser.sign_in(None, email, flow::PASSWORD).await;
    let page = browser.get("/account").await.text().await.unwrap();
    (browser, page)
}

async fn a_stream_stopped_from_the_account_page_answers_404_to_its_next_heartbeat(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    let (laptop, account) = account_page_of(&fixture.server, EMAIL).await;
    assert!(account.contains("Watching now"), "{account}");
    assert!(account.contains("The Final"), "the content is named: {account}");
    assert!(
        account.contains(">Stop watching on living-room-tv</button>"),
        "{account}"
    );
    assert_eq!(flow::hidden_field(&account, "stream_id"), tv);

    let csrf = flow::hidden_field(&account, "csrf");
    let stopped = laptop
        .post(
            "/account/streams/stop",
            &[("csrf", csrf.as_str()), ("stream_id", tv.as_str())],
        )
        .await;
    assert_eq!(stopped.status(), 303);
    assert_eq!(flow::location(&stopped), "/account?done=stream");
    assert_eq!(fixture.heartbeat(&tv).await, 404);
    let after = laptop.get("/account?done=stream").await.text().await.unwrap();
    assert!(after.contains("Playback on that device was stopped."), "{after}");
    assert!(!after.contains("Watching now"), "nothing plays any more: {after}");
}

async fn another_persons_stream_is_not_stopped_from_the_account_page(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    flow::create_user(&fixture.server, "neighbour@example.com").await;
    let (neighbour, account) = account_page_of(&fixture.server, "neighbour@example.com").await;
    assert!(!account.contains("living-room-tv"), "{account}");

    let csrf = flow::hidden_field(&account, "csrf");
    let refused = neighbour
        .post(
            "/account/streams/stop",
            &[("csrf", csrf.as_str()), ("stream_id", tv.as_str())],
        )
        .await;
    assert_eq!(refused.status(), 303);
    assert_eq!(flow::location(&refused), "/account", "nothing to confirm");
    assert_eq!(fixture.heartbeat(&tv).await, 200, "still playing");
}

async fn a_new_password_ends_the_viewers_streams(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    let laptop = flow::Browser::new(&fixture.server);
    laptop.sign_in(None, EMAIL, flow::PASSWORD).await;
    let account = laptop.get("/account").await.text().await.unwrap();
    let csrf = flow::hidden_field(&account, "csrf");
    let changed = laptop
        .post(
            "/account/password",
            &[("csrf", csrf.as_str()), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(fixture.heartbeat(&tv).await, 404);
}

async fn disabling_the_account_from_the_command_line_ends_the_viewers_streams_within_a_second(
    backend: Backend,
) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    let disabled = tokio::process::Command::new(env!("CARGO_BIN_EXE_usher"))
        .args(["user", "disable", EMAIL])
        .env("USHER_DATABASE_URL", &fixture._db.url)
        .env("USHER_KEYS_DIR", fixture._db.dir.path().join("keys"))
        .output()
        .await
        .unwrap();
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    let started = Instant::now();
    while fixture.heartbeat(&tv).await != 404 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the server still keeps the stream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_revoked_or_foreign_token_starts_nothing(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let service_token =
        common::issue_token(&fixture.server, &fixture.content_server, Some("usher:streams")).await;
    let (status, body) = start_on(&fixture.server, &fixture.content_server, &service_token, "tv").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "a service's own token is no viewer"
    );
    let (status, _) = start_on(&fixture.server, &fixture.content_server, "not-a-token", "tv").await;
    assert_eq!(status, 401);
}

async fn only_clients_holding_the_streams_scope_may_call(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let catalog = fixture.server.service_client(&["catalog:read"]).await;
    let (status, body) = start_on(&fixture.server, &catalog, &fixture.viewer_token, "tv").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let anonymous = common::http()
        .post(fixture.server.endpoint("/streams"))
        .form(&[("token", fixture.viewer_token.as_str()), ("device_id", "tv")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
}

async fn a_bearer_token_with_the_streams_scope_and_a_json_body_start_a_stream(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let bearer = common::issue_token(&fixture.server, &fixture.content_server, Some("usher:streams")).await;
    let response = common::http()
        .post(fixture.server.endpoint("/streams"))
        .bearer_auth(&bearer)
        .json(&json!({"token": fixture.viewer_token, "device_id": "tv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let heartbeat = common::http()
        .post(fixture.server.endpoint(&format!(
            "/streams/{}/heartbeat",
            body["stream_id"].as_str().unwrap()
        )))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 200);
    assert_eq!(heartbeat.json::<Value>().await.unwrap()["expires_in"], 90);
}

async fn a_start_without_a_device_id_is_a_clear_400(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let response = common::post_form(
        &fixture.server.endpoint("/streams"),
        &fixture.content_server,
        &[("token", fixture.viewer_token.as_str())],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains("device_id"));
    let bad_json = common::http()
        .post(fixture.server.endpoint("/streams"))
        .basic_auth(
            &fixture.content_server.client_id,
            fixture.content_server.client_secret.as_deref(),
        )
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
}

async fn heartbeats_answered_from_memory_reach_the_database(backend: Backend) {
    let fixture = fixture_on(
        backend,
        |config| Config {
            stream_write_interval_ms: 50,
            ..config
        },
        1,
        "refuse",
    )
    .await;
    let tv = fixture.started("living-room-tv").await;
    fixture.server.state.clock.advance(60);
    assert_eq!(fixture.heartbeat(&tv).await, 200);
    let lookup = tv.clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lookup = lookup.clone();
        let stored = fixture
            .server
            .state
            .store
            .run(move |conn| usher::foundation::store::streams::find(conn, &lookup))
            .await
            .unwrap();
        if stored.as_ref().map(|stream| stream.expires_at) == Some(START + 60 + 90) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the heartbeat was not written: {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_administrator_lists_a_persons_streams_and_stops_one(backend: Backend) {
    let fixture = fixture(backend, 2).await;
    let tv = fixture.started("living-room-tv").await;
    let admin = fixture.server.service_client(&["usher:admin"]).await;
    let token = common::issue_token(&fixture.server, &admin, Some("usher:admin")).await;
    let streams_url = fixture
        .server
        .endpoint(&format!("/admin/api/v1/users/{}/streams", fixture.user_id));
    let listed: Value = common::http()
        .get(&streams_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["stream_id"], tv.as_str(), "{listed}");
    assert_eq!(listed[0]["device_id"], "living-room-tv");
    assert_eq!(listed[0]["content"], "The Final");

    let stop_url = format!("{streams_url}/{tv}");
    let stopped = common::http()
        .delete(&stop_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 204);
    assert_eq!(fixture.heartbeat(&tv).await, 404);
    let again = common::http()
        .delete(&stop_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "no such stream any more");
    let audit: Value = common::http()
        .get(fixture.server.endpoint("/admin/api/v1/audit"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(audit.to_string().contains("stream.stop"), "{audit}");
}

on_both_backends!(
    an_administrator_lists_a_persons_streams_and_stops_one,
    a_start_answers_its_lease_and_the_accounts_count,
    a_start_over_the_limit_is_refused_with_the_streams_in_use,
    the_same_device_starting_again_replaces_its_own_stream,
    a_stream_without_heartbeats_expires_and_frees_its_slot,
    a_stopped_stream_answers_404_to_its_next_heartbeat,
    lowering_or_raising_the_tiers_limit_applies_to_the_next_start,
    introspection_carries_the_accounts_stream_limit,
    with_end_oldest_a_start_at_the_limit_ends_the_oldest_stream,
    a_tier_without_playback_refuses_every_start,
    signing_out_everywhere_ends_the_viewers_streams,
    a_new_password_ends_the_viewers_streams,
    disabling_the_account_from_the_command_line_ends_the_viewers_streams_within_a_second,
    a_stream_stopped_from_the_account_page_answers_404_to_its_next_heartbeat,
    another_persons_stream_is_not_stopped_from_the_account_page,
    a_revoked_or_foreign_token_starts_nothing,
    only_clients_holding_the_streams_scope_may_call,
    a_bearer_token_with_the_streams_scope_and_a_json_body_start_a_stream,
    a_start_without_a_device_id_is_a_clear_400,
    heartbeats_answered_from_memory_reach_the_database,
);

/// Runs docs/examples/streams/player.py for `device_id` with one heartbeat.
async fn run_documented_player(fixture: &Fixture, device_id: &str) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/streams/player.py");
    let output = tokio::process::Command::new("python3")
        .args([script, device_id, "The Final", "1"])
        .env("ISSUER", &fixture.server.url)
        .env("CLIENT_ID", &fixture.content_server.client_id)
        .env(
            "CLIENT_SECRET",
            fixture.content_server.client_secret.as_deref().unwrap(),
        )
        .env("VIEWER_TOKEN", &fixture.viewer_token)
        .output()
        .await
        .expect("python3 runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), printed)
}

/// The shortest lease, so the documented player's one heartbeat comes after 5 s.
fn short_lease(config: Config) -> Config {
    Config {
        stream_lease_secs: 15,
        ..config
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_player_starts_beats_and_stops() {
    let fixture = fixture_on(Backend::Sqlite, short_lease, 1, "refuse").await;
    let (code, printed) = run_documented_player(&fixture, "living-room-tv").await;
    assert_eq!(code, 0, "{printed}");
    assert!(
        printed.contains("heartbeat: the stream lives 15 s more"),
        "{printed}"
    );
    assert!(printed.contains("stopped (204)"), "{printed}");
    assert_eq!(fixture.start("phone").await.0, 201, "the stop freed the slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_player_lists_the_streams_in_use_at_the_limit() {
    let fixture = fixture_on(Backend::Sqlite, short_lease, 1, "refuse").await;
    let tv = fixture.started("living-room-tv").await;
    let (code, printed) = run_documented_player(&fixture, "phone").await;
    assert_eq!(code, 3, "{printed}");
    assert!(
        printed.contains("living-room-tv: The Final since 20"),
        "{printed}"
    );
    assert!(printed.contains(&tv), "{printed}");
}

/// Two instances on one PostgreSQL database, sharing an issuer.
async fn two_instances(db: &TestDb) -> (TestServer, TestServer) {
    let config = Config {
        issuer: Some("http://usher.cluster.test".into()),
        sync_interval_ms: 250,
        db_pool_size: 8,
        ..db.config()
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_racing_fifty_starts_at_a_limit_of_three_let_exactly_three_play() {
    let db = TestDb::new(Backend::Postgres);
    let (first, second) = two_instances(&db).await;
    let user_id = flow::create_user(&first, EMAIL).await;
    let app = first.create_client(flow::first_party_app()).await;
    let content_server = first.service_client(&["usher:streams"]).await;
    let viewer_token = flow::person_tokens(&first, &app, EMAIL, "openid").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = first.state.clock.now();
    first
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            manage::create_tier(conn, &actor, "family", &tier(3, "refuse"), now)?;
            let subscription = SubscriptionInput {
                tier: "family".into(),
                status: "active".into(),
                current_period_end: now + 86_400,
                external_ref: None,
            };
            manage::put_subscription(conn, &actor, &user_id, &subscription, now)
        })
        .await
        .unwrap();

    for round in 0..20 {
        let starts = (0..50).map(|device| {
            let server = if device % 2 == 0 { &first } else { &second };
            let (content_server, viewer_token) = (&content_server, &viewer_token);
            async move {
                start_on(
                    server,
                    content_server,
                    viewer_token,
                    &format!("device-{round}-{device}"),
                )
                .await
            }
        });
        let answers = futures_util::future::join_all(starts).await;
        let started: Vec<String> = answers
            .iter()
            .filter(|(status, _)| *status == 201)
            .map(|(_, body)| body["stream_id"].as_str().unwrap().to_owned())
            .collect();
        let refused = answers.iter().filter(|(status, _)| *status == 409).count();
        assert_eq!((started.len(), refused), (3, 47), "round {round}: {answers:?}");
        for stream_id in started {
            let stopped = common::http()
                .delete(first.endpoint(&format!("/streams/{stream_id}")))
                .basic_auth(&content_server.client_id, content_server.client_secret.as_deref())
                .send()
                .await
                .unwrap();
            assert_eq!(stopped.status(), 204);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_stopped_on_one_instance_is_over_on_the_other_within_a_second() {
    let db = TestDb::new(Backend::Postgres);
    let (first, second) = two_instances(&db).await;
    flow::create_user(&first, EMAIL).await;
    let app = first.create_client(flow::first_party_app()).await;
    let content_server = first.service_client(&["usher:streams"]).await;
    let viewer_token = flow::person_tokens(&first, &app, EMAIL, "openid").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = start_on(&first, &content_server, &viewer_token, "tv").await;
    assert_eq!(status, 201, "{body}");
    let stream_id = body["stream_id"].as_str().unwrap().to_owned();
    assert_eq!(
        heartbeat_on(&second, &content_server, &stream_id).await,
        200,
        "the second instance holds it now"
    );

    let stopped = common::http()
        .delete(first.endpoint(&format!("/streams/{stream_id}")))
        .basic_auth(&content_server.client_id, content_server.client_secret.as_deref())
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 204);
    let started = Instant::now();
    while heartbeat_on(&second, &content_server, &stream_id).await != 404 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still alive on the second instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
