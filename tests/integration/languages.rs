//! The language of pages: `ui_locales`, then the person's choice (the selector, saved on the
//! account when signed in), then `Accept-Language`, then `default_locale`; `lang` and `dir`
//! follow it, discovery lists the languages, and tokens carry the chosen one as `locale`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, location};
use common::{Backend, TestDb, TestServer};

/// The `lang` and `dir` of a page's `<html>`.
fn lang_and_dir(html: &str) -> (String, String) {
    let start = html.find("<html").expect("an html element");
    let tag = &html[start..start + html[start..].find('>').expect("its end")];
    let attribute = |name: &str| {
        let marker = format!("{name}=\"");
        tag.split_once(&marker)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(value, _)| value.to_owned())
            .unwrap_or_default()
    };
    (attribute("lang"), attribute("dir"))
}

async fn page_with_accept_language(server: &TestServer, path: &str, accept: &str) -> String {
    common::http()
        .get(server.endpoint(path))
        .header("accept-language", accept)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn urdu() -> (String, String) {
    ("ur".to_owned(), "rtl".to_owned())
}

fn english() -> (String, String) {
    ("en".to_owned(), "ltr".to_owned())
}

async fn discovery_lists_the_supported_languages(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let metadata: serde_json::Value = common::http()
        .get(server.endpoint("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["ui_locales_supported"], serde_json::json!(["en", "ur"]));
    assert!(metadata["claims_supported"].as_array().unwrap().contains(&"locale".into()));
}

async fn pages_speak_english_left_to_right_by_default(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let login = Browser::new(&server).get("/login").await.text().await.unwrap();
    assert_eq!(lang_and_dir(&login), english());
    assert!(login.contains(r#"<nav class="languages" aria-label="Language">"#), "{login}");
    assert!(login.contains(r#"<span lang="en" aria-current="true">English</span>"#), "{login}");
    assert!(login.contains(r#"lang="ur" hreflang="ur">اردو</a>"#), "{login}");
}

async fn the_browsers_accept_language_chooses_urdu_right_to_left(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    for path in ["/", "/login", "/oauth/authorize"] {
        let page = page_with_accept_language(&server, path, "ur-PK, en;q=0.8").await;
        assert_eq!(lang_and_dir(&page), urdu(), "{path}");
        assert!(page.contains(r#"aria-label="زبان""#), "{path}: {page}");
    }
    let english_first = page_with_accept_language(&server, "/login", "en-GB, ur;q=0.5").await;
    assert_eq!(lang_and_dir(&english_first), english());
}

async fn the_default_locale_applies_when_the_browser_names_no_supported_language(backend: Backend) {
    let db = TestDb::new(backend);
    let config = usher::foundation::config::Config {
        default_locale: "ur".into(),
        ..db.config()
    };
    let server = TestServer::start_with(config, usher::foundation::clock::Clock::System).await;
    let page = page_with_accept_language(&server, "/login", "fr, de").await;
    assert_eq!(lang_and_dir(&page), urdu());
}

async fn the_selector_keeps_the_choice_for_the_browser_over_accept_language(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = Browser::new(&server);
    let chosen = browser.get("/language?set=ur&return_to=%2Flogin").await;
    assert_eq!(chosen.status(), 303);
    assert_eq!(location(&chosen), "/login");
    let login = browser
        .http
        .get(format!("{}/login", browser.base))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&login), urdu());
    assert!(login.contains(r#"lang="en" hreflang="en">English</a>"#), "{login}");
}

async fn the_selector_returns_only_to_a_page_of_this_site(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = Browser::new(&server);
    let chosen = browser.get("/language?set=ur&return_to=%2F%2Fevil.example%2F").await;
    assert_eq!(location(&chosen), "/");
}

async fn a_link_from_another_site_does_not_change_the_language(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = Browser::new(&server);
    let chosen = browser
        .http
        .get(format!("{}/language?set=ur&return_to=%2Flogin", browser.base))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), 303);
    assert!(chosen.headers().get("set-cookie").is_none());
    let login = browser.get("/login").await.text().await.unwrap();
    assert_eq!(lang_and_dir(&login), english());
}

async fn ui_locales_choose_the_login_pages_language_before_the_browsers_choice(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.create_client(flow::first_party_app()).await;
    let browser = Browser::new(&server);
    browser.get("/language?set=en&return_to=%2F").await;
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", "https://app.example/callback")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("ui_locales", "fr-CA ur-PK en")
        .finish();
    let login = browser.get(&format!("/oauth/authorize?{query}")).await.text().await.unwrap();
    assert_eq!(lang_and_dir(&login), urdu());
    // The login pages carry the request, and its ui_locales with it.
    let request = flow::hidden_field(&login, "request");
    let carried = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request", &request)
        .finish();
    let signup_or_login = browser.get(&format!("/login?{carried}")).await.text().await.unwrap();
    assert_eq!(lang_and_dir(&signup_or_login), urdu());
    // Choosing English there rewrites the request's ui_locales: the choice holds.
    assert!(signup_or_login.contains("ui_locales%253Den"), "{signup_or_login}");
}

async fn a_signed_in_choice_is_saved_on_the_account_and_is_the_locale_claim(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.create_client(flow::first_party_app()).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    browser.get("/language?set=ur&return_to=%2Faccount").await;
    // Another browser, with no cookie of its own, gets the saved choice once signed in.
    let elsewhere = Browser::new(&server);
    let tokens = flow::person_tokens_in(&elsewhere, &server, &client, "reader@example.com", "openid profile").await;
    let account = elsewhere.get("/account").await.text().await.unwrap();
    assert_eq!(lang_and_dir(&account), urdu());
    let userinfo: serde_json::Value = common::http()
        .get(server.endpoint("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["locale"], "ur");
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["locale"], "ur");
}

async fn without_scope_profile_no_locale_is_released(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.create_client(flow::first_party_app()).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    browser.get("/language?set=ur&return_to=%2Faccount").await;
    let tokens = flow::person_tokens(&server, &client, "reader@example.com", "openid email").await;
    let userinfo: serde_json::Value = common::http()
        .get(server.endpoint("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(userinfo.get("locale").is_none(), "{userinfo}");
}

async fn error_pages_speak_the_language_of_their_request(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let page = page_with_accept_language(&server, "/oauth/authorize", "ur").await;
    assert_eq!(lang_and_dir(&page), urdu());
}

on_both_backends!(
    discovery_lists_the_supported_languages,
    pages_speak_english_left_to_right_by_default,
    the_browsers_accept_language_chooses_urdu_right_to_left,
    the_default_locale_applies_when_the_browser_names_no_supported_language,
    the_selector_keeps_the_choice_for_the_browser_over_accept_language,
    the_selector_returns_only_to_a_page_of_this_site,
    a_link_from_another_site_does_not_change_the_language,
    ui_locales_choose_the_login_pages_language_before_the_browsers_choice,
    a_signed_in_choice_is_saved_on_the_account_and_is_the_locale_claim,
    without_scope_profile_no_locale_is_released,
    error_pages_speak_the_language_of_their_request,
);
