//! Webhooks on both databases: an entitlement change reaches a real HTTP receiver as a POST
//! signed in the Standard Webhooks format (and the deprecated Usher format); a replaced secret
//! signs beside the new one until its overlap ends; failures are recorded and retried after the
//! backoff (moved with a manual clock), and given up after the last attempt; two instances
//! sharing a database send each event once; the command line registers and removes endpoints;
//! the documentation's receiver verifies deliveries with the `standardwebhooks` library.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Backend, TestDb, TestServer, flow, tools};
use diesel::prelude::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use usher::domain::entitlements::manage::{self, Actor, SubscriptionInput, TierInput};
use usher::domain::webhooks::{self, WebhookError};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::store::schema::{webhook_deliveries, webhook_endpoints};

const START: i64 = 1_900_000_000;
/// How long a test waits for something the worker does within a poll or two.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The receiver

/// One request as the receiver saw it; header names in lower case.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// The Standard Webhooks signatures, in the order sent.
    fn signatures(&self) -> Vec<&str> {
        self.header("webhook-signature").split(' ').collect()
    }

    /// The Standard Webhooks signature `secret` (`whsec_…`, as registration gave it) makes of
    /// this request, computed as the specification says.
    fn signature_by(&self, secret: &str) -> String {
        let key = BASE64
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 after whsec_");
        let signed = format!(
            "{}.{}.{}",
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            self.body
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        format!("v1,{}", BASE64.encode(ring::hmac::sign(&key, signed.as_bytes())))
    }

    /// Checks the request as receivers would with the secret from registration: one of its
    /// Standard Webhooks signatures, and the deprecated Usher signature (keyed with the secret's
    /// characters, over the timestamp and the body).
    fn assert_signed_with(&self, secret: &str) {
        assert!(
            self.signatures().contains(&self.signature_by(secret).as_str()),
            "no signature by {secret} in {self:?}"
        );
        assert_eq!(self.header("Usher-Webhook-Id"), self.header("webhook-id"));
        assert_eq!(
            self.header("Usher-Webhook-Timestamp"),
            self.header("webhook-timestamp")
        );
        let timestamp = self.header("Usher-Webhook-Timestamp");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = ring::hmac::sign(&key, format!("{timestamp}.{}", self.body).as_bytes());
        let hex: String = tag.as_ref().iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(self.header("Usher-Webhook-Signature"), format!("v1={hex}"));
    }
}

/// An HTTP/1.1 endpoint on a free port that records every request and answers `500` to the
/// first `failures` of them, `200` after.
struct Receiver {
    port: u16,
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel();
        let failures_left = Arc::new(AtomicUsize::new(failures));
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, tx.clone(), Arc::clone(&failures_left)));
            }
        });
        Self {
            port,
            received: tokio::sync::Mutex::new(rx),
            accept,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/usher", self.port)
    }

    async fn next_request(&self) -> Received {
        let mut received = self.received.lock().await;
        match tokio::time::timeout(PATIENCE, received.recv()).await {
            Ok(Some(request)) => request,
            _ => panic!("no webhook reached the receiver within {PATIENCE:?}"),
        }
    }

    /// Fails if a request arrives within `wait`.
    async fn assert_quiet_for(&self, wait: Duration) {
        let mut received = self.received.lock().await;
        if let Ok(Some(request)) = tokio::time::timeout(wait, received.recv()).await {
            panic!("unexpected webhook: {request:?}");
        }
    }

    /// Everything received so far.
    async fn drain(&self) -> Vec<Received> {
        let mut received = self.received.lock().await;
        let mut all = Vec::new();
        while let Ok(request) = received.try_recv() {
            all.push(request);
        }
        all
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn answer(
    stream: TcpStream,
    received: mpsc::UnboundedSender<Received>,
    failures_left: Arc<AtomicUsize>,
) {
    let mut stream = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if line.trim_end().is_empty() {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    let Some(request_line) = head.first() else { return };
    let mut parts = request_line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let headers: HashMap<String, String> = head[1..]
        .iter()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if stream.read_exact(&mut body).await.is_err() {
        return;
    }
    let fail = failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
        .is_ok();
    let _ = received.send(Received {
        method,
        path,
        headers,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    });
    let status = if fail {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// A site: a server with a manual clock, a service client, a person and a tier

fn webhook_config(db: &TestDb) -> Config {
    Config {
        webhook_poll_interval_ms: 20,
        webhook_timeout_secs: 2,
        ..db.config()
    }
}

struct Site {
    server: TestServer,
    client_id: String,
    user_id: String,
    _db: TestDb,
}

async fn site_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Site {
    let db = TestDb::new(backend);
    let mut config = webhook_config(&db);
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let client_id = server.service_client(&["catalog:read"]).await.client_id;
    let user_id = flow::create_user(&server, "viewer@example.com").await;
    let now = server.state.clock.now();
    server
        .state
        .store
        .run(move |conn| {
            let input = TierInput {
                name: "Premium".into(),
                rank: 10,
                features: vec!["hd".into()],
                max_streams: 2,
                stream_limit_policy: None,
                max_devices: None,
                max_profiles: None,
                max_members: 0,
            };
            manage::create_tier(conn, &Actor::client("payments"), "premium", &input, now)
        })
        .await
        .expect("tier created");
    Site {
        _db: db,
        server,
        client_id,
        user_id,
    }
}

async fn site(backend: Backend) -> Site {
    site_with(backend, |_| {}).await
}

/// A delivery as stored.
#[derive(Debug, Queryable)]
struct Delivery {
    event_id: String,
    url: String,
    body: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
    last_status: Option<i32>,
    last_error: Option<String>,
}

impl Site {
    fn now(&self) -> i64 {
        self.server.state.clock.now()
    }

    /// Registers the client's endpoint through the plain function; returns the secret.
    async fn register(&self, url: &str) -> String {
        let overlap_secs = self.server.state.config.webhook_secret_overlap_secs;
        self.register_with_overlap(url, overlap_secs).await.secret
    }

    async fn register_with_overlap(&self, url: &str, overlap_secs: i64) -> webhooks::Registered {
        let (state, client_id, url, now) = (
            Arc::clone(&self.server.state),
            self.client_id.clone(),
            url.to_owned(),
            self.now(),
        );
        self.server
            .state
            .store
            .run(move |conn| webhooks::register(conn, &state.master_key, &client_id, &url, overlap_secs, now))
            .await
            .expect("endpoint registered")
    }

    /// Puts the person's subscription: one `subscription.put` event.
    async fn change_subscription(&self, period_end: i64) {
        let (user_id, now) = (self.user_id.clone(), self.now());
        self.server
            .state
            .store
            .run(move |conn| {
                let input = SubscriptionInput {
                    tier: "premium".into(),
                    status: "active".into(),
                    current_period_end: period_end,
                    external_ref: None,
                };
                manage::put_subscription(conn, &Actor::client("payments"), &user_id, &input, now)
            })
            .await
            .expect("subscription put");
    }

    async fn deliveries(&self) -> Vec<Delivery> {
        self.server
            .state
            .store
            .run(|conn| {
                use webhook_deliveries::dsl as d;
                d::webhook_deliveries
                    .order(d::id.asc())
                    .select((
                        d::event_id,
                        d::url,
                        d::body,
                        d::attempts,
                        d::next_attempt_at,
                        d::delivered_at,
                        d::last_status,
                        d::last_error,
                    ))
                    .load::<Delivery>(conn)
                    .map_err(usher::foundation::store::StoreError::Query)
            })
            .await
            .expect("deliveries read")
    }

    /// The only delivery, once `done` holds for it.
    async fn delivery_when(&self, done: impl Fn(&Delivery) -> bool) -> Delivery {
        let started = Instant::now();
        loop {
            let mut deliveries = self.deliveries().await;
            assert_eq!(deliveries.len(), 1, "{deliveries:?}");
            let delivery = deliveries.remove(0);
            if done(&delivery) {
                return delivery;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "delivery not in the expected state: {delivery:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests on both databases

async fn a_change_is_posted_signed_to_the_registered_endpoint(backend: Backend) {
    let site = site(backend).await;
    let receiver = Receiver::start(0).await;
    let secret = site.register(&receiver.url()).await;
    assert_eq!(
        BASE64
            .decode(secret.strip_prefix("whsec_").unwrap())
            .map(|key| key.len()),
        Ok(32),
        "whsec_ and the base64 of 256 bits: {secret}"
    );

    site.change_subscription(START + 30 * 86_400).await;
    let request = receiver.next_request().await;

    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/usher");
    assert_eq!(request.header("Content-Type"), "application/json");
    assert_eq!(request.header("webhook-timestamp"), START.to_string());
    request.assert_signed_with(&secret);
    assert_eq!(request.signatures().len(), 1, "one secret, one signature");
    let body = request.json();
    assert_eq!(request.header("webhook-id"), body["id"]);
    assert_eq!(body["event"], "subscription.put");
    assert_eq!(body["user_id"], site.user_id.as_str());
    assert_eq!(body["target"], site.user_id.as_str());
    assert_eq!(body["affected_users"], serde_json::json!([site.user_id]));
    assert_eq!(body["data"]["tier"], "premium");
    assert_eq!(body["created_at"], START);

    let delivery = site
        .delivery_when(|delivery| delivery.delivered_at.is_some())
        .await;
    assert_eq!(delivery.delivered_at, Some(START));
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_status, Some(200));
    assert_eq!(delivery.next_attempt_at, None);
    assert_eq!(delivery.body, request.body, "sent verbatim");
    assert_eq!(delivery.event_id, body["id"]);
    receiver.assert_quiet_for(Duration::from_millis(200)).await;

    // The secret is stored sealed, under this client's name only.
    let client_id = site.client_id.clone();
    let sealed: String = site
        .server
        .state
        .store
        .run(move |conn| {
            webhook_endpoints::table
                .find(client_id)
                .select(webhook_endpoints::sealed_secret)
                .first(conn)
                .map_err(usher::foundation::store::StoreError::Query)
        })
        .await
        .unwrap();
    assert!(!sealed.contains(&secret));
    let master_key = &site.server.state.master_key;
    assert_eq!(
        master_key
            .unseal(&format!("webhook:{}", site.client_id), &sealed)
            .unwrap(),
        secret.as_bytes()
    );
    assert!(master_key.unseal("webhook:another-client", &sealed).is_err());

    // No endpoint for a client that does not exist, nor at a URL that is not http(s).
    let state = Arc::clone(&site.server.state);
    let client_id = site.client_id.clone();
    let (unknown, bad_url) = site
        .server
        .state
        .store
        .run(move |conn| {
            let unknown = webhooks::register(
                conn,
                &state.master_key,
                "no-such-client",
                "https://x.test/",
                0,
                START,
            );
            let bad_url = webhooks::register(conn, &state.master_key, &client_id, "ftp://x.test/", 0, START);
            Ok::<_, usher::foundation::store::StoreError>((unknown, bad_url))
        })
        .await
        .unwrap();
    assert!(
        matches!(unknown, Err(WebhookError::NotFound("client"))),
        "{unknown:?}"
    );
    assert!(
        matches!(bad_url, Err(WebhookError::Invalid { field: "url", .. })),
        "{bad_url:?}"
    );
}

async fn a_failed_delivery_is_retried_after_the_backoff(backend: Backend) {
    let site = site(backend).await;
    let receiver = Receiver::start(1).await;
    let secret = site.register(&receiver.url()).await;
    site.change_subscription(START + 86_400).await;

    let first = receiver.next_request().await;
    let failed = site.delivery_when(|delivery| delivery.attempts == 1).await;
    assert_eq!(failed.last_status, Some(500));
    assert_eq!(failed.delivered_at, None);
    assert_eq!(failed.next_attempt_at, Some(START + 5), "first retry after 5 s");
    // Not before its time: many polls pass without a second attempt.
    receiver.assert_quiet_for(Duration::from_millis(300)).await;

    site.server.state.clock.advance(5);
    let second = receiver.next_request().await;
    assert_eq!(second.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("webhook-timestamp"), (START + 5).to_string());
    second.assert_signed_with(&secret);

    let delivered = site
        .delivery_when(|delivery| delivery.delivered_at.is_some())
        .await;
    assert_eq!(delivered.delivered_at, Some(START + 5));
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.last_status, Some(200));
    assert_eq!(delivered.next_attempt_at, None);
    receiver.assert_quiet_for(Duration::from_millis(200)).await;
}

async fn a_delivery_is_given_up_after_the_last_attempt(backend: Backend) {
    let site = site_with(backend, |config| config.webhook_max_attempts = 3).await;
    let receiver = Receiver::start(usize::MAX).await;
    site.register(&receiver.url()).await;
    site.change_subscription(START + 86_400).await;

    for attempt in 1..=3 {
        receiver.next_request().await;
        let delivery = site.delivery_when(|delivery| delivery.attempts == attempt).await;
        assert_eq!(delivery.last_status, Some(500));
        assert_eq!(delivery.delivered_at, None);
        if attempt < 3 {
            let due = delivery.next_attempt_at.expect("another attempt is due");
            // 5 s, then 10 s, plus up to a tenth of jitter.
            let delay = due - site.now();
            assert!((5 * (1 << (attempt - 1))..=11).contains(&delay), "{delay}");
            site.server.state.clock.advance(delay);
        } else {
            assert_eq!(delivery.next_attempt_at, None, "given up");
        }
    }
    site.server.state.clock.advance(10 * 3600);
    receiver.assert_quiet_for(Duration::from_millis(300)).await;
}

async fn an_unreachable_endpoint_is_retried_at_its_new_address(backend: Backend) {
    let site = site(backend).await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed_url = format!("http://127.0.0.1:{closed_port}/hooks");
    site.register(&closed_url).await;
    site.change_subscription(START + 86_400).await;

    let failed = site.delivery_when(|delivery| delivery.attempts == 1).await;
    assert_eq!(failed.last_status, None, "no HTTP answer");
    let error = failed.last_error.expect("the connection error is recorded");
    assert!(!error.is_empty());
    assert_eq!(failed.url, closed_url);

    // Registering again moves what waits to the new address, signed with the new secret.
    let receiver = Receiver::start(0).await;
    let secret = site.register(&receiver.url()).await;
    site.server.state.clock.advance(5);
    let request = receiver.next_request().await;
    request.assert_signed_with(&secret);
    let delivered = site
        .delivery_when(|delivery| delivery.delivered_at.is_some())
        .await;
    assert_eq!(delivered.attempts, 2);
    assert_eq!(delivered.url, receiver.url());
    assert_eq!(delivered.last_error, None);
}

async fn removing_the_endpoint_gives_up_what_waits(backend: Backend) {
    let site = site(backend).await;
    let receiver = Receiver::start(1).await;
    site.register(&receiver.url()).await;
    site.change_subscription(START + 86_400).await;
    receiver.next_request().await;
    site.delivery_when(|delivery| delivery.attempts == 1).await;

    let client_id = site.client_id.clone();
    let removed = site
        .server
        .state
        .store
        .run(move |conn| {
            let first = webhooks::remove(conn, &client_id)?;
            let second = webhooks::remove(conn, &client_id)?;
            Ok::<_, WebhookError>((first, second))
        })
        .await
        .unwrap();
    assert_eq!(removed, (true, false));
    let given_up = site
        .delivery_when(|delivery| delivery.next_attempt_at.is_none())
        .await;
    assert_eq!(given_up.delivered_at, None);
    assert_eq!(given_up.last_error.as_deref(), Some("endpoint removed"));

    // Nothing is queued any more, nor sent.
    site.change_subscription(START + 2 * 86_400).await;
    assert_eq!(site.deliveries().await.len(), 1);
    site.server.state.clock.advance(3600);
    receiver.assert_quiet_for(Duration::from_millis(200)).await;
}

async fn two_instances_send_each_event_exactly_once(backend: Backend) {
    const EVENTS: usize = 24;
    let site = site_with(backend, |config| config.webhook_poll_interval_ms = 10).await;
    // A second instance on the same database, with the same keys and the same clock.
    let config = Config {
        webhook_poll_interval_ms: 10,
        ..webhook_config(&site._db)
    };
    let _other = TestServer::start_with(config, site.server.state.clock.clone()).await;
    let receiver = Receiver::start(0).await;
    site.register(&receiver.url()).await;

    // All queued at once, so both instances find the same due rows and race to claim them.
    let (user_id, now) = (site.user_id.clone(), site.now());
    site.server
        .state
        .store
        .run(move |conn| {
            for day in 1..=EVENTS as i64 {
                let input = SubscriptionInput {
                    tier: "premium".into(),
                    status: "active".into(),
                    current_period_end: START + 86_400 * day,
                    external_ref: None,
                };
                manage::put_subscription(conn, &Actor::client("payments"), &user_id, &input, now)?;
            }
            Ok::<_, manage::EntitlementError>(())
        })
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let deliveries = site.deliveries().await;
        assert_eq!(deliveries.len(), EVENTS);
        if deliveries.iter().all(|delivery| delivery.delivered_at.is_some()) {
            assert!(
                deliveries.iter().all(|delivery| delivery.attempts == 1),
                "{deliveries:?}"
            );
            break;
        }
        assert!(started.elapsed() < PATIENCE, "not all delivered: {deliveries:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let received = receiver.drain().await;
    let ids: HashSet<&str> = received
        .iter()
        .map(|request| request.header("webhook-id"))
        .collect();
    assert_eq!(received.len(), EVENTS, "each event sent once");
    assert_eq!(ids.len(), EVENTS);
}

async fn a_start_refused_at_the_limit_is_posted_with_the_devices_in_use(backend: Backend) {
    let site = site(backend).await;
    // Premium: two streams at once. Subscribed before the endpoint exists, so not posted.
    site.change_subscription(START + 30 * 86_400).await;
    let receiver = Receiver::start(0).await;
    site.register(&receiver.url()).await;
    let app = site.server.create_client(flow::first_party_app()).await;
    let tokens = flow::person_tokens(&site.server, &app, "viewer@example.com", "openid").await;
    let viewer_token = tokens["access_token"].as_str().unwrap();
    let content_server = site.server.service_client(&["usher:streams"]).await;

    let mut answers = Vec::new();
    for device_id in ["living-room-tv", "phone", "laptop"] {
        let response = common::post_form(
            &site.server.endpoint("/streams"),
            &content_server,
            &[("token", viewer_token), ("device_id", device_id)],
        )
        .await;
        answers.push(response.status().as_u16());
        site.server.state.clock.advance(1);
    }
    assert_eq!(answers, [201, 201, 409]);

    let request = receiver.next_request().await;
    let body = request.json();
    assert_eq!(body["event"], "stream.refused", "{body}");
    assert_eq!(body["user_id"], site.user_id.as_str());
    assert_eq!(body["data"]["device_id"], "laptop");
    assert_eq!(body["data"]["max_streams"], 2);
    let in_use: Vec<&str> = body["data"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| stream["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(in_use, ["living-room-tv", "phone"], "oldest first");
    let delivery = site
        .delivery_when(|delivery| delivery.delivered_at.is_some())
        .await;
    assert_eq!(delivery.event_id, body["id"]);
    assert_eq!(delivery.body, request.body, "sent verbatim");
    receiver.assert_quiet_for(Duration::from_millis(200)).await;
}

async fn a_replaced_secret_signs_beside_the_new_one_until_its_overlap_ends(backend: Backend) {
    let site = site(backend).await;
    let receiver = Receiver::start(0).await;
    let old = site.register(&receiver.url()).await;
    let replaced = site.register_with_overlap(&receiver.url(), 3600).await;
    assert_ne!(replaced.secret, old);
    assert_eq!(replaced.previous_secret_until, Some(START + 3600));

    // Within the overlap a receiver holding either secret accepts the delivery; the deprecated
    // header, which never carried more than one signature, is signed with the new one.
    site.server.state.clock.advance(3599);
    site.change_subscription(START + 86_400).await;
    let during = receiver.next_request().await;
    assert_eq!(
        during.signatures(),
        [during.signature_by(&replaced.secret), during.signature_by(&old)]
    );
    during.assert_signed_with(&replaced.secret);

    // From its end on, only the new secret signs.
    site.server.state.clock.advance(1);
    site.change_subscription(START + 2 * 86_400).await;
    let after = receiver.next_request().await;
    assert_eq!(after.signatures(), [after.signature_by(&replaced.secret)]);

    // Without an overlap the replaced secret stops signing at once.
    let immediate = site.register_with_overlap(&receiver.url(), 0).await;
    assert_eq!(immediate.previous_secret_until, None);
    site.change_subscription(START + 3 * 86_400).await;
    let next = receiver.next_request().await;
    assert_eq!(next.signatures(), [next.signature_by(&immediate.secret)]);
}

on_both_backends!(
    a_start_refused_at_the_limit_is_posted_with_the_devices_in_use,
    a_change_is_posted_signed_to_the_registered_endpoint,
    a_failed_delivery_is_retried_after_the_backoff,
    a_delivery_is_given_up_after_the_last_attempt,
    an_unreachable_endpoint_is_retried_at_its_new_address,
    removing_the_endpoint_gives_up_what_waits,
    two_instances_send_each_event_exactly_once,
    a_replaced_secret_signs_beside_the_new_one_until_its_overlap_ends,
);

// ---------------------------------------------------------------------------------------------
// A receiver built on the Standard Webhooks library

/// The content server docs/content-servers.md shows, in Python, verifying with the
/// `standardwebhooks` package (which checks the timestamp against the real clock, so this
/// server runs on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_receiver_verifies_deliveries_with_the_standard_webhooks_library() {
    let db = TestDb::new(Backend::Sqlite);
    let server = TestServer::start_with(webhook_config(&db), Clock::System).await;
    let content = server.service_client(&[]).await;
    let user_id = flow::create_user(&server, "listener@example.com").await;
    let port = tools::free_port();
    let (state, client_id, now) = (
        Arc::clone(&server.state),
        content.client_id.clone(),
        server.state.clock.now(),
    );
    server
        .state
        .store
        .run(move |conn| {
            let tier = TierInput {
                name: "Premium".into(),
                rank: 10,
                features: vec!["hd".into()],
                max_streams: 2,
                stream_limit_policy: None,
                max_devices: None,
                max_profiles: None,
                max_members: 0,
            };
            manage::create_tier(conn, &Actor::client("payments"), "premium", &tier, now)
        })
        .await
        .unwrap();
    let registered = server
        .state
        .store
        .run(move |conn| {
            let url = format!("http://127.0.0.1:{port}/usher-events");
            webhooks::register(conn, &state.master_key, &client_id, &url, 0, now)
        })
        .await
        .unwrap();
    let mut python = tools::python();
    python
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/examples/content-server/python/content_server.py"
        ))
        .env("ISSUER", &server.url)
        .env("CLIENT_ID", &content.client_id)
        .env("CLIENT_SECRET", content.client_secret.as_deref().unwrap())
        .env("USHER_WEBHOOK_SECRET", &registered.secret)
        .env("PORT", port.to_string());
    let receiver = tools::Running::start(python);
    assert_eq!(receiver.next_line(PATIENCE), format!("listening on {port}"));

    let (target, now) = (user_id.clone(), server.state.clock.now());
    server
        .state
        .store
        .run(move |conn| {
            let subscription = SubscriptionInput {
                tier: "premium".into(),
                status: "active".into(),
                current_period_end: now + 86_400,
                external_ref: None,
            };
            manage::put_subscription(conn, &Actor::client("payments"), &target, &subscription, now)
        })
        .await
        .unwrap();
    let verified = receiver.next_line(PATIENCE);
    assert!(
        verified.starts_with("event subscription.put id=")
            && verified.contains(&format!(" users={user_id} ent_ver=")),
        "{verified}"
    );

    // The same receiver refuses a request whose signature the secret did not make.
    let forged = common::http()
        .post(format!("http://127.0.0.1:{port}/usher-events"))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", server.state.clock.now().to_string())
        .header(
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        )
        .body(r#"{"id":"evt_forged","event":"subscription.put","affected_users":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert_eq!(
        receiver.next_line(PATIENCE),
        "refused webhook: No matching signature found"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line

fn usher(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_usher"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env(
            "USHER_DATABASE_URL",
            format!("sqlite://{}", dir.join("usher.db").display()),
        )
        .env("USHER_KEYS_DIR", dir.join("keys"))
        .output()
        .expect("usher runs")
}

/// Runs `usher ARGS --json`, expecting success and exactly one JSON object on stdout.
fn usher_json(dir: &Path, args: &[&str]) -> serde_json::Map<String, Value> {
    let output = usher(dir, &[args, &["--json"]].concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "usher {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    match serde_json::from_str(&stdout) {
        Ok(Value::Object(object)) => object,
        other => panic!("stdout is not one JSON object ({other:?}): {stdout:?}"),
    }
}

#[test]
fn the_command_line_registers_replaces_and_removes_an_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert!(usher(dir, &["migrate"]).status.success());
    let client = usher_json(
        dir,
        &[
            "client",
            "create",
            "--name",
            "catalog",
            "--grant-type",
            "client_credentials",
        ],
    );
    let client_id = client["client_id"].as_str().unwrap();

    let registered = usher_json(
        dir,
        &[
            "client",
            "webhook",
            "--client-id",
            client_id,
            "--url",
            "https://hooks.example.com/usher",
        ],
    );
    let mut keys: Vec<&str> = registered.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_id", "previous_secret_until", "secret", "url"]);
    assert_eq!(registered["client_id"], client_id);
    assert_eq!(registered["url"], "https://hooks.example.com/usher");
    assert_eq!(
        registered["previous_secret_until"],
        Value::Null,
        "nothing replaced"
    );
    let secret = registered["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");

    // The server opens the secret with the same master key.
    let mut db = diesel::SqliteConnection::establish(&dir.join("usher.db").to_string_lossy()).unwrap();
    let sealed: String = webhook_endpoints::table
        .find(client_id)
        .select(webhook_endpoints::sealed_secret)
        .first(&mut db)
        .unwrap();
    let master_key = usher::foundation::crypto::keys::MasterKey::load_or_create(&dir.join("keys")).unwrap();
    assert_eq!(
        master_key
            .unseal(&format!("webhook:{client_id}"), &sealed)
            .unwrap(),
        secret.as_bytes()
    );

    // Registering again replaces the URL and the secret.
    let replaced = usher_json(
        dir,
        &[
            "client",
            "webhook",
            "--client-id",
            client_id,
            "--url",
            "http://10.0.0.7:9000/events",
        ],
    );
    assert_eq!(replaced["url"], "http://10.0.0.7:9000/events");
    assert_ne!(replaced["secret"], secret);
    // The replaced secret signs beside the new one for a day (webhook_secret_overlap_secs).
    let registered_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let until: Option<i64> = webhook_endpoints::table
        .find(client_id)
        .select(webhook_endpoints::previous_secret_until)
        .first(&mut db)
        .unwrap();
    let until = until.expect("the replaced secret overlaps");
    assert!(
        (registered_at + 86_340..=registered_at + 86_400).contains(&until),
        "{until}"
    );
    let shown = replaced["previous_secret_until"].as_str().unwrap();
    assert!(shown.ends_with('Z') && shown.contains('T'), "RFC 3339: {shown}");

    for bad in [
        vec![
            "client",
            "webhook",
            "--client-id",
            client_id,
            "--url",
            "ftp://hooks.example.com/",
        ],
        vec![
            "client",
            "webhook",
            "--client-id",
            client_id,
            "--url",
            "/relative",
        ],
        vec![
            "client",
            "webhook",
            "--client-id",
            "no-such-client",
            "--url",
            "https://x.test/",
        ],
        vec!["client", "webhook", "--client-id", client_id],
        vec![
            "client",
            "webhook",
            "--client-id",
            client_id,
            "--url",
            "https://x.test/",
            "--remove",
        ],
    ] {
        let output = usher(dir, &bad);
        assert!(!output.status.success(), "{bad:?} accepted");
        assert!(output.stdout.is_empty(), "{bad:?} printed to stdout");
    }

    let removed = usher_json(dir, &["client", "webhook", "--client-id", client_id, "--remove"]);
    assert_eq!(removed["removed"], true);
    let again = usher_json(dir, &["client", "webhook", "--client-id", client_id, "--remove"]);
    assert_eq!(again["removed"], false);
    let endpoints: i64 = webhook_endpoints::table.count().get_result(&mut db).unwrap();
    assert_eq!(endpoints, 0);
}
