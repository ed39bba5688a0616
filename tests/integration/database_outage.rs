//! PostgreSQL going away under a running server (the link to it cut): what needs the database
//! is answered at once with 503 and `Retry-After`, never a 500 and never a hang; introspection
//! answers with a person's recent last known entitlements; all of it recovers without a
//! restart when the database is back.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::Value;
use usher::domain::entitlements::manage::{self, Actor, SubscriptionInput, TierInput};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::store::{DbConnection, StoreError, transaction};

use crate::common::db_link::DatabaseLink;
use crate::common::flow::{self, first_party_app, person_tokens};
use crate::common::{self, Backend, TestDb, TestServer};

const START: i64 = 1_900_000_000;
const EMAIL: &str = "viewer@example.com";
/// Far beyond the acquire timeout (1 s), far below the 10 s a request used to hang.
const NO_HANG: Duration = Duration::from_secs(3);

/// A server on PostgreSQL through a link the test can cut, with a subscriber whose token and
/// entitlements the server has already seen.
struct Outage {
    server: TestServer,
    link: DatabaseLink,
    user_id: String,
    service: CreatedClient,
    app: CreatedClient,
    access_token: String,
    refresh_token: String,
    _db: TestDb,
}

async fn outage() -> Outage {
    let db = TestDb::new(Backend::Postgres);
    let link = DatabaseLink::start().await;
    let config = Config {
        database_url: link.url(&db.url),
        db_acquire_timeout_ms: Config::default().db_acquire_timeout_ms,
        db_work_timeout_ms: 500,
        ..db.config()
    };
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let subscriber = user_id.clone();
    server
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            let gold = TierInput {
                name: "Gold".into(),
                rank: 10,
                features: vec!["hd".into()],
                max_streams: 2,
                stream_limit_policy: None,
                max_devices: None,
                max_profiles: None,
                max_members: 0,
            };
            manage::create_tier(conn, &actor, "gold", &gold, START).unwrap();
            let subscription = SubscriptionInput {
                tier: "gold".into(),
                status: "active".into(),
                current_period_end: START + 30 * 24 * 3600,
                external_ref: None,
            };
            manage::put_subscription(conn, &actor, &subscriber, &subscription, START).unwrap();
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    let app = server.create_client(first_party_app()).await;
    let tokens = person_tokens(&server, &app, EMAIL, "openid offline_access").await;
    let service = server.service_client(&[]).await;
    let site = Outage {
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        server,
        link,
        user_id,
        service,
        app,
        _db: db,
    };
    let (status, answer) = site.introspect().await;
    assert_eq!((status, answer["tier"].as_str()), (200, Some("gold")));
    site
}

impl Outage {
    /// Introspects the subscriber's access token; fails the test if the answer took long.
    async fn introspect(&self) -> (u16, Value) {
        let started = Instant::now();
        let response = common::post_form(
            &self.server.endpoint("/oauth/introspect"),
            &self.service,
            &[("token", &self.access_token)],
        )
        .await;
        assert!(
            started.elapsed() < NO_HANG,
            "introspection took {:?}",
            started.elapsed()
        );
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn refresh(&self) -> reqwest::Response {
        let started = Instant::now();
        let response = common::post_form(
            &self.server.endpoint("/oauth/token"),
            &self.app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &self.refresh_token),
            ],
        )
        .await;
        assert!(
            started.elapsed() < NO_HANG,
            "the token endpoint took {:?}",
            started.elapsed()
        );
        response
    }

    /// The subscriber's entitlements changed just before the outage: this instance must read
    /// them again before it answers with them.
    fn entitlements_changed(&self) {
        self.server.state.entitlements.invalidate(&self.user_id);
    }
}

fn assert_retry_later(response: &reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_with_recent_last_known_entitlements_while_the_database_is_away() {
    let site = outage().await;
    site.entitlements_changed();
    site.link.cut().await;
    site.server.state.clock.advance(30);

    let (status, answer) = site.introspect().await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["active"], true);
    assert_eq!(answer["tier"], "gold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_does_not_wait_on_a_database_that_stops_answering() {
    use diesel::{Connection, RunQueryDsl};

    let site = outage().await;
    site.entitlements_changed();
    // A transaction holds the subscriptions table: reading it waits as it would on a frozen
    // database, which accepts the query and never answers.
    let url = site._db.url.clone();
    let (locked, wait_for_lock) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let pg = diesel::pg::PgConnection::establish(&url).expect("PostgreSQL");
        let mut conn = DbConnection::Postgres(pg);
        transaction(&mut conn, |conn| {
            diesel::sql_query("LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE").execute(conn)?;
            locked.send(()).expect("test waits");
            // Let go in the end even if the test never says so.
            let _ = released.recv_timeout(Duration::from_secs(10));
            Ok::<_, diesel::result::Error>(())
        })
        .expect("the lock is held and let go");
    });
    wait_for_lock.recv().expect("lock held");
    site.server.state.clock.advance(30);

    let (status, answer) = site.introspect().await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["tier"], "gold", "the last known entitlements");

    release.send(()).expect("holder waits");
    holder.join().expect("holder thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_503_when_the_last_known_entitlements_are_too_old() {
    let site = outage().await;
    site.entitlements_changed();
    site.link.cut().await;
    site.server.state.clock.advance(61);

    let response = common::post_form(
        &site.server.endpoint("/oauth/introspect"),
        &site.service,
        &[("token", &site.access_token)],
    )
    .await;
    assert_retry_later(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_answers_503_with_retry_after_while_the_database_is_away() {
    let site = outage().await;
    site.link.cut().await;

    for _ in 0..3 {
        let response = site.refresh().await;
        assert_retry_later(&response);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_answers_503_with_retry_after_while_the_database_is_away() {
    let site = outage().await;
    let admin = site.server.service_client(&["usher:admin"]).await;
    let token = common::issue_token(&site.server, &admin, Some("usher:admin")).await;
    site.link.cut().await;

    let started = Instant::now();
    let response = common::http()
        .get(
            site.server
                .endpoint(&format!("/admin/api/v1/users/{}", site.user_id)),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < NO_HANG);
    assert_retry_later(&response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_again_without_a_restart_once_the_database_is_back() {
    let site = outage().await;
    site.link.cut().await;
    assert_retry_later(&site.refresh().await);

    site.link.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = site.refresh().await;
        if response.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after the database came back",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
