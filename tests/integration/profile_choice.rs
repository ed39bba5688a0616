//! "Who's watching?": with scope `profiles`, a sign-in chooses one of the account's profiles
//! (a PIN-protected one asks for its PIN, wrong PINs are throttled), and every token speaks
//! for it: access and ID tokens, userinfo and introspection carry `profile` and `maturity`,
//! introspection as the profile is now. The refresh token grant switches profiles; a phone
//! approving a TV chooses the TV's profile.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::entitlements::manage::{Actor, TierInput};
use usher::domain::oauth::clients::{CreatedClient, NewClient};
use usher::domain::profiles::{self, PinChange, ProfileInput};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::store::profiles::Profile;

const EMAIL: &str = "family@example.com";
const REDIRECT: &str = "https://app.example/callback";
const SCOPE: &str = "openid profiles entitlements offline_access";
const PIN: &str = "2468";

struct Family {
    server: TestServer,
    app: CreatedClient,
    content_server: CreatedClient,
    user_id: String,
    /// Maturity 18, behind [`PIN`].
    parent: Profile,
    /// Maturity 7, a kids profile.
    kid: Profile,
    _db: TestDb,
}

async fn family(backend: Backend) -> Family {
    family_with(backend, |_| {}).await
}

/// An account on a plan allowing five profiles, with a parent's profile behind a PIN and a
/// kid's; a first-party app and a content server.
async fn family_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Family {
    let db = TestDb::new(backend);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::System).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    common::subscribe(&server, &user_id, "family", family_plan()).await;
    let parent = add_profile(&server, &user_id, "Parent", "18", false, Some(PIN)).await;
    let kid = add_profile(&server, &user_id, "Kid", "7", true, None).await;
    let app = server.create_client(flow::first_party_app()).await;
    let content_server = server
        .create_client(NewClient {
            name: "Content".into(),
            grant_types: vec!["client_credentials".into()],
            resource_server: true,
            ..NewClient::default()
        })
        .await;
    Family {
        server,
        app,
        content_server,
        user_id,
        parent,
        kid,
        _db: db,
    }
}

async fn add_profile(
    server: &TestServer,
    user_id: &str,
    name: &str,
    maturity: &str,
    kids: bool,
    pin: Option<&str>,
) -> Profile {
    let input = ProfileInput {
        name: name.into(),
        maturity: Some(maturity.into()),
        kids,
        pin: pin.map_or(PinChange::Keep, |pin| PinChange::Set(pin.into())),
    };
    profiles::create(&server.state.core, &Actor::client("test"), user_id, input)
        .await
        .unwrap()
}

/// Four streams, five profiles.
fn family_plan() -> TierInput {
    TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(5),
        ..TierInput::default()
    }
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A started authorization request with PKCE, signed in: the page that follows (the picker,
/// when there is a choice) and the verifier.
async fn sign_in(
    f: &Family,
    browser: &Browser,
    scope: &str,
    extra: &[(&str, &str)],
) -> (reqwest::Response, String) {
    let (verifier, challenge) = flow::pkce();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &f.app.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    let login = browser.get(&format!("/oauth/authorize?{}", query.finish())).await;
    let html = login.text().await.unwrap();
    let signed_in = browser.sign_in(Some(&html), EMAIL, PASSWORD).await;
    (browser.follow(signed_in).await, verifier)
}

/// Posts a choice on the picker (or the PIN page) `page`.
async fn choose(browser: &Browser, page: &str, profile: &Profile, pin: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("csrf", hidden_field(page, "csrf")),
        ("request", hidden_field(page, "request")),
        ("session", hidden_field(page, "session")),
        ("profile", profile.id.clone()),
    ];
    if let Some(pin) = pin {
        form.push(("pin", pin.to_owned()));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    browser.post("/oauth/profile", &form).await
}

fn code_from(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "a redirect to the app");
    let location = location(response);
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .unwrap_or_else(|| panic!("a code in {location}"))
}

async fn exchange(f: &Family, code: &str, verifier: &str) -> Value {
    let response = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh(f: &Family, refresh_token: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    form.extend_from_slice(extra);
    let response = common::post_form(&f.server.endpoint("/oauth/token"), &f.app, &form).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Signs in and chooses the kid's profile: the token response.
async fn kids_tokens(f: &Family) -> Value {
    let browser = Browser::new(&f.server);
    let (picker, verifier) = sign_in(f, &browser, SCOPE, &[]).await;
    let page = picker.text().await.unwrap();
    let code = code_from(&choose(&browser, &page, &f.kid, None).await);
    exchange(f, &code, &verifier).await
}

async fn with_several_profiles_sign_in_asks_whos_watching(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (picker, _) = sign_in(&f, &browser, SCOPE, &[]).await;
    assert_eq!(picker.status(), 200);
    let page = picker.text().await.unwrap();
    assert!(page.contains("<h1>Who&#39;s watching?</h1>"), "{page}");
    assert!(page.contains("Parent") && page.contains("Kid"), "{page}");
    assert!(!page.contains("pin_hash") && !page.contains("argon2"), "{page}");
}

async fn every_token_speaks_for_the_profile_chosen(backend: Backend) {
    let f = family(backend).await;
    let tokens = kids_tokens(&f).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["profile"], f.kid.id.as_str());
    assert_eq!(access["maturity"], "7");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["profile"], f.kid.id.as_str());
    assert_eq!(id_token["maturity"], "7");
    let userinfo: Value = common::http()
        .get(f.server.endpoint("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["profile"], f.kid.id.as_str());
    assert_eq!(userinfo["maturity"], "7");
    let introspected = common::introspect(
        &f.server,
        &f.content_server,
        tokens["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["profile"], f.kid.id.as_str());
    assert_eq!(introspected["maturity"], "7");
    assert_eq!(introspected["tier"], "family");
}

async fn without_scope_profiles_nothing_is_asked_and_no_profile_is_carried(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (redirect, verifier) = sign_in(&f, &browser, "openid entitlements", &[]).await;
    let tokens = exchange(&f, &code_from(&redirect), &verifier).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert!(access.get("profile").is_none(), "{access}");
    let introspected = common::introspect(
        &f.server,
        &f.content_server,
        tokens["access_token"].as_str().unwrap(),
    )
    .await;
    assert!(introspected.get("profile").is_none(), "{introspected}");
}

async fn a_single_profile_without_a_pin_is_chosen_without_asking(backend: Backend) {
    let f = family(backend).await;
    profiles::delete(
        &f.server.state.core,
        &Actor::client("test"),
        &f.user_id,
        &f.parent.id,
    )
    .await
    .unwrap();
    let browser = Browser::new(&f.server);
    let (redirect, verifier) = sign_in(&f, &browser, SCOPE, &[]).await;
    let tokens = exchange(&f, &code_from(&redirect), &verifier).await;
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["profile"],
        f.kid.id.as_str()
    );
}

async fn prompt_none_with_a_choice_to_make_answers_interaction_required(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (picker, _) = sign_in(&f, &browser, SCOPE, &[]).await;
    assert_eq!(picker.status(), 200, "signed in, at the picker");
    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &f.app.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", SCOPE)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "none")
        .finish();
    let silent = browser.get(&format!("/oauth/authorize?{query}")).await;
    assert!(
        location(&silent).contains("error=interaction_required"),
        "{}",
        location(&silent)
    );
}

async fn a_pin_protected_profile_asks_for_its_pin_first(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (picker, verifier) = sign_in(&f, &browser, SCOPE, &[]).await;
    let picker = picker.text().await.unwrap();
    let asked = choose(&browser, &picker, &f.parent, None).await;
    assert_eq!(asked.status(), 200);
    let pin_page = asked.text().await.unwrap();
    assert!(pin_page.contains("Enter the PIN for Parent"), "{pin_page}");
    let wrong = choose(&browser, &pin_page, &f.parent, Some("1111")).await;
    assert_eq!(wrong.status(), 422);
    let pin_page = wrong.text().await.unwrap();
    assert!(pin_page.contains("That PIN is not right"), "{pin_page}");
    let code = code_from(&choose(&browser, &pin_page, &f.parent, Some(PIN)).await);
    let tokens = exchange(&f, &code, &verifier).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["profile"], f.parent.id.as_str());
    assert_eq!(access["maturity"], "18");
}

async fn wrong_pins_beyond_the_limit_lock_the_profile_even_for_the_right_pin(backend: Backend) {
    let f = family_with(backend, |config| config.profile_pin_failures = 3).await;
    let browser = Browser::new(&f.server);
    let (picker, _) = sign_in(&f, &browser, SCOPE, &[]).await;
    let mut page = picker.text().await.unwrap();
    for attempt in 1..=3 {
        let wrong = choose(&browser, &page, &f.parent, Some("0000")).await;
        assert_eq!(wrong.status(), 422, "attempt {attempt} is within the limit");
        page = wrong.text().await.unwrap();
    }
    let throttled = choose(&browser, &page, &f.parent, Some(PIN)).await;
    assert_eq!(throttled.status(), 429);
    let page = throttled.text().await.unwrap();
    assert!(page.contains("Too many wrong PINs"), "{page}");
    let kid = choose(&browser, &page, &f.kid, None).await;
    assert_eq!(kid.status(), 303, "another profile is still open");
}

async fn a_choice_from_another_session_starts_over(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (picker, _) = sign_in(&f, &browser, SCOPE, &[]).await;
    let page = picker.text().await.unwrap();
    let page = page.replace(&hidden_field(&page, "session"), "forged");
    let forged = choose(&browser, &page, &f.kid, None).await;
    assert_eq!(forged.status(), 303);
    assert!(
        location(&forged).starts_with("/oauth/authorize?"),
        "{}",
        location(&forged)
    );
}

async fn lowering_a_profiles_maturity_acts_at_once_in_introspection(backend: Backend) {
    let f = family(backend).await;
    let tokens = kids_tokens(&f).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        common::introspect(&f.server, &f.content_server, access_token).await["maturity"],
        "7"
    );
    let lowered = ProfileInput {
        name: "Kid".into(),
        maturity: Some("all".into()),
        kids: true,
        pin: PinChange::Keep,
    };
    profiles::update(
        &f.server.state.core,
        &Actor::client("test"),
        &f.user_id,
        &f.kid.id,
        lowered,
    )
    .await
    .unwrap();
    let introspected = common::introspect(&f.server, &f.content_server, access_token).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(
        introspected["maturity"], "all",
        "the parent's change acts at once"
    );
    assert_eq!(
        claims(access_token)["maturity"],
        "7",
        "the token itself still says what it said"
    );
}

async fn a_deleted_profiles_tokens_are_no_longer_active(backend: Backend) {
    let f = family(backend).await;
    let tokens = kids_tokens(&f).await;
    profiles::delete(
        &f.server.state.core,
        &Actor::client("test"),
        &f.user_id,
        &f.kid.id,
    )
    .await
    .unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        common::introspect(&f.server, &f.content_server, access_token).await,
        serde_json::json!({"active": false})
    );
    let (status, body) = refresh(&f, tokens["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

async fn the_refresh_grant_switches_to_another_profile_with_its_pin(backend: Backend) {
    let f = family(backend).await;
    let tokens = kids_tokens(&f).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = refresh(&f, refresh_token, &[("profile", &f.parent.id)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = refresh(
        &f,
        refresh_token,
        &[("profile", &f.parent.id), ("profile_pin", "9999")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, switched) = refresh(
        &f,
        refresh_token,
        &[("profile", &f.parent.id), ("profile_pin", PIN)],
    )
    .await;
    assert_eq!(status, 200, "{switched}");
    let access = claims(switched["access_token"].as_str().unwrap());
    assert_eq!(access["profile"], f.parent.id.as_str());
    assert_eq!(access["maturity"], "18");
    let (status, kept) = refresh(&f, switched["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        claims(kept["access_token"].as_str().unwrap())["profile"],
        f.parent.id.as_str(),
        "the family speaks for the new profile from now on"
    );
}

async fn wrong_pins_on_the_refresh_grant_are_throttled_with_retry_after(backend: Backend) {
    let f = family_with(backend, |config| config.profile_pin_failures = 2).await;
    let tokens = kids_tokens(&f).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _) = refresh(
            &f,
            refresh_token,
            &[("profile", &f.parent.id), ("profile_pin", "0000")],
        )
        .await;
        assert_eq!(status, 400);
    }
    let response = common::post_form(
        &f.server.endpoint("/oauth/token"),
        &f.app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("profile", &f.parent.id),
            ("profile_pin", PIN),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "even the right PIN waits: {body}");
}

async fn switching_to_a_profile_of_another_account_is_refused(backend: Backend) {
    let f = family(backend).await;
    let stranger = flow::create_user(&f.server, "stranger@example.com").await;
    let theirs = add_profile(&f.server, &stranger, "Theirs", "18", false, None).await;
    let tokens = kids_tokens(&f).await;
    let (status, body) = refresh(
        &f,
        tokens["refresh_token"].as_str().unwrap(),
        &[("profile", &theirs.id)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

async fn switching_needs_a_refresh_token_granted_scope_profiles(backend: Backend) {
    let f = family(backend).await;
    let browser = Browser::new(&f.server);
    let (redirect, verifier) = sign_in(&f, &browser, "openid offline_access", &[]).await;
    let tokens = exchange(&f, &code_from(&redirect), &verifier).await;
    let (status, body) = refresh(
        &f,
        tokens["refresh_token"].as_str().unwrap(),
        &[("profile", &f.kid.id)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
}

async fn discovery_lists_the_scope_the_claims_and_the_switch_parameters(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let metadata: Value = common::http()
        .get(server.endpoint("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = |member: &str, value: &str| {
        metadata[member]
            .as_array()
            .unwrap()
            .iter()
            .any(|listed| listed == value)
    };
    assert!(listed("scopes_supported", "profiles"));
    assert!(listed("claims_supported", "profile") && listed("claims_supported", "maturity"));
    assert_eq!(
        metadata["refresh_token_profile_parameters_supported"],
        serde_json::json!(["profile", "profile_pin"])
    );
}

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn a_phone_approving_a_tv_chooses_its_profile(backend: Backend) {
    let f = family(backend).await;
    let tv = f
        .server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![DEVICE_GRANT.into(), "refresh_token".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let started: Value = common::http()
        .post(f.server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid profiles")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phone = Browser::new(&f.server);
    assert_eq!(phone.sign_in(None, EMAIL, PASSWORD).await.status(), 303);
    let user_code = started["user_code"].as_str().unwrap();
    let confirm = phone
        .get(&format!("/device?user_code={user_code}"))
        .await
        .text()
        .await
        .unwrap();
    let allowed = phone
        .post(
            "/device/decision",
            &[
                ("csrf", hidden_field(&confirm, "csrf").as_str()),
                ("user_code", user_code),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(allowed.status(), 200);
    let picker = allowed.text().await.unwrap();
    assert!(picker.contains("Who&#39;s watching?"), "{picker}");
    let chosen = phone
        .post(
            "/device/profile",
            &[
                ("csrf", hidden_field(&picker, "csrf").as_str()),
                ("user_code", hidden_field(&picker, "user_code").as_str()),
                ("profile", f.kid.id.as_str()),
            ],
        )
        .await;
    assert_eq!(chosen.status(), 200);
    let response = common::http()
        .post(f.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", started["device_code"].as_str().unwrap()),
            ("client_id", tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["profile"], f.kid.id.as_str());
    assert_eq!(access["maturity"], "7");
}

on_both_backends!(
    with_several_profiles_sign_in_asks_whos_watching,
    every_token_speaks_for_the_profile_chosen,
    without_scope_profiles_nothing_is_asked_and_no_profile_is_carried,
    a_single_profile_without_a_pin_is_chosen_without_asking,
    prompt_none_with_a_choice_to_make_answers_interaction_required,
    a_pin_protected_profile_asks_for_its_pin_first,
    wrong_pins_beyond_the_limit_lock_the_profile_even_for_the_right_pin,
    a_choice_from_another_session_starts_over,
    lowering_a_profiles_maturity_acts_at_once_in_introspection,
    a_deleted_profiles_tokens_are_no_longer_active,
    the_refresh_grant_switches_to_another_profile_with_its_pin,
    wrong_pins_on_the_refresh_grant_are_throttled_with_retry_after,
    switching_to_a_profile_of_another_account_is_refused,
    switching_needs_a_refresh_token_granted_scope_profiles,
    discovery_lists_the_scope_the_claims_and_the_switch_parameters,
    a_phone_approving_a_tv_chooses_its_profile,
);

/// Two instances on one PostgreSQL database: a maturity lowered through one is what the
/// other's introspection says within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_maturity_lowered_on_one_instance_is_what_the_other_says_within_a_second() {
    let f = family_with(Backend::Postgres, in_cluster).await;
    let mut config = f._db.config();
    in_cluster(&mut config);
    let second = TestServer::start_with(config, Clock::System).await;
    let tokens = kids_tokens(&f).await;
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        common::introspect(&second, &f.content_server, access_token).await["maturity"],
        "7"
    );
    let lowered = ProfileInput {
        name: "Kid".into(),
        maturity: Some("all".into()),
        kids: true,
        pin: PinChange::Keep,
    };
    profiles::update(
        &f.server.state.core,
        &Actor::client("test"),
        &f.user_id,
        &f.kid.id,
        lowered,
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let maturity = common::introspect(&second, &f.content_server, access_token).await["maturity"].clone();
        if maturity == "all" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {maturity} on the second instance"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    second.stop().await;
}

/// Instances of one cluster share an issuer and follow the change feed every 250 ms.
fn in_cluster(config: &mut Config) {
    config.issuer = Some("http://usher.cluster.test".into());
    config.sync_interval_ms = 250;
}
