//! The platform's brand on pages: its name, logo, accent colour and support link in both
//! languages, the policy that lets exactly those show, and the logos of the apps the platform
//! vouches for on the consent and TV pages.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use usher::domain::oauth::clients::{CreatedClient, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

use crate::common;
use common::browser::Browser;
use common::flow::{self, Browser as Agent};
use common::{Backend, TestDb, TestServer};

const LOGO_URI: &str = "https://cdn.aurora.example/apps/tv-logo.png";

/// The sample logo the docs use.
fn sample_logo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/examples/brand/aurora-logo.svg")
}

/// A logo of the largest size accepted, made of text that does not compress, so the budget
/// holds for any logo an operator may configure.
fn largest_logo(dir: &std::path::Path) -> PathBuf {
    let sample = std::fs::read_to_string(sample_logo()).unwrap();
    let mut noise = String::new();
    let mut seed = Sha256::digest(b"aurora").to_vec();
    while sample.len() + noise.len() < usher::foundation::brand::MAX_LOGO_BYTES {
        seed = Sha256::digest(&seed).to_vec();
        noise.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(&seed));
    }
    noise.truncate(usher::foundation::brand::MAX_LOGO_BYTES - sample.len() - "<!---->".len());
    let logo = sample.replacen("<defs>", &format!("<!--{noise}--><defs>"), 1);
    assert_eq!(logo.len(), usher::foundation::brand::MAX_LOGO_BYTES);
    let path = dir.join("largest-logo.svg");
    std::fs::write(&path, logo).unwrap();
    path
}

fn branded(config: &mut Config) {
    config.brand_name = "Aurora Music".into();
    config.brand_color = Some("#0b6e4f".into());
    config.brand_logo = Some(sample_logo());
    config.brand_support_url = Some("https://help.aurora.example/".into());
}

async fn branded_server(db: &TestDb) -> TestServer {
    let mut config = db.config();
    branded(&mut config);
    TestServer::start_with(config, Clock::System).await
}

async fn login_page(server: &TestServer, accept_language: &str) -> (reqwest::header::HeaderMap, String) {
    let response = common::http()
        .get(server.endpoint("/login"))
        .header("accept-language", accept_language)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

fn policy(headers: &reqwest::header::HeaderMap) -> String {
    headers["content-security-policy"].to_str().unwrap().to_owned()
}

/// The source `style-src` must name for a `<style>` block with these contents.
fn style_source(block: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(block))
    )
}

fn style_blocks(html: &str) -> Vec<String> {
    html.split("<style>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</style>").map(|(block, _)| block.to_owned()))
        .collect()
}

async fn the_brand_name_titles_and_heads_every_page_in_both_languages(backend: Backend) {
    let db = TestDb::new(backend);
    let mut config = db.config();
    config.brand_name = "Aurora Music".into();
    let server = TestServer::start_with(config, Clock::System).await;
    for language in ["en", "ur"] {
        let (_, html) = login_page(&server, language).await;
        assert!(html.contains("· Aurora Music</title>"), "{language}: {html}");
        assert!(
            html.contains("<p class=\"brand\">Aurora Music</p>"),
            "{language}: {html}"
        );
        assert!(
            !html.contains("Usher"),
            "{language}: no trace of the default name: {html}"
        );
    }
}

async fn without_brand_settings_pages_say_usher_in_the_built_in_colours(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let (headers, html) = login_page(&server, "en").await;
    assert!(html.contains("· Usher</title>"), "{html}");
    assert!(html.contains("<p class=\"brand\">Usher</p>"), "{html}");
    assert_eq!(style_blocks(&html).len(), 1, "the stylesheet alone");
    assert!(
        !html.contains("class=\"support\""),
        "no support link unless configured"
    );
    assert_eq!(
        policy(&headers).matches("'sha256-").count(),
        1,
        "{}",
        policy(&headers)
    );
}

async fn the_brand_colour_is_a_style_block_the_policy_allows_by_its_hash(backend: Backend) {
    let db = TestDb::new(backend);
    let server = branded_server(&db).await;
    let (headers, html) = login_page(&server, "en").await;
    let blocks = style_blocks(&html);
    assert_eq!(blocks.len(), 2, "the stylesheet, then the brand's colours");
    assert!(
        blocks[1].contains("--accent:#0b6e4f;--accent-fg:#fff"),
        "{}",
        blocks[1]
    );
    assert!(
        blocks[1].contains("prefers-color-scheme:dark"),
        "a tint for dark pages: {}",
        blocks[1]
    );
    let policy = policy(&headers);
    for block in &blocks {
        assert!(policy.contains(&style_source(block)), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}

async fn the_logo_heads_pages_with_the_brand_name_as_its_text(backend: Backend) {
    let db = TestDb::new(backend);
    let server = branded_server(&db).await;
    for language in ["en", "ur"] {
        let (_, html) = login_page(&server, language).await;
        let logo = html
            .split_once("<p class=\"brand\"><img src=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(src, _)| src.to_owned())
            .unwrap_or_else(|| panic!("{language}: a logo: {html}"));
        assert!(
            logo.starts_with("/brand/logo-") && logo.ends_with(".svg"),
            "{logo}"
        );
        assert!(html.contains("alt=\"Aurora Music\""), "{html}");
    }
}

async fn the_logo_is_served_for_good_at_an_address_naming_its_content(backend: Backend) {
    let db = TestDb::new(backend);
    let server = branded_server(&db).await;
    let (_, html) = login_page(&server, "en").await;
    let logo = html
        .split_once("<img src=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(src, _)| src.to_owned())
        .expect("a logo");
    let response = common::http().get(server.endpoint(&logo)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "image/svg+xml");
    assert_eq!(header("cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        header("content-security-policy").contains("sandbox"),
        "an SVG opened alone runs nothing"
    );
    let served = response.bytes().await.unwrap();
    assert_eq!(served.as_ref(), std::fs::read(sample_logo()).unwrap().as_slice());

    let stale = common::http()
        .get(server.endpoint("/brand/logo-0000000000000000.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404, "another version is not this logo");
}

async fn without_a_logo_there_is_nothing_at_the_logo_address(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let response = common::http()
        .get(server.endpoint("/brand/logo-0000000000000000.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn the_support_link_is_at_the_foot_of_pages_in_their_language(backend: Backend) {
    let db = TestDb::new(backend);
    let server = branded_server(&db).await;
    let (_, english) = login_page(&server, "en").await;
    assert!(
        english.contains(
            "<p class=\"support\"><a href=\"https://help.aurora.example/\">Help and support</a></p>"
        ),
        "{english}"
    );
    let (_, urdu) = login_page(&server, "ur").await;
    assert!(
        urdu.contains("<p class=\"support\"><a href=\"https://help.aurora.example/\">مدد اور رابطہ</a></p>"),
        "{urdu}"
    );
}

async fn app(server: &TestServer, verified: bool, first_party: bool) -> CreatedClient {
    server
        .create_client(NewClient {
            name: "Aurora TV".into(),
            logo_uri: Some(LOGO_URI.into()),
            verified,
            first_party,
            ..flow::first_party_app()
        })
        .await
}

fn consent_path(client: &CreatedClient) -> String {
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", "https://app.example/callback")
        .append_pair("scope", "openid email")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{query}")
}

async fn consent_page(server: &TestServer, client: &CreatedClient) -> reqwest::Response {
    flow::create_user(server, "reader@example.com").await;
    let agent = Agent::new(server);
    agent.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let response = agent.get(&consent_path(client)).await;
    assert_eq!(response.status(), 200);
    response
}

async fn a_verified_apps_logo_is_on_its_consent_page_and_only_that_image_is_allowed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = app(&server, true, false).await;
    let response = consent_page(&server, &client).await;
    let policy = policy(response.headers());
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("<img class=\"app-logo\" src=\"{LOGO_URI}\" alt=\"\"")),
        "{html}"
    );
    assert!(
        policy.contains(&format!("img-src {LOGO_URI} 'self' data:;")),
        "{policy}"
    );
}

async fn an_unverified_apps_logo_is_not_shown(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = app(&server, false, false).await;
    let response = consent_page(&server, &client).await;
    let policy = policy(response.headers());
    let html = response.text().await.unwrap();
    assert!(!html.contains("class=\"app-logo\""), "{html}");
    assert!(html.contains("Aurora TV"), "its name, as always: {html}");
    assert!(!policy.contains(LOGO_URI), "{policy}");
}

async fn a_first_party_tv_apps_logo_is_on_the_tv_code_pages(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let tv = server
        .create_client(NewClient {
            name: "Aurora TV".into(),
            grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
            public: true,
            first_party: true,
            logo_uri: Some(LOGO_URI.into()),
            ..NewClient::default()
        })
        .await;
    let codes: serde_json::Value = common::http()
        .post(server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent = Agent::new(&server);
    agent.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let user_code = codes["user_code"].as_str().unwrap();
    let confirm = agent.get(&format!("/device?user_code={user_code}")).await;
    assert!(policy(confirm.headers()).contains(LOGO_URI));
    let html = confirm.text().await.unwrap();
    assert!(html.contains(&format!("src=\"{LOGO_URI}\"")), "{html}");

    let csrf = flow::hidden_field(&html, "csrf");
    let done = agent
        .post(
            "/device/decision",
            &[
                ("csrf", csrf.as_str()),
                ("user_code", user_code),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(done.status(), 200);
    assert!(policy(done.headers()).contains(LOGO_URI));
    let html = done.text().await.unwrap();
    assert!(html.contains(&format!("src=\"{LOGO_URI}\"")), "{html}");
}

async fn a_logo_address_that_is_not_https_is_refused_at_registration(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    for refused in [
        "http://cdn.example/logo.png",
        "javascript:alert(1)",
        "https://cdn.example/logo.png; script-src *",
        "https://cdn.example/a logo.png",
        "https://user:pw@cdn.example/logo.png",
    ] {
        let new = NewClient {
            logo_uri: Some(refused.into()),
            ..flow::first_party_app()
        };
        let outcome = server
            .state
            .store
            .run(move |conn| usher::domain::oauth::clients::create(conn, new, 0))
            .await;
        let error = outcome.expect_err(refused);
        assert!(error.to_string().contains("logo_uri"), "{refused}: {error}");
    }
}

on_both_backends!(
    the_brand_name_titles_and_heads_every_page_in_both_languages,
    without_brand_settings_pages_say_usher_in_the_built_in_colours,
    the_brand_colour_is_a_style_block_the_policy_allows_by_its_hash,
    the_logo_heads_pages_with_the_brand_name_as_its_text,
    the_logo_is_served_for_good_at_an_address_naming_its_content,
    without_a_logo_there_is_nothing_at_the_logo_address,
    the_support_link_is_at_the_foot_of_pages_in_their_language,
    a_verified_apps_logo_is_on_its_consent_page_and_only_that_image_is_allowed,
    an_unverified_apps_logo_is_not_shown,
    a_first_party_tv_apps_logo_is_on_the_tv_code_pages,
    a_logo_address_that_is_not_https_is_refused_at_registration,
);

/// In headless Chromium: the login page with the largest logo accepted stays within its 30 KB
/// in English and in Urdu, fetches nothing but the logo and the passkey script, and its buttons
/// wear the brand's colour with readable text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_branded_login_page_weighs_less_than_30_kb_on_the_wire_in_both_languages() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let mut config = db.config();
    branded(&mut config);
    config.brand_logo = Some(largest_logo(dir.path()));
    let server = TestServer::start_with(config, Clock::System).await;
    let browser = Browser::launch().await;
    for language in ["en", "ur"] {
        let page = browser.new_page().await;
        page.command("Network.setCacheDisabled", json!({"cacheDisabled": true}))
            .await;
        page.command(
            "Network.setExtraHTTPHeaders",
            json!({"headers": {"Accept-Language": language}}),
        )
        .await;
        page.start_recording_network();
        page.goto(&server.endpoint("/login")).await;
        page.wait_for("document.querySelector('.brand img').complete")
            .await;
        assert_eq!(page.eval("document.documentElement.lang").await, language);
        let transferred = page.network_bytes(&server.url).await;
        eprintln!("the {language} login page with the largest logo transferred {transferred} bytes");
        assert!(
            transferred > usher::foundation::brand::MAX_LOGO_BYTES as u64,
            "the logo was counted"
        );
        assert!(transferred < 30 * 1024, "{language}: {transferred} bytes");
        let resources = page
            .eval(
                "performance.getEntriesByType('resource').filter((entry) => entry.initiatorType !== 'fetch') \
                 .map((entry) => new URL(entry.name).pathname).sort().join(' ')",
            )
            .await;
        let resources = resources.as_str().unwrap().to_owned();
        assert!(
            resources.starts_with("/assets/passkeys.js /brand/logo-"),
            "{resources}"
        );
        assert_eq!(resources.split(' ').count(), 2, "{resources}");
        assert_eq!(
            page.eval("getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor")
                .await,
            "rgb(11, 110, 79)",
            "{language}: the brand's colour"
        );
        assert_eq!(
            page.eval("document.querySelector('.brand img').naturalWidth > 0")
                .await,
            true,
            "{language}: the logo loaded under the page's policy"
        );
        if let Some(dir) = std::env::var_os("USHER_SCREENSHOTS").map(PathBuf::from) {
            page.set_viewport(390, 844, true).await;
            std::fs::create_dir_all(&dir).unwrap();
            page.screenshot(dir.join(format!("brand-login-{language}-phone.png")))
                .await;
        }
    }
}
