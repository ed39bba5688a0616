//! Several instances on one PostgreSQL database: what one does, the others see within a second.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb, TestServer};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

/// Instances behind one load balancer share the public issuer.
fn cluster_config(db: &TestDb) -> Config {
    Config {
        issuer: Some("https://usher.cluster.test".into()),
        ..db.config()
    }
}

/// Polls `check` until it holds, returning how long it took; fails after `limit`.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_is_seen_by_another_within_a_second() {
    let db = TestDb::new(Backend::Postgres);
    // The production poll interval, not the test kit's faster one.
    let config = usher::foundation::config::Config {
        sync_interval_ms: 250,
        ..cluster_config(&db)
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    let client = first.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&first, &client, None).await;
    assert_eq!(
        common::introspect(&second, &client, &token).await["active"],
        true,
        "shared keys"
    );

    let revoked = common::post_form(&first.endpoint("/oauth/revoke"), &client, &[("token", &token)]).await;
    assert_eq!(revoked.status(), 200);
    let seen_after = within(Duration::from_secs(1), || async {
        common::introspect(&second, &client, &token).await["active"] == false
    })
    .await;
    eprintln!("second instance saw the revocation after {seen_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_made_before_an_instance_starts_is_known_to_it() {
    let db = TestDb::new(Backend::Postgres);
    let first = TestServer::start_with(cluster_config(&db), Clock::System).await;
    let client = first.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&first, &client, None).await;
    let revoked = common::post_form(&first.endpoint("/oauth/revoke"), &client, &[("token", &token)]).await;
    assert_eq!(revoked.status(), 200);

    let late = TestServer::start_with(cluster_config(&db), Clock::System).await;
    assert_eq!(common::introspect(&late, &client, &token).await["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_through_one_instance_verifies_at_once_on_another() {
    let db = TestDb::new(Backend::Postgres);
    let first = TestServer::start_with(cluster_config(&db), Clock::System).await;
    let second = TestServer::start_with(cluster_config(&db), Clock::System).await;
    let client = first.service_client(&["catalog:read"]).await;
    let state = std::sync::Arc::clone(&first.state);
    let now = state.clock.now();
    first
        .state
        .store
        .run(move |conn| usher::foundation::crypto::keyring::rotate(conn, &state.master_key, now, 900))
        .await
        .unwrap();
    first.state.core.reload_keys().await.unwrap();
    let token = common::issue_token(&first, &client, None).await;
    // The second instance has not polled yet; an unknown kid makes it read the keys itself.
    assert_eq!(common::introspect(&second, &client, &token).await["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entitlement_change_on_one_instance_shows_in_anothers_introspection_within_a_second() {
    use usher::domain::entitlements::manage::{self, Actor, TierInput};

    let db = TestDb::new(Backend::Postgres);
    // An http issuer: the test signs in over plain HTTP, where Secure cookies would not travel.
    let config = Config {
        issuer: Some("http://usher.cluster.test".into()),
        sync_interval_ms: 250,
        ..db.config()
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    let user_id = common::flow::create_user(&first, "viewer@example.com").await;
    let app = first.create_client(common::flow::first_party_app()).await;
    let tokens = common::flow::person_tokens(&first, &app, "viewer@example.com", "openid entitlements").await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let service = first.service_client(&[]).await;
    let before = common::introspect(&second, &service, &token).await;
    assert_eq!(before["active"], true);
    assert!(before.get("tier").is_none(), "no subscription yet: {before}");

    let now = first.state.clock.now();
    first
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            let tier = TierInput {
                name: "Premium".into(),
                rank: 20,
                features: vec!["4k".into()],
                max_streams: 4,
                stream_limit_policy: None,
                max_devices: None,
                max_profiles: None,
                max_members: 0,
            };
            manage::create_tier(conn, &actor, "premium", &tier, now)?;
            let subscription = manage::SubscriptionInput {
                tier: "premium".into(),
                status: "active".into(),
                current_period_end: now + 86_400,
                external_ref: None,
            };
            manage::put_subscription(conn, &actor, &user_id, &subscription, now)
        })
        .await
        .unwrap();
    let seen_after = within(Duration::from_secs(1), || async {
        common::introspect(&second, &service, &token).await["tier"] == "premium"
    })
    .await;
    eprintln!("second instance saw the entitlement change after {seen_after:?}");
}

/// The `jti` and `exp` of an access token, read without verifying it.
fn jti_and_exp(token: &str) -> (String, i64) {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWS");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    (
        claims["jti"].as_str().expect("jti").to_owned(),
        claims["exp"].as_i64().expect("exp"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_held_in_an_open_transaction_reaches_another_instance_within_a_second_of_its_commit() {
    use diesel::Connection;
    use usher::foundation::store::{DbConnection, StoreError, revocations};

    let db = TestDb::new(Backend::Postgres);
    let config = Config {
        sync_interval_ms: 250,
        ..cluster_config(&db)
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    let client = first.service_client(&["catalog:read"]).await;
    let held_token = common::issue_token(&first, &client, None).await;
    let later_token = common::issue_token(&first, &client, None).await;
    assert_eq!(
        common::introspect(&second, &client, &held_token).await["active"],
        true
    );

    // A revocation whose transaction takes its place in the feed now and commits seconds later,
    // as one waiting on a lock or a slow disk would.
    let (jti, expires_at) = jti_and_exp(&held_token);
    let now = first.state.clock.now();
    let url = db.url.clone();
    let (written, wait_for_written) = std::sync::mpsc::channel();
    let (commit, wait_for_commit) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let pg = diesel::pg::PgConnection::establish(&url).expect("PostgreSQL");
        let mut conn = DbConnection::Postgres(pg);
        usher::foundation::store::transaction(&mut conn, |conn| {
            revocations::revoke(conn, &jti, expires_at, now)?;
            written.send(()).expect("test waits");
            wait_for_commit.recv().expect("test says commit");
            Ok::<_, StoreError>(())
        })
        .expect("held transaction commits");
    });
    wait_for_written.recv().expect("held revocation written");

    // Meanwhile a later change commits through the first instance and reaches the second.
    let revoked = common::post_form(
        &first.endpoint("/oauth/revoke"),
        &client,
        &[("token", &later_token)],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    within(Duration::from_secs(1), || async {
        common::introspect(&second, &client, &later_token).await["active"] == false
    })
    .await;
    // Longer than any look-back window a poll might use.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        common::introspect(&second, &client, &held_token).await["active"],
        true,
        "not committed yet"
    );

    commit.send(()).expect("holder waits");
    tokio::task::spawn_blocking(move || holder.join().expect("holder thread"))
        .await
        .expect("joined");
    let seen_after = within(Duration::from_secs(1), || async {
        common::introspect(&second, &client, &held_token).await["active"] == false
    })
    .await;
    eprintln!("second instance applied the held revocation {seen_after:?} after its commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_counted_on_one_instance_lock_the_password_on_another() {
    use common::flow::{Browser, PASSWORD, create_user};

    let db = TestDb::new(Backend::Postgres);
    // An http issuer: the test signs in over plain HTTP, where Secure cookies would not travel.
    let config = Config {
        issuer: Some("http://usher.cluster.test".into()),
        login_failures_per_account: 3,
        ..db.config()
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    create_user(&first, "viewer@example.com").await;
    let on_first = Browser::new(&first);
    for _ in 0..3 {
        let wrong = on_first.sign_in(None, "viewer@example.com", "a guess").await;
        assert_eq!(wrong.status(), 401);
    }

    let on_second = Browser::new(&second);
    let right = on_second.sign_in(None, "viewer@example.com", PASSWORD).await;
    assert_eq!(right.status(), 429, "one budget for every instance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_on_one_instance_ends_access_tokens_on_another_within_a_second() {
    let db = TestDb::new(Backend::Postgres);
    // Plain http, so the test's cookie jar keeps the session cookies.
    let config = Config {
        sync_interval_ms: 250,
        issuer: Some("http://usher.cluster.test".into()),
        ..db.config()
    };
    let first = TestServer::start_with(config.clone(), Clock::System).await;
    let second = TestServer::start_with(config, Clock::System).await;
    common::flow::create_user(&first, "viewer@example.com").await;
    let app = first.create_client(common::flow::first_party_app()).await;
    let tokens = common::flow::person_tokens(&first, &app, "viewer@example.com", "openid").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        common::introspect(&second, &app, access_token).await["active"],
        true
    );

    let laptop = common::flow::Browser::new(&first);
    laptop
        .sign_in(None, "viewer@example.com", common::flow::PASSWORD)
        .await;
    let account = laptop.get("/account").await.text().await.unwrap();
    let csrf = common::flow::hidden_field(&account, "csrf");
    let ended = laptop
        .post("/account/sessions/end-all", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(ended.status(), 303);

    let seen_after = within(Duration::from_secs(1), || async {
        common::introspect(&second, &app, access_token).await["active"] == false
    })
    .await;
    eprintln!("second instance ended the token {seen_after:?} after the sign-out");
}
