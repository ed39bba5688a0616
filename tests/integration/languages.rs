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
    assert!(
        metadata["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"locale".into())
    );
}

async fn pages_speak_english_left_to_right_by_default(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let login = Browser::new(&server).get("/login").await.text().await.unwrap();
    assert_eq!(lang_and_dir(&login), english());
    assert!(
        login.contains(r#"<nav class="languages" aria-label="Language">"#),
        "{login}"
    );
    assert!(
        login.contains(r#"<span lang="en" aria-current="true">English</span>"#),
        "{login}"
    );
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
    assert!(
        login.contains(r#"lang="en" hreflang="en">English</a>"#),
        "{login}"
    );
}

async fn the_selector_returns_only_to_a_page_of_this_site(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = Browser::new(&server);
    let chosen = browser
        .get("/language?set=ur&return_to=%2F%2Fevil.example%2F")
        .await;
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
    let login = browser
        .get(&format!("/oauth/authorize?{query}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&login), urdu());
    // The login pages carry the request, and its ui_locales with it.
    let request = flow::hidden_field(&login, "request");
    let carried = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request", &request)
        .finish();
    let signup_or_login = browser
        .get(&format!("/login?{carried}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&signup_or_login), urdu());
    // Choosing English there rewrites the request's ui_locales: the choice holds.
    assert!(signup_or_login.contains("ui_locales%253Den"), "{signup_or_login}");
}

async fn answers_to_the_login_forms_speak_the_carried_ui_locales(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let client = server.create_client(flow::first_party_app()).await;
    let browser = Browser::new(&server);
    browser.get("/language?set=en&return_to=%2F").await;
    let login = browser
        .get(&format!("{}&ui_locales=ur", authorize_path(&client, "openid")))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&login), urdu());
    let csrf = flow::hidden_field(&login, "csrf");
    let request = flow::hidden_field(&login, "request");
    let refused = browser
        .post(
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("email", "reader@example.com"),
                ("password", "not the password"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&refused), urdu(), "a wrong password: {refused}");
    let csrf = flow::hidden_field(&refused, "csrf");
    let sent = browser
        .post(
            "/login/link",
            &[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("email", "reader@example.com"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&sent), urdu(), "a link on its way: {sent}");
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
    let tokens = flow::person_tokens_in(
        &elsewhere,
        &server,
        &client,
        "reader@example.com",
        "openid profile",
    )
    .await;
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
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
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

async fn the_urdu_login_page_fits_the_page_budget_even_uncompressed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let login = page_with_accept_language(&server, "/login", "ur").await;
    assert!(login.len() <= 30 * 1024, "{} bytes", login.len());
}

on_both_backends!(
    the_urdu_login_page_fits_the_page_budget_even_uncompressed,
    discovery_lists_the_supported_languages,
    pages_speak_english_left_to_right_by_default,
    the_browsers_accept_language_chooses_urdu_right_to_left,
    the_default_locale_applies_when_the_browser_names_no_supported_language,
    the_selector_keeps_the_choice_for_the_browser_over_accept_language,
    the_selector_returns_only_to_a_page_of_this_site,
    a_link_from_another_site_does_not_change_the_language,
    ui_locales_choose_the_login_pages_language_before_the_browsers_choice,
    answers_to_the_login_forms_speak_the_carried_ui_locales,
    a_signed_in_choice_is_saved_on_the_account_and_is_the_locale_claim,
    without_scope_profile_no_locale_is_released,
    error_pages_speak_the_language_of_their_request,
    switching_language_changes_lang_dir_and_text_of_the_pages,
    the_login_page_in_urdu_speaks_urdu,
    the_profile_picker_and_pin_pages_speak_urdu,
    the_consent_page_and_its_permissions_speak_urdu,
    the_tv_confirmation_page_speaks_urdu,
    the_device_limit_page_speaks_urdu,
    the_passkey_offer_and_second_factor_pages_speak_urdu,
    the_authenticator_set_up_page_and_its_refusal_speak_urdu,
    a_refused_sign_in_says_why_in_urdu,
    error_pages_say_what_went_wrong_in_urdu,
    the_account_page_speaks_urdu,
    the_sign_in_link_pages_speak_urdu,
    signing_out_speaks_urdu,
    the_tv_answer_pages_speak_urdu,
    the_account_pages_family_ratings_and_device_names_speak_urdu,
    the_account_pages_refusals_speak_urdu,
);

/// One catalogue file of one language: its tag, its file name, its message ids and its text.
struct Catalogue {
    tag: String,
    file: String,
    ids: std::collections::BTreeSet<String>,
    text: String,
}

/// Every catalogue file of every language.
fn catalogues() -> Vec<Catalogue> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let mut all = Vec::new();
    for language in std::fs::read_dir(&root).unwrap() {
        let language = language.unwrap().path();
        let tag = language.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&language).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let ids = text
                .lines()
                .filter_map(|line| line.split_once(" =").map(|(id, _)| id))
                .filter(|id| {
                    !id.is_empty()
                        && id
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
                .map(str::to_owned)
                .collect();
            all.push(Catalogue {
                tag: tag.clone(),
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                ids,
                text,
            });
        }
    }
    all
}

/// The ids of `file` in `tag`, if that language has the file.
fn ids_of<'a>(
    catalogues: &'a [Catalogue],
    tag: &str,
    file: &str,
) -> Option<&'a std::collections::BTreeSet<String>> {
    catalogues
        .iter()
        .find(|catalogue| catalogue.tag == tag && catalogue.file == file)
        .map(|catalogue| &catalogue.ids)
}

/// Every file under `dir` whose name ends in one of `extensions`, read.
fn sources(dir: &std::path::Path, extensions: &[&str], into: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, extensions, into);
        } else if extensions
            .iter()
            .any(|extension| path.to_string_lossy().ends_with(extension))
        {
            into.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_message_exists_in_every_language_and_every_message_is_used() {
    let catalogues = catalogues();
    let english = ids_of(&catalogues, "en", "main.ftl").expect("English");
    let tags: std::collections::BTreeSet<&str> = catalogues
        .iter()
        .map(|catalogue| catalogue.tag.as_str())
        .collect();
    for tag in tags {
        let ids = ids_of(&catalogues, tag, "main.ftl").unwrap_or_else(|| panic!("{tag} has no main.ftl"));
        let missing: Vec<_> = english.difference(ids).collect();
        let extra: Vec<_> = ids.difference(english).collect();
        assert!(missing.is_empty(), "{tag} lacks {missing:?}");
        assert!(extra.is_empty(), "{tag} has ids English lacks: {extra:?}");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    sources(&root.join("templates"), &[".html", ".txt"], &mut code);
    sources(&root.join("src"), &[".rs"], &mut code);
    let unused: Vec<_> = catalogues
        .iter()
        .filter(|catalogue| catalogue.tag == "en")
        .flat_map(|catalogue| &catalogue.ids)
        .filter(|id| !code.contains(&format!("\"{id}\"")))
        .collect();
    assert!(
        unused.is_empty(),
        "messages no template or handler uses: {unused:?}"
    );
}

/// The dashboard speaks English alone: its catalogue, `admin.ftl`, is required in English
/// only. A language that has one holds only ids English has, and no file repeats an id of
/// another (a language's files make one bundle).
#[test]
fn the_dashboards_messages_are_required_in_english_only() {
    let catalogues = catalogues();
    let english = ids_of(&catalogues, "en", "admin.ftl").expect("the dashboard's English");
    assert!(!english.is_empty());
    for catalogue in catalogues
        .iter()
        .filter(|catalogue| catalogue.file == "admin.ftl")
    {
        let extra: Vec<_> = catalogue.ids.difference(english).collect();
        assert!(
            extra.is_empty(),
            "{} has dashboard ids English lacks: {extra:?}",
            catalogue.tag
        );
    }
    for one in &catalogues {
        for other in catalogues
            .iter()
            .filter(|other| other.tag == one.tag && other.file > one.file)
        {
            let both: Vec<_> = one.ids.intersection(&other.ids).collect();
            assert!(
                both.is_empty(),
                "{}: {} and {} both hold {both:?}",
                one.tag,
                one.file,
                other.file
            );
        }
    }
}

#[test]
fn catalogues_hold_no_markup_so_pages_may_insert_them_as_html() {
    for Catalogue { tag, file, text, .. } in catalogues() {
        assert!(
            !text.contains('<') && !text.contains('&'),
            "{tag}/{file} holds markup"
        );
    }
}

/// Pages a signed-out browser reaches, each in both languages.
const SIGNED_OUT_PAGES: [&str; 3] = ["/", "/login", "/signup"];

async fn switching_language_changes_lang_dir_and_text_of_the_pages(backend: Backend) {
    let db = TestDb::new(backend);
    let config = usher::foundation::config::Config {
        allow_signup: true,
        ..db.config()
    };
    let server = TestServer::start_with(config, usher::foundation::clock::Clock::System).await;
    let browser = Browser::new(&server);
    for path in SIGNED_OUT_PAGES {
        let english = browser.get(path).await.text().await.unwrap();
        browser.get("/language?set=ur&return_to=%2F").await;
        let urdu_page = browser.get(path).await.text().await.unwrap();
        browser.get("/language?set=en&return_to=%2F").await;
        assert_eq!(lang_and_dir(&english), self::english(), "{path}");
        assert_eq!(lang_and_dir(&urdu_page), urdu(), "{path}");
        let title = |html: &str| {
            html.split_once("<title>")
                .unwrap()
                .1
                .split_once("</title>")
                .unwrap()
                .0
                .to_owned()
        };
        assert_ne!(
            title(&english),
            title(&urdu_page),
            "{path}: the title is translated"
        );
        for page in [&english, &urdu_page] {
            assert!(!page.contains("Unknown localization key"), "{path}: {page}");
        }
    }
}

async fn the_login_page_in_urdu_speaks_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let login = page_with_accept_language(&server, "/login", "ur").await;
    assert!(login.contains("<h1>سائن اِن کریں</h1>"), "{login}");
    assert!(
        login.contains(r#"<label for="password">پاس ورڈ</label>"#),
        "{login}"
    );
    assert!(!login.contains(">Sign in<"), "{login}");
}

/// The text of a page's `<h1>`.
fn heading(html: &str) -> &str {
    html.split_once("<h1")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</h1>"))
        .map(|(heading, _)| heading)
        .unwrap_or_else(|| panic!("no h1 in {html}"))
}

/// `english` and `urdu` are one page in each language: each says so in `lang` and `dir`,
/// neither shows a message id for want of its message, and the heading changes.
fn assert_translated(name: &str, english: &str, urdu_page: &str) {
    assert_eq!(lang_and_dir(english), self::english(), "{name}: {english}");
    assert_eq!(lang_and_dir(urdu_page), urdu(), "{name}: {urdu_page}");
    for page in [english, urdu_page] {
        assert!(!page.contains("Unknown localization key"), "{name}: {page}");
    }
    assert_ne!(
        heading(english),
        heading(urdu_page),
        "{name}: the heading is translated"
    );
}

/// Chooses `tag` with the selector (saved on the account when signed in).
async fn choose_language(browser: &Browser, tag: &str) {
    browser.get(&format!("/language?set={tag}&return_to=%2F")).await;
}

/// `path` in English, then in Urdu.
async fn in_both_languages(browser: &Browser, path: &str) -> (String, String) {
    choose_language(browser, "en").await;
    let english = browser.get(path).await.text().await.unwrap();
    choose_language(browser, "ur").await;
    let urdu_page = browser.get(path).await.text().await.unwrap();
    (english, urdu_page)
}

/// An authorization request of `client` for `scope`, as a path.
fn authorize_path(client: &usher::domain::oauth::clients::CreatedClient, scope: &str) -> String {
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", "https://app.example/callback")
        .append_pair("scope", scope)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{query}")
}

async fn the_profile_picker_and_pin_pages_speak_urdu(backend: Backend) {
    use usher::domain::entitlements::manage::{Actor, TierInput};
    use usher::domain::profiles::{self, PinChange, ProfileInput};
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let user_id = flow::create_user(&server, "family@example.com").await;
    let plan = TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(5),
        ..TierInput::default()
    };
    common::subscribe(&server, &user_id, "family", plan).await;
    let mut added = Vec::new();
    for (name, kids, pin) in [("Parent", false, Some("2468")), ("Kid", true, None)] {
        let input = ProfileInput {
            name: name.into(),
            maturity: Some(if kids { "7" } else { "18" }.into()),
            kids,
            pin: pin.map_or(PinChange::Keep, |pin| PinChange::Set(pin.into())),
        };
        added.push(
            profiles::create(&server.state.core, &Actor::client("test"), &user_id, input)
                .await
                .unwrap(),
        );
    }
    let client = server.create_client(flow::first_party_app()).await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "family@example.com", flow::PASSWORD).await;
    let path = authorize_path(&client, "openid profiles");
    let (english, urdu_page) = in_both_languages(&browser, &path).await;
    assert_translated("picker", &english, &urdu_page);
    assert!(urdu_page.contains("بچوں کے لیے"), "the kids label: {urdu_page}");
    let pin_page = |picker: String| {
        let browser = &browser;
        let parent = added[0].id.clone();
        async move {
            let form = [
                ("csrf", flow::hidden_field(&picker, "csrf")),
                ("request", flow::hidden_field(&picker, "request")),
                ("session", flow::hidden_field(&picker, "session")),
                ("profile", parent),
                ("pin", "0000".to_owned()),
            ];
            let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
            browser.post("/oauth/profile", &form).await.text().await.unwrap()
        }
    };
    let urdu_pin = pin_page(urdu_page).await;
    choose_language(&browser, "en").await;
    let english_pin = pin_page(browser.get(&path).await.text().await.unwrap()).await;
    assert_translated("PIN", &english_pin, &urdu_pin);
    assert!(english_pin.contains("That PIN is not right"), "{english_pin}");
    assert!(urdu_pin.contains("یہ پن درست نہیں"), "the refusal: {urdu_pin}");
}

async fn the_consent_page_and_its_permissions_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let client = server
        .create_client(usher::domain::oauth::clients::NewClient {
            first_party: false,
            ..flow::first_party_app()
        })
        .await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let path = authorize_path(&client, "openid email");
    let (english, urdu_page) = in_both_languages(&browser, &path).await;
    assert_translated("consent", &english, &urdu_page);
    assert!(english.contains("<li>See your email address</li>"), "{english}");
    assert!(
        urdu_page.contains("<li>آپ کا ای میل ایڈریس دیکھنا</li>"),
        "{urdu_page}"
    );
}

async fn the_tv_confirmation_page_speaks_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let tv = server
        .create_client(usher::domain::oauth::clients::NewClient {
            name: "Streamly TV".into(),
            grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
            public: true,
            ..usher::domain::oauth::clients::NewClient::default()
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
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let path = format!("/device?user_code={}", codes["user_code"].as_str().unwrap());
    let (english, urdu_page) = in_both_languages(&browser, &path).await;
    assert_translated("TV confirmation", &english, &urdu_page);
    assert!(
        urdu_page.contains("سائن اِن کے وقت آپ کی پہچان کرنا"),
        "{urdu_page}"
    );
    let (english, urdu_page) = in_both_languages(&browser, "/device?user_code=BCDF-GHJK").await;
    assert!(english.contains("That code didn&#39;t work"), "{english}");
    assert!(urdu_page.contains("یہ کوڈ نہیں چلا"), "{urdu_page}");
}

async fn the_device_limit_page_speaks_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let user_id = flow::create_user(&server, "reader@example.com").await;
    let plan = usher::domain::entitlements::manage::TierInput {
        name: "Solo".into(),
        rank: 10,
        max_streams: 1,
        max_devices: Some(1),
        ..Default::default()
    };
    common::subscribe(&server, &user_id, "solo", plan).await;
    Browser::with_user_agent(
        &server,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    )
    .sign_in(None, "reader@example.com", flow::PASSWORD)
    .await;
    let refused = Browser::new(&server);
    let held = refused.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    assert_eq!(location(&held), "/login/devices");
    let (english, urdu_page) = in_both_languages(&refused, "/login/devices").await;
    assert_translated("device limit", &english, &urdu_page);
    assert!(
        english.contains("<h1>Your plan allows 1 device</h1>"),
        "{english}"
    );
    assert!(urdu_page.contains("سائن آؤٹ کریں</button>"), "{urdu_page}");
}

async fn the_passkey_offer_and_second_factor_pages_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    for path in ["/account/passkeys/offer", "/account/second-factor"] {
        let (english, urdu_page) = in_both_languages(&browser, path).await;
        assert_translated(path, &english, &urdu_page);
    }
}

async fn the_authenticator_set_up_page_and_its_refusal_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let account = browser.get("/account").await.text().await.unwrap();
    let csrf = flow::hidden_field(&account, "csrf");
    let started = browser.post("/account/totp/start", &[("csrf", &csrf)]).await;
    assert_eq!(location(&started), "/account/totp");
    let (english, urdu_page) = in_both_languages(&browser, "/account/totp").await;
    assert_translated("authenticator set-up", &english, &urdu_page);
    let refused = browser
        .post("/account/totp/confirm", &[("csrf", &csrf), ("code", "000000")])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(lang_and_dir(&refused), urdu());
    assert!(refused.contains("یہ کوڈ نہیں چلا"), "{refused}");
}

async fn a_refused_sign_in_says_why_in_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    let mut refusals = Vec::new();
    for tag in ["en", "ur"] {
        choose_language(&browser, tag).await;
        let login = browser.get("/login").await.text().await.unwrap();
        let refused = browser
            .post(
                "/login",
                &[
                    ("csrf", flow::hidden_field(&login, "csrf").as_str()),
                    ("request", ""),
                    ("email", "reader@example.com"),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 401);
        refusals.push(refused.text().await.unwrap());
    }
    let (english, urdu_page) = (&refusals[0], &refusals[1]);
    assert!(
        english.contains("That email and password don&#39;t match"),
        "{english}"
    );
    assert_eq!(lang_and_dir(urdu_page), urdu());
    assert!(
        urdu_page.contains("یہ ای میل اور پاس ورڈ آپس میں میل نہیں کھاتے"),
        "{urdu_page}"
    );
}

async fn error_pages_say_what_went_wrong_in_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let english = page_with_accept_language(&server, "/signup", "en").await;
    let urdu_page = page_with_accept_language(&server, "/signup", "ur").await;
    assert_translated("not found", &english, &urdu_page);
    assert!(english.contains("<h1>Page not found</h1>"), "{english}");
    assert!(urdu_page.contains("<h1>صفحہ نہیں ملا</h1>"), "{urdu_page}");
}

async fn the_account_page_speaks_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let (english, urdu_page) = in_both_languages(&browser, "/account").await;
    assert_translated("account", &english, &urdu_page);
    assert!(english.contains("Sign out everywhere"), "{english}");
    assert!(urdu_page.contains("ہر جگہ سے سائن آؤٹ کریں"), "{urdu_page}");
    let (english, urdu_page) = in_both_languages(&browser, "/account?done=name").await;
    assert!(english.contains("Your name was saved."), "{english}");
    assert!(urdu_page.contains("آپ کا نام محفوظ ہو گیا۔"), "{urdu_page}");
}

/// `response`'s page, after its redirect when it has one.
async fn page_after(browser: &Browser, response: reqwest::Response) -> String {
    browser.follow(response).await.text().await.unwrap()
}

/// The page `post` answers when it is sent in English, then in Urdu: each run gets the page at
/// `form_path` in its language and posts it with `post`.
async fn posted_in_both_languages<F, Fut>(browser: &Browser, form_path: &str, post: F) -> (String, String)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let mut pages = Vec::new();
    for tag in ["en", "ur"] {
        choose_language(browser, tag).await;
        let form = browser.get(form_path).await.text().await.unwrap();
        let response = post(flow::hidden_field(&form, "csrf")).await;
        pages.push(page_after(browser, response).await);
    }
    let urdu_page = pages.pop().unwrap();
    (pages.pop().unwrap(), urdu_page)
}

async fn the_sign_in_link_pages_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    let (english, urdu_page) = posted_in_both_languages(&browser, "/login", |csrf| {
        let browser = &browser;
        async move {
            browser
                .post(
                    "/login/link",
                    &[
                        ("csrf", csrf.as_str()),
                        ("request", ""),
                        ("email", "reader@example.com"),
                    ],
                )
                .await
        }
    })
    .await;
    assert_translated("link sent", &english, &urdu_page);
    assert!(english.contains("<h1>Check your email</h1>"), "{english}");

    let state = server.state.clone();
    let link = server
        .state
        .store
        .run(move |conn| {
            usher::domain::identity::links::issue(&state, conn, "reader@example.com", "", state.clock.now())
        })
        .await
        .unwrap()
        .expect("a link for a known address");
    let path = link.url.replace(&server.url, "");
    let (english, urdu_page) = in_both_languages(&browser, &path).await;
    assert_translated("link continue", &english, &urdu_page);
    let (english, urdu_page) =
        in_both_languages(&browser, "/login/link/continue?token=spent-or-made-up").await;
    assert_translated("link gone", &english, &urdu_page);
}

async fn signing_out_speaks_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let (english, urdu_page) = in_both_languages(&browser, "/oauth/logout").await;
    assert_translated("sign out?", &english, &urdu_page);
    let mut signed_out = Vec::new();
    for tag in ["en", "ur"] {
        browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
        choose_language(&browser, tag).await;
        let confirm = browser.get("/oauth/logout").await.text().await.unwrap();
        let csrf = flow::hidden_field(&confirm, "csrf");
        let response = browser.post("/logout", &[("csrf", csrf.as_str())]).await;
        signed_out.push(page_after(&browser, response).await);
    }
    assert_translated("signed out", &signed_out[0], &signed_out[1]);
    assert!(signed_out[0].contains("You are signed out"), "{}", signed_out[0]);
}

/// A TV's user code for `tv`.
async fn user_code(server: &TestServer, tv: &usher::domain::oauth::clients::CreatedClient) -> String {
    let codes: serde_json::Value = common::http()
        .post(server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    codes["user_code"].as_str().unwrap().to_owned()
}

async fn the_tv_answer_pages_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    flow::create_user(&server, "reader@example.com").await;
    let tv = server
        .create_client(usher::domain::oauth::clients::NewClient {
            name: "Streamly TV".into(),
            grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
            public: true,
            ..usher::domain::oauth::clients::NewClient::default()
        })
        .await;
    let browser = Browser::new(&server);
    browser.sign_in(None, "reader@example.com", flow::PASSWORD).await;
    let (english, urdu_page) = in_both_languages(&browser, "/device").await;
    assert_translated("TV code", &english, &urdu_page);
    for decision in ["allow", "deny"] {
        let mut answers = Vec::new();
        for tag in ["en", "ur"] {
            let code = user_code(&server, &tv).await;
            choose_language(&browser, tag).await;
            let confirm = browser
                .get(&format!("/device?user_code={code}"))
                .await
                .text()
                .await
                .unwrap();
            let form = [
                ("csrf", flow::hidden_field(&confirm, "csrf")),
                ("user_code", flow::hidden_field(&confirm, "user_code")),
                ("decision", decision.to_owned()),
            ];
            let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let response = browser.post("/device/decision", &form).await;
            answers.push(page_after(&browser, response).await);
        }
        assert_translated(decision, &answers[0], &answers[1]);
    }
}

/// A signed-in holder of a family plan (three places, five profiles) with two profiles, an
/// open invitation and a second device signed in with Firefox on Windows.
async fn family_account(server: &TestServer) -> Browser {
    use usher::domain::entitlements::manage::{Actor, TierInput};
    use usher::domain::profiles::{self, PinChange, ProfileInput};
    let user_id = flow::create_user(server, "holder@example.com").await;
    let plan = TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(5),
        max_members: 3,
        ..TierInput::default()
    };
    common::subscribe(server, &user_id, "family", plan).await;
    for (name, maturity) in [("Amina", "18"), ("Zara", "all")] {
        let input = ProfileInput {
            name: name.into(),
            maturity: Some(maturity.into()),
            kids: false,
            pin: PinChange::Keep,
        };
        profiles::create(&server.state.core, &Actor::client("test"), &user_id, input)
            .await
            .unwrap();
    }
    Browser::with_user_agent(
        server,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    )
    .sign_in(None, "holder@example.com", flow::PASSWORD)
    .await;
    let browser = Browser::new(server);
    browser.sign_in(None, "holder@example.com", flow::PASSWORD).await;
    let account = browser.get("/account").await.text().await.unwrap();
    let invited = browser
        .post(
            "/account/family/invite",
            &[
                ("csrf", flow::hidden_field(&account, "csrf").as_str()),
                ("email", "cousin@example.com"),
            ],
        )
        .await;
    assert_eq!(location(&invited), "/account?done=family-invited");
    browser
}

/// `text` as a right-to-left message holds it: inside Unicode isolation marks.
fn isolated(text: &str) -> String {
    format!("\u{2068}{text}\u{2069}")
}

async fn the_account_pages_family_ratings_and_device_names_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = family_account(&server).await;
    let (english, urdu_page) = in_both_languages(&browser, "/account").await;
    assert_translated("account with a family", &english, &urdu_page);
    for words in [
        "<h2 id=\"family-heading\">Family</h2>",
        "Your plan lets you share it with 3 people.",
        "<h3>Invitations</h3>",
        "Up to 18+",
        "Suitable for all ages",
        "Firefox on Windows",
    ] {
        assert!(english.contains(words), "{words}: {english}");
    }
    for words in [
        "<h2 id=\"family-heading\">فیملی</h2>".to_owned(),
        format!("آپ اپنا پلان {} افراد کے ساتھ بانٹ سکتے ہیں۔", isolated("3")),
        "<h3>دعوت نامے</h3>".to_owned(),
        format!("{} تک", isolated("18+")),
        "ہر عمر کے لیے موزوں".to_owned(),
        format!("{} پر {}", isolated("Windows"), isolated("Firefox")),
    ] {
        assert!(urdu_page.contains(&words), "{words}: {urdu_page}");
    }
    for english_words in [
        "Family",
        "Invitations",
        "Suitable",
        "Up to",
        " on Windows",
        "Send invitation",
    ] {
        assert!(
            !urdu_page.contains(english_words),
            "{english_words} left in English: {urdu_page}"
        );
    }
}

async fn the_account_pages_refusals_speak_urdu(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let browser = family_account(&server).await;
    let (english, urdu_page) = posted_in_both_languages(&browser, "/account", |csrf| {
        let browser = &browser;
        async move {
            browser
                .post(
                    "/account/family/invite",
                    &[("csrf", csrf.as_str()), ("email", "holder@example.com")],
                )
                .await
        }
    })
    .await;
    assert_translated("inviting oneself", &english, &urdu_page);
    assert!(english.contains("That is your own address."), "{english}");
    assert!(urdu_page.contains("یہ تو آپ کا اپنا ایڈریس ہے۔"), "{urdu_page}");
    let (english, urdu_page) = posted_in_both_languages(&browser, "/account", |csrf| {
        let browser = &browser;
        async move {
            browser
                .post(
                    "/account/profile",
                    &[("csrf", csrf.as_str()), ("name", "Grace\u{202e}")],
                )
                .await
        }
    })
    .await;
    assert_translated("a hidden character in a name", &english, &urdu_page);
    assert!(urdu_page.contains("کوئی اور نام رکھیں"), "{urdu_page}");
}
