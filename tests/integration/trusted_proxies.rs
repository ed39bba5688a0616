//! The client address every limit counts against: the TCP peer, or behind a proxy named in
//! `trusted_proxies`, the client its `X-Forwarded-For` names. The test client connects from
//! 127.0.0.1, playing the proxy.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD};
use common::{Backend, TestDb, TestServer};
use reqwest::header::{HeaderMap, HeaderValue};
use usher::domain::oauth::clients::{CreatedClient, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const EMAIL: &str = "viewer@example.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

struct Site {
    server: TestServer,
    _db: TestDb,
}

async fn site(backend: Backend, configure: impl FnOnce(&mut Config)) -> Site {
    let db = TestDb::new(backend);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::System).await;
    flow::create_user(&server, EMAIL).await;
    Site { server, _db: db }
}

fn behind_the_local_proxy(config: &mut Config) {
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

fn forwarded_for(client: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(client).unwrap());
    headers
}

/// A browser whose requests arrive saying they were forwarded for `client`.
fn browser_forwarded_for(server: &TestServer, client: &str) -> Browser {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(forwarded_for(client))
        .build()
        .unwrap();
    Browser {
        http,
        base: server.url.clone(),
    }
}

/// Wrong passwords from `browser` until its address is refused.
async fn exhaust_password_limit(browser: &Browser, attempts: u32) {
    for attempt in 0..attempts {
        let email = format!("guess{attempt}@example.com");
        assert_eq!(browser.sign_in(None, &email, "guess").await.status(), 401);
    }
    assert_eq!(browser.sign_in(None, EMAIL, PASSWORD).await.status(), 429);
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_password_limit(backend: Backend) {
    let site = site(backend, |config| {
        behind_the_local_proxy(config);
        config.login_failures_per_ip = 2;
    })
    .await;
    let guesser = browser_forwarded_for(&site.server, "198.51.100.1");
    exhaust_password_limit(&guesser, 2).await;

    let neighbour = browser_forwarded_for(&site.server, "198.51.100.2");
    assert_eq!(neighbour.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
}

async fn ipv6_clients_of_one_slash_64_share_one_password_limit(backend: Backend) {
    let site = site(backend, |config| {
        behind_the_local_proxy(config);
        config.login_failures_per_ip = 2;
    })
    .await;
    exhaust_password_limit(&browser_forwarded_for(&site.server, "2001:db8:1:2::1"), 2).await;

    let same_line = browser_forwarded_for(&site.server, "2001:db8:1:2:ffff::7");
    assert_eq!(same_line.sign_in(None, EMAIL, PASSWORD).await.status(), 429);
    let another_line = browser_forwarded_for(&site.server, "2001:db8:1:3::1");
    assert_eq!(another_line.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
}

async fn without_trusted_proxies_a_forged_x_forwarded_for_does_not_escape_the_limit(backend: Backend) {
    let site = site(backend, |config| config.login_failures_per_ip = 2).await;
    let guesser = browser_forwarded_for(&site.server, "198.51.100.1");
    exhaust_password_limit(&guesser, 2).await;

    let disguised = browser_forwarded_for(&site.server, "198.51.100.2");
    assert_eq!(disguised.sign_in(None, EMAIL, PASSWORD).await.status(), 429);
}

async fn device_authorization(server: &TestServer, tv: &CreatedClient, client: &str) -> u16 {
    common::http()
        .post(server.endpoint("/oauth/device_authorization"))
        .headers(forwarded_for(client))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_device_code_limit(backend: Backend) {
    let site = site(backend, |config| {
        behind_the_local_proxy(config);
        config.device_authorizations_per_ip = 1;
    })
    .await;
    let tv = site
        .server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![DEVICE_GRANT.into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    assert_eq!(device_authorization(&site.server, &tv, "198.51.100.1").await, 200);
    assert_eq!(device_authorization(&site.server, &tv, "198.51.100.1").await, 429);
    assert_eq!(device_authorization(&site.server, &tv, "198.51.100.2").await, 200);
}

on_both_backends!(
    ipv6_clients_of_one_slash_64_share_one_password_limit,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_password_limit,
    without_trusted_proxies_a_forged_x_forwarded_for_does_not_escape_the_limit,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_device_code_limit,
);
