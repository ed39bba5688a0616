//! Several instances on one PostgreSQL database: what one does, the others see within a second.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb, TestServer};
use usher::clock::Clock;
use usher::config::Config;

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
    let config = usher::config::Config {
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
    first.stop().await;
    second.stop().await;
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
    first.stop().await;
    late.stop().await;
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
        .run(move |conn| usher::crypto::keyring::rotate(conn, &state.master_key, now, 900))
        .await
        .unwrap();
    first.state.reload_keys().await.unwrap();
    let token = common::issue_token(&first, &client, None).await;
    // The second instance has not polled yet; an unknown kid makes it read the keys itself.
    assert_eq!(common::introspect(&second, &client, &token).await["active"], true);
    first.stop().await;
    second.stop().await;
}
