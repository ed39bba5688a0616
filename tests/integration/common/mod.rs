//! The test kit: a real Usher server on a free port, on its own SQLite file or its own
//! PostgreSQL schema, started in one line.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod browser;
pub mod db_link;
pub mod flow;
pub mod shell_docs;
pub mod smtp;
pub mod tools;

use std::sync::Arc;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use usher::app::server::{self, RunningServer};
use usher::domain::entitlements::manage::{self, Actor, SubscriptionInput, TierInput};
use usher::domain::oauth::clients::{self, CreatedClient, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::web::state::AppState;

pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of a test's own, with a keys directory every instance on it shares.
/// Dropping it removes both.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("usher.db").display());
                Self {
                    backend,
                    url,
                    dir,
                    schema: None,
                }
            }
            Backend::Postgres => {
                let schema = format!("usher_t_{}", uuid_like());
                let mut admin =
                    PgConnection::establish(POSTGRES_ADMIN_URL).expect("PostgreSQL on 127.0.0.1:5432");
                admin
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create schema");
                let url = format!("{POSTGRES_ADMIN_URL}?options=-c%20search_path%3D{schema}");
                Self {
                    backend,
                    url,
                    dir,
                    schema: Some(schema),
                }
            }
        }
    }

    pub fn config(&self) -> Config {
        Config {
            database_url: self.url.clone(),
            bind: "127.0.0.1:0".into(),
            keys_dir: self.dir.path().join("keys"),
            // Mail without an SMTP server stays beside the test database.
            outbox_dir: self.dir.path().join("outbox"),
            sync_interval_ms: 50,
            workers: Some(1),
            db_pool_size: 4,
            // Tests share two cores with each other and with browsers: opening a connection
            // may take longer than a production instance is allowed to wait.
            db_acquire_timeout_ms: 5_000,
            ..Config::default()
        }
    }
}

/// A self-signed certificate for `localhost`, written beside the test database, so the server
/// speaks HTTPS as RFC 7009 clients demand.
pub struct Tls {
    pub cert_pem: String,
}

impl TestDb {
    pub fn tls_config(&self) -> (Config, Tls) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let cert_pem = certified.cert.pem();
        let cert_file = self.dir.path().join("tls-cert.pem");
        let key_file = self.dir.path().join("tls-key.pem");
        std::fs::write(&cert_file, &cert_pem).expect("write cert");
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write key");
        let config = Config {
            tls_cert_file: Some(cert_file),
            tls_key_file: Some(key_file),
            ..self.config()
        };
        (config, Tls { cert_pem })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema
            && let Ok(mut admin) = PgConnection::establish(POSTGRES_ADMIN_URL)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

fn uuid_like() -> String {
    let bytes: [u8; 8] = usher::foundation::crypto::random::bytes();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A running server, stopped when dropped. Whatever holds a server and its [`TestDb`] drops the
/// server first: fixtures declare the database after the server (struct fields drop first to
/// last), tests bind it before (local variables drop last to first).
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub url: String,
    pub state: Arc<AppState>,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db.config(), Clock::System).await
    }

    pub async fn start_with(config: Config, clock: Clock) -> Self {
        let scheme = if config.tls_cert_file.is_some() {
            "https"
        } else {
            "http"
        };
        let server = server::start(config, clock).await.expect("server starts");
        // The server's own address: instances of one cluster share an issuer, not a port.
        let url = format!("{scheme}://localhost:{}", server.addr.port());
        let state = Arc::clone(&server.state);
        Self {
            server: Some(server),
            url,
            state,
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Registers a content server: a confidential resource server allowed the client
    /// credentials grant.
    pub async fn service_client(&self, scopes: &[&str]) -> CreatedClient {
        self.create_client(NewClient {
            name: "content service".into(),
            grant_types: vec!["client_credentials".into()],
            resource_server: true,
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            ..NewClient::default()
        })
        .await
    }

    pub async fn create_client(&self, new: NewClient) -> CreatedClient {
        let now = self.state.clock.now();
        self.state
            .store
            .run(move |conn| clients::create(conn, new, now))
            .await
            .expect("client created")
    }

    /// Stops the server now, for a test that goes on without it; dropping it does the same.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl Drop for TestServer {
    /// Stops the server before returning, as [`TestServer::stop`] does: its database, dropped
    /// next, is not removed under a running server, and a failed test leaves no server behind.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            finish_in_drop(server.stop());
        }
    }
}

/// Runs `work` to its end from a `drop`: blocking, on the multi-threaded runtime every test that
/// starts a server runs on; elsewhere only started, on the current runtime if there is one.
pub(crate) fn finish_in_drop(work: impl Future<Output = ()> + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    match runtime.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime.block_on(work));
        }
        _ => drop(runtime.spawn(work)),
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Posts a form with HTTP Basic client authentication.
pub async fn post_form(url: &str, client: &CreatedClient, form: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(url)
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .form(form)
        .send()
        .await
        .expect("request sent")
}

pub async fn issue_token(server: &TestServer, client: &CreatedClient, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = post_form(&server.endpoint("/oauth/token"), client, &form).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("access_token").to_owned()
}

pub async fn introspect(server: &TestServer, client: &CreatedClient, token: &str) -> serde_json::Value {
    let response = post_form(&server.endpoint("/oauth/introspect"), client, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Runs each named `async fn NAME(backend: Backend)` as two tests, one per database.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Creates the tier `slug` as `tier` says and subscribes `user_id` to it, active for 30 days,
/// both by the payment service's client.
pub async fn subscribe(server: &TestServer, user_id: &str, slug: &str, tier: TierInput) {
    let (now, subscriber, slug) = (server.state.clock.now(), user_id.to_owned(), slug.to_owned());
    server
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            manage::create_tier(conn, &actor, &slug, &tier, now)?;
            let subscription = SubscriptionInput {
                tier: slug,
                status: "active".into(),
                current_period_end: now + 30 * 86_400,
                external_ref: None,
            };
            manage::put_subscription(conn, &actor, &subscriber, &subscription, now)
        })
        .await
        .expect("tier created and subscribed");
}
