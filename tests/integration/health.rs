//! Liveness, readiness and metrics of an in-process server, as orchestrators and Prometheus
//! read them.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb, TestServer};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const POSTGRES_MAINTENANCE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long the server may take to notice the database went away, or came back.
const READINESS_DEADLINE: Duration = Duration::from_secs(15);
/// How long one `/readyz` probe may take, up or down: orchestrators give probes a short timeout
/// and count a slow answer as a failure.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    common::http()
        .get(server.endpoint(path))
        .send()
        .await
        .expect("request sent")
}

async fn healthz_answers_200_while_serving(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let response = get(&server, "/healthz").await;
    assert_eq!(response.status(), 200);
}

async fn readyz_answers_200_when_the_database_answers(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let response = get(&server, "/readyz").await;
    assert_eq!(response.status(), 200);
}

async fn health_endpoints_accept_only_get_and_head(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = common::http()
            .post(server.endpoint(path))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 405, "POST {path}");
        assert_eq!(response.headers()["allow"], "GET, HEAD", "POST {path}");
        let head = common::http()
            .head(server.endpoint(path))
            .send()
            .await
            .expect("request sent");
        assert_eq!(head.status(), 200, "HEAD {path}");
    }
}

/// A PostgreSQL database of this test's own (not a schema: connections to it can be refused),
/// dropped when the guard is, also when the test fails.
struct OwnDatabase {
    name: String,
}

impl OwnDatabase {
    fn create() -> Self {
        let suffix: [u8; 8] = usher::foundation::crypto::random::bytes();
        let name = format!(
            "usher_ready_{}",
            suffix
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        );
        admin_sql(&format!("CREATE DATABASE {name}"));
        Self { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Refuses new connections and ends the existing ones.
    fn refuse_connections(&self) {
        admin_sql(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", self.name));
        // A connection that was being opened as the database closed can show up in
        // pg_stat_activity a moment later: terminate until none is left.
        for _ in 0..50 {
            admin_sql(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ));
            std::thread::sleep(std::time::Duration::from_millis(100));
            if self.open_connections() == 0 {
                return;
            }
        }
    }

    fn open_connections(&self) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let mut admin =
            PgConnection::establish(POSTGRES_MAINTENANCE_URL).expect("PostgreSQL on 127.0.0.1:5432");
        diesel::sql_query(format!(
            "SELECT count(*) AS count FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .get_result::<Count>(&mut admin)
        .map_or(0, |row| row.count)
    }

    fn allow_connections(&self) {
        admin_sql(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.name));
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(POSTGRES_MAINTENANCE_URL) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn admin_sql(sql: &str) {
    PgConnection::establish(POSTGRES_MAINTENANCE_URL)
        .expect("PostgreSQL on 127.0.0.1:5432")
        .batch_execute(sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Polls `/readyz` until it answers `status`; returns that answer's body.
async fn wait_for_readyz(server: &TestServer, status: u16) -> String {
    let started = Instant::now();
    loop {
        let probe_started = Instant::now();
        let response = get(server, "/readyz").await;
        let probe_took = probe_started.elapsed();
        assert!(
            probe_took < PROBE_DEADLINE,
            "/readyz answered {} after {probe_took:?}",
            response.status()
        );
        if response.status() == status {
            return response.text().await.expect("body");
        }
        assert!(
            started.elapsed() < READINESS_DEADLINE,
            "/readyz still {} after {READINESS_DEADLINE:?}, expected {status}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_postgres_refuses_connections_and_200_once_it_accepts_again() {
    let database = OwnDatabase::create();
    let keys = TestDb::new(Backend::Sqlite);
    let config = Config {
        database_url: database.url(),
        ..keys.config()
    };
    let server = TestServer::start_with(config, Clock::System).await;
    assert_eq!(get(&server, "/readyz").await.status(), 200);

    database.refuse_connections();
    assert_eq!(wait_for_readyz(&server, 503).await, "database unavailable");

    database.allow_connections();
    assert_eq!(wait_for_readyz(&server, 200).await, "ready");
    assert_eq!(
        get(&server, "/healthz").await.status(),
        200,
        "liveness never depended on it"
    );
}

/// One client-credentials token and one introspection of it; returns the metrics text with the
/// token and the client secret.
async fn metrics_after_one_token_and_one_introspection(server: &TestServer) -> (String, String, String) {
    let client = server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(server, &client, None).await;
    let introspected = common::introspect(server, &client, &token).await;
    assert_eq!(introspected["active"], true);

    let response = get(server, "/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus text format: {content_type}"
    );
    let text = response.text().await.expect("body");
    (text, token, client.client_secret.expect("confidential client"))
}

async fn metrics_count_issued_tokens_introspections_and_requests_per_endpoint(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let (metrics, _, _) = metrics_after_one_token_and_one_introspection(&server).await;
    let lines: Vec<&str> = metrics.lines().collect();
    assert!(
        lines.contains(&r#"usher_tokens_issued_total{grant_type="client_credentials"} 1"#),
        "{metrics}"
    );
    assert!(
        lines.contains(&r#"usher_introspections_total{result="active"} 1"#),
        "{metrics}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line
                .starts_with(r#"usher_http_requests_total{endpoint="introspection",status="2xx"} "#)),
        "{metrics}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line
                .starts_with(r#"usher_http_request_duration_seconds_bucket{endpoint="introspection""#)),
        "{metrics}"
    );
}

async fn metrics_never_contain_a_token_or_a_secret(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let (metrics, token, secret) = metrics_after_one_token_and_one_introspection(&server).await;
    assert!(!metrics.contains(&token), "the access token leaked into metrics");
    assert!(
        !metrics.contains(&secret),
        "the client secret leaked into metrics"
    );
}

const METRICS_TOKEN: &str = "scraper-7f3a9c1e5b2d4680";

async fn server_with(config: Config) -> TestServer {
    TestServer::start_with(config, Clock::System).await
}

async fn get_metrics(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = common::http().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

async fn with_a_metrics_token_metrics_need_it_as_a_bearer_token(backend: Backend) {
    let db = TestDb::new(backend);
    let server = server_with(Config {
        metrics_token: Some(METRICS_TOKEN.into()),
        ..db.config()
    })
    .await;
    let url = server.endpoint("/metrics");

    let without = get_metrics(&url, None).await;
    assert_eq!(without.status(), 401);
    assert_eq!(without.headers()["www-authenticate"], "Bearer realm=\"usher\"");

    let wrong = get_metrics(&url, Some("scraper-7f3a9c1e5b2d4681")).await;
    assert_eq!(wrong.status(), 401);
    let challenge = wrong.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    let right = get_metrics(&url, Some(METRICS_TOKEN)).await;
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("usher_http_requests_total"));
}

async fn with_a_metrics_address_metrics_leave_the_public_listener(backend: Backend) {
    let db = TestDb::new(backend);
    let server = server_with(Config {
        metrics_bind: Some("127.0.0.1:0".into()),
        ..db.config()
    })
    .await;
    let metrics_addr = server
        .server
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("a metrics address");

    let public = get_metrics(&server.endpoint("/metrics"), None).await;
    assert_eq!(public.status(), 404);
    assert_eq!(get(&server, "/healthz").await.status(), 200);

    let separate = get_metrics(&format!("http://{metrics_addr}/metrics"), None).await;
    assert_eq!(separate.status(), 200);
    assert!(
        separate
            .text()
            .await
            .unwrap()
            .contains("usher_http_requests_total")
    );
    let other = get_metrics(&format!("http://{metrics_addr}/healthz"), None).await;
    assert_eq!(other.status(), 404, "only /metrics is served there");
}

// Under nextest each test runs in a process of its own, so the process-wide metric counts start
// at zero in each.
on_both_backends!(
    healthz_answers_200_while_serving,
    readyz_answers_200_when_the_database_answers,
    health_endpoints_accept_only_get_and_head,
    metrics_count_issued_tokens_introspections_and_requests_per_endpoint,
    metrics_never_contain_a_token_or_a_secret,
    with_a_metrics_token_metrics_need_it_as_a_bearer_token,
    with_a_metrics_address_metrics_leave_the_public_listener,
);
