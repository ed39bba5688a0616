//! The tier's `max_devices`: how many devices may hold a sign-in at once, counted as the
//! account page lists them. A browser sign-in or a TV's approval beyond it is refused with a
//! page listing the devices, each with a button that signs it out and lets the new one in.
//! Browsers here are cookie-keeping HTTP clients named by their `User-Agent`; the page in
//! Chromium is in `pages.rs`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::entitlements::manage::{self, Actor, SubscriptionInput, TierInput};
use usher::domain::identity::devices::{self, DeviceKind, SignedInDevice};
use usher::domain::oauth::clients::{CreatedClient, GRANT_DEVICE_CODE, GRANT_REFRESH_TOKEN, NewClient};
use usher::foundation::clock::Clock;

const EMAIL: &str = "viewer@example.com";
const START: i64 = 1_900_000_000;
const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const TV_APP: &str = "Streamly TV";

/// What the person pays for.
enum Plan {
    /// No subscription at all.
    NoTier,
    /// A tier with this `max_devices`.
    Tier(Option<i32>),
}

struct Account {
    server: TestServer,
    user_id: String,
    tv_app: CreatedClient,
    _db: TestDb,
}

/// A person on `plan`, on a manual clock, and a TV app allowed the device grant.
async fn account(backend: Backend, plan: Plan) -> Account {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let tv_app = server
        .create_client(NewClient {
            name: TV_APP.into(),
            grant_types: vec![GRANT_DEVICE_CODE.into(), GRANT_REFRESH_TOKEN.into()],
            scopes: vec!["openid".into(), "offline_access".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    if let Plan::Tier(max_devices) = plan {
        let (user_id, now) = (user_id.clone(), server.state.clock.now());
        server
            .state
            .store
            .run(move |conn| {
                let actor = Actor::client("payments");
                let tier = TierInput {
                    name: "Family".into(),
                    rank: 10,
                    features: vec![],
                    max_streams: 4,
                    stream_limit_policy: None,
                    max_devices,
                    max_profiles: None,
                    max_members: 0,
                };
                manage::create_tier(conn, &actor, "family", &tier, now)?;
                let subscription = SubscriptionInput {
                    tier: "family".into(),
                    status: "active".into(),
                    current_period_end: now + 30 * 86_400,
                    external_ref: None,
                };
                manage::put_subscription(conn, &actor, &user_id, &subscription, now)
            })
            .await
            .unwrap();
    }
    Account {
        server,
        user_id,
        tv_app,
        _db: db,
    }
}

impl Account {
    /// A browser named `user_agent` that signed in with the password: its answer.
    async fn sign_in(&self, user_agent: &str) -> (Browser, reqwest::Response) {
        let browser = Browser::with_user_agent(&self.server, user_agent);
        let answer = browser.sign_in(None, EMAIL, PASSWORD).await;
        (browser, answer)
    }

    /// A browser named `user_agent`, signed in.
    async fn signed_in(&self, user_agent: &str) -> Browser {
        let (browser, answer) = self.sign_in(user_agent).await;
        assert_eq!(location(&answer), "/account", "signed in");
        browser
    }

    /// The person's devices, as the domain counts them.
    async fn devices(&self) -> Vec<SignedInDevice> {
        let (user_id, now) = (self.user_id.clone(), self.server.state.clock.now());
        self.server
            .state
            .store
            .run(move |conn| devices::signed_in(conn, &user_id, now))
            .await
            .unwrap()
    }

    /// Whether one more device may sign in now.
    async fn may_sign_in(&self) -> bool {
        let (user_id, now) = (self.user_id.clone(), self.server.state.clock.now());
        self.server
            .state
            .store
            .run(move |conn| devices::may_sign_in(conn, &user_id, None, now))
            .await
            .unwrap()
            .is_ok()
    }

    /// A TV asking to sign in: its device code and user code.
    async fn tv_asks(&self) -> (String, String) {
        let response = common::http()
            .post(self.server.endpoint("/oauth/device_authorization"))
            .form(&[
                ("client_id", self.tv_app.client_id.as_str()),
                ("scope", "openid offline_access"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        (
            body["device_code"].as_str().unwrap().to_owned(),
            body["user_code"].as_str().unwrap().to_owned(),
        )
    }

    /// The TV's poll of the token endpoint: (status, body).
    async fn tv_polls(&self, device_code: &str) -> (u16, Value) {
        let response = common::http()
            .post(self.server.endpoint("/oauth/token"))
            .form(&[
                ("grant_type", GRANT_DEVICE_CODE),
                ("device_code", device_code),
                ("client_id", self.tv_app.client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

/// Whether `browser` is signed in (its account page shows, rather than sending it to sign in).
async fn is_signed_in(browser: &Browser) -> bool {
    browser.get("/account").await.status() == 200
}

/// The `sid` the "Sign out" form of the device described `description` posts.
fn sid_of(page: &str, description: &str) -> String {
    let listed = page
        .find(&format!("<strong>{description}</strong>"))
        .unwrap_or_else(|| panic!("{description} is not listed:\n{page}"));
    hidden_field(&page[listed..], "sid")
}

/// Allows the TV from `phone`: the answer to the Allow button.
async fn allow_tv(phone: &Browser, user_code: &str) -> reqwest::Response {
    let confirm = phone.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    phone
        .post(
            "/device/decision",
            &[
                ("csrf", hidden_field(&page, "csrf").as_str()),
                ("user_code", hidden_field(&page, "user_code").as_str()),
                ("decision", "allow"),
            ],
        )
        .await
}

/// Presses "Sign out" for `description` on a refusal page at `action`.
async fn sign_out_from(browser: &Browser, page: &str, action: &str, description: &str) -> reqwest::Response {
    let mut form = vec![
        ("csrf", hidden_field(page, "csrf")),
        ("sid", sid_of(page, description)),
    ];
    if page.contains("name=\"user_code\"") {
        form.push(("user_code", hidden_field(page, "user_code")));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
    browser.post(action, &form).await
}

async fn a_sign_in_beyond_the_limit_is_refused_with_the_device_list(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(2))).await;
    account.signed_in(FIREFOX).await;
    account.server.state.clock.advance(60);
    account.signed_in(IPHONE).await;

    let (android, refused) = account.sign_in(ANDROID).await;
    assert_eq!(location(&refused), "/login/devices");
    assert!(!is_signed_in(&android).await, "no session for the refused device");
    let page = android.get("/login/devices").await;
    assert_eq!(page.status(), 403);
    let page = page.text().await.unwrap();
    assert!(page.contains("Your plan allows 2 devices"), "{page}");
    assert!(page.contains(">Sign out Firefox on Windows</button>"), "{page}");
    assert!(page.contains(">Sign out Safari on iPhone</button>"), "{page}");
    assert!(
        page.contains("Last used Mar 17, 2030, 5:46\u{202f}PM UTC")
            && page.contains("Last used Mar 17, 2030, 5:47\u{202f}PM UTC"),
        "when each was last used, in UTC as the browser reported no zone: {page}"
    );
    assert!(
        page.find("Safari on iPhone") < page.find("Firefox on Windows"),
        "the most recently used first, as on the account page"
    );
    assert_eq!(account.devices().await.len(), 2);
}

async fn signing_a_device_out_frees_its_slot_and_the_sign_in_continues_where_it_was(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    let firefox = account.signed_in(FIREFOX).await;
    let app = account.server.create_client(flow::first_party_app()).await;
    let (_, challenge) = flow::pkce();
    let authorize = format!(
        "/oauth/authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", "https://app.example/callback")
            .append_pair("scope", "openid")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    );

    let android = Browser::with_user_agent(&account.server, ANDROID);
    let login = android.get(&authorize).await.text().await.unwrap();
    let refused = android.sign_in(Some(&login), EMAIL, PASSWORD).await;
    assert_eq!(location(&refused), "/login/devices");
    let page = android.get("/login/devices").await.text().await.unwrap();
    let continued = sign_out_from(&android, &page, "/login/devices/end", "Firefox on Windows").await;

    assert_eq!(location(&continued), authorize, "back to the app's request");
    let to_app = android.follow(continued).await;
    assert!(
        location(&to_app).starts_with("https://app.example/callback?code="),
        "the app gets its code: {}",
        location(&to_app)
    );
    assert!(!is_signed_in(&firefox).await, "the device chosen is signed out");
    let devices = account.devices().await;
    assert_eq!(devices.len(), 1);
    assert!(
        matches!(&devices[0].kind, DeviceKind::Browser { user_agent } if user_agent == ANDROID),
        "{devices:?}"
    );
    assert_eq!(
        android.get("/login/devices").await.status(),
        303,
        "the held sign-in finished once"
    );
}

async fn the_same_browser_signing_in_again_is_not_refused(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    let firefox = account.signed_in(FIREFOX).await;
    assert!(!account.may_sign_in().await, "the one slot is taken");

    let again = firefox.sign_in(None, EMAIL, PASSWORD).await;

    assert_eq!(location(&again), "/account", "its own session is replaced");
    assert_eq!(account.devices().await.len(), 1);
}

async fn no_limit_when_the_tier_sets_none(backend: Backend) {
    let account = account(backend, Plan::Tier(None)).await;
    for user_agent in [FIREFOX, IPHONE, ANDROID] {
        account.signed_in(user_agent).await;
    }
    assert_eq!(account.devices().await.len(), 3);
    assert!(account.may_sign_in().await);
}

async fn a_person_without_a_tier_has_no_limit(backend: Backend) {
    let account = account(backend, Plan::NoTier).await;
    for user_agent in [FIREFOX, IPHONE, ANDROID] {
        account.signed_in(user_agent).await;
    }
    assert_eq!(account.devices().await.len(), 3);
    assert!(account.may_sign_in().await);
}

async fn only_the_browser_refused_can_see_or_sign_out_the_devices(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    let firefox = account.signed_in(FIREFOX).await;
    let (android, _) = account.sign_in(ANDROID).await;
    let page = android.get("/login/devices").await.text().await.unwrap();
    let firefox_sid = sid_of(&page, "Firefox on Windows");

    let stranger = Browser::new(&account.server);
    assert_eq!(location(&stranger.get("/login/devices").await), "/login");
    let login = stranger.get("/login").await.text().await.unwrap();
    let attempt = stranger
        .post(
            "/login/devices/end",
            &[
                ("csrf", hidden_field(&login, "csrf").as_str()),
                ("sid", firefox_sid.as_str()),
            ],
        )
        .await;

    assert_eq!(attempt.status(), 401);
    assert!(is_signed_in(&firefox).await, "nothing signed out");
    assert_eq!(account.devices().await.len(), 1);
}

async fn a_held_sign_in_times_out(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    account.signed_in(FIREFOX).await;
    let (android, _) = account.sign_in(ANDROID).await;
    let page = android.get("/login/devices").await.text().await.unwrap();

    account.server.state.clock.advance(601);
    let late = sign_out_from(&android, &page, "/login/devices/end", "Firefox on Windows").await;

    assert_eq!(late.status(), 401);
    assert!(late.text().await.unwrap().contains("Your sign-in timed out"));
    assert_eq!(account.devices().await.len(), 1, "nothing signed out");
}

async fn a_tv_beyond_the_limit_is_refused_on_the_phone_and_signing_one_out_lets_it_in(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(2))).await;
    let phone = account.signed_in(ANDROID).await;
    let firefox = account.signed_in(FIREFOX).await;
    let (device_code, user_code) = account.tv_asks().await;

    let refused = allow_tv(&phone, &user_code).await;
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(page.contains("Your plan allows 2 devices"), "{page}");
    assert!(
        page.contains("Sign one out to sign in Streamly TV on your TV"),
        "{page}"
    );
    assert!(
        page.contains("<strong>Chrome on Android</strong> · This device"),
        "{page}"
    );
    assert_eq!(
        account.tv_polls(&device_code).await.1["error"],
        "authorization_pending"
    );

    let done = sign_out_from(&phone, &page, "/device/devices/end", "Firefox on Windows").await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Your device is signed in"));
    account.server.state.clock.advance(5);
    let (status, tokens) = account.tv_polls(&device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    assert!(!is_signed_in(&firefox).await);
    assert!(is_signed_in(&phone).await);
    let tvs = account
        .devices()
        .await
        .into_iter()
        .filter(|device| matches!(&device.kind, DeviceKind::Tv { app_name } if app_name == TV_APP))
        .count();
    assert_eq!(tvs, 1);
    assert_eq!(account.devices().await.len(), 2);
}

async fn the_phone_may_sign_itself_out_to_make_room_for_the_tv(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    let phone = account.signed_in(ANDROID).await;
    let (device_code, user_code) = account.tv_asks().await;
    let page = allow_tv(&phone, &user_code).await.text().await.unwrap();

    let done = sign_out_from(&phone, &page, "/device/devices/end", "Chrome on Android").await;

    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("This device was signed out"));
    assert!(!is_signed_in(&phone).await);
    let (status, tokens) = account.tv_polls(&device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(account.devices().await.len(), 1);
}

async fn a_tv_approved_before_another_device_took_the_last_slot_gets_no_tokens(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(2))).await;
    let phone = account.signed_in(ANDROID).await;
    let (device_code, user_code) = account.tv_asks().await;
    assert_eq!(allow_tv(&phone, &user_code).await.status(), 200);
    account.signed_in(FIREFOX).await;

    let (status, body) = account.tv_polls(&device_code).await;

    assert_eq!(status, 400);
    assert_eq!(body["error"], "access_denied", "{body}");
    assert_eq!(account.devices().await.len(), 2);
}

async fn an_app_signed_in_through_the_browser_is_the_same_device(backend: Backend) {
    let account = account(backend, Plan::Tier(Some(1))).await;
    let app = account.server.create_client(flow::first_party_app()).await;
    let browser = Browser::with_user_agent(&account.server, FIREFOX);

    let tokens =
        flow::person_tokens_in(&browser, &account.server, &app, EMAIL, "openid offline_access").await;

    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(account.devices().await.len(), 1);
}

on_both_backends!(
    a_sign_in_beyond_the_limit_is_refused_with_the_device_list,
    signing_a_device_out_frees_its_slot_and_the_sign_in_continues_where_it_was,
    the_same_browser_signing_in_again_is_not_refused,
    no_limit_when_the_tier_sets_none,
    a_person_without_a_tier_has_no_limit,
    only_the_browser_refused_can_see_or_sign_out_the_devices,
    a_held_sign_in_times_out,
    a_tv_beyond_the_limit_is_refused_on_the_phone_and_signing_one_out_lets_it_in,
    the_phone_may_sign_itself_out_to_make_room_for_the_tv,
    a_tv_approved_before_another_device_took_the_last_slot_gets_no_tokens,
    an_app_signed_in_through_the_browser_is_the_same_device,
);
