//! The device authorization grant (RFC 8628) against the real server: a TV asks for codes
//! and polls the token endpoint, a person approves or denies on the verification page (a
//! cookie-keeping HTTP client here; headless Chromium with a passkey in `browser_device.rs`),
//! with the clock under the test's control.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::oauth::clients::{CreatedClient, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const EMAIL: &str = "viewer@example.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const START: i64 = 1_795_000_000;

struct Living {
    server: TestServer,
    tv: CreatedClient,
    _db: TestDb,
}

async fn living_room(backend: Backend, configure: impl FnOnce(&mut Config)) -> Living {
    let db = TestDb::new(backend);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let tv = server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![DEVICE_GRANT.into(), "refresh_token".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    flow::create_user(&server, EMAIL).await;
    Living { server, tv, _db: db }
}

impl Living {
    async fn device_authorization(&self, scope: &str) -> Value {
        let response = common::http()
            .post(self.server.endpoint("/oauth/device_authorization"))
            .form(&[("client_id", self.tv.client_id.as_str()), ("scope", scope)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }

    /// One poll of the token endpoint: (status, body).
    async fn poll(&self, device_code: &str) -> (u16, Value) {
        let response = common::http()
            .post(self.server.endpoint("/oauth/token"))
            .form(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", self.tv.client_id.as_str()),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// A signed-in phone.
    async fn phone(&self) -> Browser {
        let phone = Browser::new(&self.server);
        let signed_in = phone.sign_in(None, EMAIL, PASSWORD).await;
        assert_eq!(signed_in.status(), 303);
        phone
    }

    /// A phone on the loopback address `address`, signed in as `email` (created when new).
    async fn phone_of(&self, email: &str, address: &str) -> Browser {
        if email != EMAIL {
            flow::create_user(&self.server, email).await;
        }
        let phone = Browser::from_address(&self.server, address);
        let signed_in = phone.sign_in(None, email, PASSWORD).await;
        assert_eq!(signed_in.status(), 303);
        phone
    }

    fn advance(&self, secs: i64) {
        self.server.state.clock.advance(secs);
    }
}

/// Types `user_code` on the phone's verification page; the answer.
async fn enter_code(phone: &Browser, user_code: &str) -> reqwest::Response {
    let page = phone.get("/device").await.text().await.unwrap();
    phone
        .post(
            "/device",
            &[
                ("csrf", hidden_field(&page, "csrf").as_str()),
                ("user_code", user_code),
            ],
        )
        .await
}

/// Types the code and answers `decision` on the confirmation page.
async fn decide(phone: &Browser, user_code: &str, decision: &str) -> String {
    let confirm = enter_code(phone, user_code).await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert!(page.contains("Streamly TV"), "the page names the app: {page}");
    let done = phone
        .post(
            "/device/decision",
            &[
                ("csrf", hidden_field(&page, "csrf").as_str()),
                ("user_code", hidden_field(&page, "user_code").as_str()),
                ("decision", decision),
            ],
        )
        .await;
    assert_eq!(done.status(), 200);
    done.text().await.unwrap()
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn discovery_advertises_the_device_endpoint_and_grant(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let metadata: Value = common::http()
        .get(living.server.endpoint("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["device_authorization_endpoint"],
        living.server.endpoint("/oauth/device_authorization")
    );
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&DEVICE_GRANT.into())
    );
}

async fn the_device_gets_codes_in_the_rfc_shape(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid offline_access").await;
    let user_code = codes["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    assert!(codes["device_code"].as_str().unwrap().len() >= 43);
    assert_eq!(codes["verification_uri"], living.server.endpoint("/device"));
    assert_eq!(
        codes["verification_uri_complete"],
        living.server.endpoint(&format!("/device?user_code={user_code}"))
    );
    assert_eq!(codes["expires_in"], 600);
    assert_eq!(codes["interval"], 5);
}

async fn polling_waits_then_slows_down_then_gets_tokens_once(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid offline_access").await;
    let device_code = codes["device_code"].as_str().unwrap();

    let (status, body) = living.poll(device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    living.advance(2);
    let (status, body) = living.poll(device_code).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("slow_down")));
    // The interval is now 10 seconds: 5 more is still too soon.
    living.advance(5);
    let (_, body) = living.poll(device_code).await;
    assert_eq!(body["error"], "slow_down", "the interval grew to 10, then 15");
    living.advance(15);
    let (_, body) = living.poll(device_code).await;
    assert_eq!(body["error"], "authorization_pending");

    let phone = living.phone().await;
    let done = decide(&phone, codes["user_code"].as_str().unwrap(), "allow").await;
    assert!(done.contains("Your device is signed in"));
    living.advance(15);
    let (status, tokens) = living.poll(device_code).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], living.tv.client_id);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].as_str().unwrap().starts_with("device-"));
    assert!(tokens["refresh_token"].is_string());

    living.advance(15);
    let (status, again) = living.poll(device_code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "tokens go out once"
    );

    let refreshed = common::http()
        .post(living.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", living.tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
}

async fn a_denied_request_answers_access_denied(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    let done = decide(&phone, codes["user_code"].as_str().unwrap(), "deny").await;
    assert!(done.contains("Request denied"));
    let (status, body) = living.poll(codes["device_code"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("access_denied")));
}

async fn an_expired_code_answers_expired_token_and_cannot_be_approved(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    living.advance(601);
    let (status, body) = living.poll(codes["device_code"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("expired_token")));
    let phone = living.phone().await;
    let answer = enter_code(&phone, codes["user_code"].as_str().unwrap()).await;
    assert_eq!(answer.status(), 422);
    assert!(answer.text().await.unwrap().contains("That code didn"));
}

async fn the_code_is_forgiving_to_type(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    let typed = codes["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let phone = living.phone().await;
    let confirm = enter_code(&phone, &typed).await;
    assert_eq!(confirm.status(), 200);
    assert!(
        confirm
            .text()
            .await
            .unwrap()
            .contains(codes["user_code"].as_str().unwrap())
    );
}

async fn wrong_and_malformed_codes_get_the_same_answer(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    living.device_authorization("openid").await;
    let phone = living.phone().await;
    let mut pages = Vec::new();
    for typed in ["BCDF-GHJK", "not a code", "", "AAAA-AAAA", "BCDF-GHJK-LMNP"] {
        let answer = enter_code(&phone, typed).await;
        assert_eq!(answer.status(), 422, "{typed:?}");
        let page = answer.text().await.unwrap();
        assert!(page.contains("That code didn"));
        pages.push(
            page.replace(&format!("value=\"{typed}\""), "")
                .replace(&hidden_field(&page, "csrf"), ""),
        );
    }
    assert!(
        pages.windows(2).all(|pair| pair[0] == pair[1]),
        "nothing tells the codes apart"
    );

    for (device_code, error) in [("made-up", "invalid_grant"), ("", "invalid_request")] {
        let (status, body) = living.poll(device_code).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{device_code:?}"
        );
    }
    let missing = common::http()
        .post(living.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("client_id", living.tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

async fn another_client_cannot_redeem_the_device_code(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    decide(&phone, codes["user_code"].as_str().unwrap(), "allow").await;
    let other = living
        .server
        .create_client(NewClient {
            name: "Other TV".into(),
            grant_types: vec![DEVICE_GRANT.into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let response = common::http()
        .post(living.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", codes["device_code"].as_str().unwrap()),
            ("client_id", other.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = living.poll(codes["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "the right client still gets its tokens");
}

async fn a_client_without_the_grant_is_refused(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let web_app = living.server.create_client(flow::first_party_app()).await;
    let response = common::post_form(
        &living.server.endpoint("/oauth/device_authorization"),
        &web_app,
        &[("scope", "openid")],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

async fn one_address_gets_a_bounded_number_of_device_codes(backend: Backend) {
    let living = living_room(backend, |config| config.device_authorizations_per_ip = 3).await;
    for _ in 0..3 {
        living.device_authorization("openid").await;
    }
    let refused = common::http()
        .post(living.server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", living.tv.client_id.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let wait: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= living.server.state.config.device_code_ttl_secs);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "slow_down");
}

async fn a_signed_out_phone_typing_the_short_address_returns_to_the_code_page(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let phone = Browser::new(&living.server);
    let to_sign_in = phone.get("/device").await;
    assert_eq!(to_sign_in.status(), 303);
    let login = phone.get(&location(&to_sign_in)).await.text().await.unwrap();
    let signed_in = phone.sign_in(Some(&login), EMAIL, PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/device", "the code page, not the account");
}

async fn guessing_codes_is_limited_per_address(backend: Backend) {
    let living = living_room(backend, |config| config.device_code_failures_per_ip = 3).await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    for _ in 0..3 {
        assert_eq!(enter_code(&phone, "BCDF-GHJK").await.status(), 422);
    }
    let right_code = enter_code(&phone, codes["user_code"].as_str().unwrap()).await;
    assert_eq!(right_code.status(), 429, "even the right code waits");
    assert!(right_code.text().await.unwrap().contains("Too many wrong codes"));
    living.advance(901);
    assert_eq!(
        enter_code(&phone, codes["user_code"].as_str().unwrap())
            .await
            .status(),
        422,
        "the window passed, and so did the code's ten minutes"
    );
}

async fn guessing_through_the_answer_form_is_limited_too(backend: Backend) {
    let living = living_room(backend, |config| config.device_code_failures_per_ip = 3).await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    let page = phone.get("/device").await.text().await.unwrap();
    let csrf = hidden_field(&page, "csrf");
    let answer = |user_code: String| {
        let csrf = csrf.clone();
        let phone = &phone;
        async move {
            phone
                .post(
                    "/device/decision",
                    &[
                        ("csrf", csrf.as_str()),
                        ("user_code", user_code.as_str()),
                        ("decision", "allow"),
                    ],
                )
                .await
        }
    };
    for _ in 0..3 {
        assert_eq!(answer("BCDF-GHJK".into()).await.status(), 422);
    }
    let right_code = answer(codes["user_code"].as_str().unwrap().to_owned()).await;
    assert_eq!(right_code.status(), 429);
    let (_, body) = living.poll(codes["device_code"].as_str().unwrap()).await;
    assert_eq!(body["error"], "authorization_pending", "nothing was approved");
}

async fn wrong_codes_from_other_accounts_and_addresses_never_refuse_a_right_code(backend: Backend) {
    let living = living_room(backend, |config| {
        config.device_code_failures_per_ip = 3;
        config.device_code_failures_per_account = 3;
        config.device_code_failures_global = 2;
    })
    .await;
    let codes = living.device_authorization("openid").await;
    for guesser in 1..=3 {
        let phone = living
            .phone_of(
                &format!("guesser{guesser}@example.com"),
                &format!("127.0.{guesser}.1"),
            )
            .await;
        for _ in 0..3 {
            assert_eq!(enter_code(&phone, "BCDF-GHJK").await.status(), 422);
        }
        assert_eq!(
            enter_code(&phone, "BCDF-GHJK").await.status(),
            429,
            "the guesser is stopped"
        );
    }

    let owner = living.phone_of(EMAIL, "127.0.9.1").await;
    let right_code = enter_code(&owner, codes["user_code"].as_str().unwrap()).await;
    assert_eq!(right_code.status(), 200);
    assert!(
        right_code
            .text()
            .await
            .unwrap()
            .contains("Sign in on your device?")
    );
}

async fn guessing_codes_is_limited_per_account_from_any_address(backend: Backend) {
    let living = living_room(backend, |config| {
        config.device_code_failures_per_ip = 100;
        config.device_code_failures_per_account = 3;
    })
    .await;
    let codes = living.device_authorization("openid").await;
    let first_address = living.phone_of(EMAIL, "127.0.1.1").await;
    for _ in 0..3 {
        assert_eq!(enter_code(&first_address, "BCDF-GHJK").await.status(), 422);
    }
    let second_address = living.phone_of(EMAIL, "127.0.2.1").await;
    let right_code = enter_code(&second_address, codes["user_code"].as_str().unwrap()).await;
    assert_eq!(right_code.status(), 429, "even the right code waits");
}

async fn many_wrong_codes_everywhere_slow_every_lookup(backend: Backend) {
    let living = living_room(backend, |config| {
        config.device_code_failures_per_ip = 100;
        config.device_code_failures_per_account = 100;
        config.device_code_failures_global = 1;
    })
    .await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    for _ in 0..2 {
        assert_eq!(enter_code(&phone, "BCDF-GHJK").await.status(), 422);
    }
    let page = phone.get("/device").await.text().await.unwrap();
    let started = std::time::Instant::now();
    let right_code = phone
        .post(
            "/device",
            &[
                ("csrf", hidden_field(&page, "csrf").as_str()),
                ("user_code", codes["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(right_code.status(), 200, "slowed, not refused");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

async fn the_verification_link_signs_in_first_and_comes_back_with_the_code(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    let phone = Browser::new(&living.server);
    let link = codes["verification_uri_complete"].as_str().unwrap();
    let to_login = phone.get(link).await;
    assert_eq!(to_login.status(), 303);
    let login_page = phone.follow(to_login).await.text().await.unwrap();
    let signed_in = phone.sign_in(Some(&login_page), EMAIL, PASSWORD).await;
    assert_eq!(
        location(&signed_in),
        format!("/device?user_code={}", codes["user_code"].as_str().unwrap())
    );
    let confirm = phone.follow(signed_in).await;
    assert_eq!(confirm.status(), 200);
    assert!(confirm.text().await.unwrap().contains("Sign in on your device?"));
}

async fn the_account_page_lists_the_tv_and_signs_it_out(backend: Backend) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid offline_access").await;
    let phone = living.phone().await;
    decide(&phone, codes["user_code"].as_str().unwrap(), "allow").await;
    let (_, tokens) = living.poll(codes["device_code"].as_str().unwrap()).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let account = phone.get("/account").await.text().await.unwrap();
    assert!(
        account.contains("Streamly TV on a TV or other device"),
        "{account}"
    );
    let start = account.find("Streamly TV on a TV").unwrap();
    let sid = hidden_field(&account[start..], "sid");
    assert!(sid.starts_with("device-"));
    let signed_out = phone
        .post(
            "/account/sessions/end",
            &[
                ("csrf", hidden_field(&account, "csrf").as_str()),
                ("sid", sid.as_str()),
            ],
        )
        .await;
    assert_eq!(location(&signed_out), "/account?done=session");
    let account = phone.get("/account").await.text().await.unwrap();
    assert!(!account.contains("Streamly TV on a TV"));

    let refreshed = common::http()
        .post(living.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", living.tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 400, "the TV is signed out");
}

async fn a_tv_signed_in_without_a_refresh_token_is_listed_and_signing_it_out_ends_its_token(
    backend: Backend,
) {
    let living = living_room(backend, |_| {}).await;
    let codes = living.device_authorization("openid").await;
    let phone = living.phone().await;
    decide(&phone, codes["user_code"].as_str().unwrap(), "allow").await;
    let (_, tokens) = living.poll(codes["device_code"].as_str().unwrap()).await;
    assert!(tokens.get("refresh_token").is_none());
    let access_token = tokens["access_token"].as_str().unwrap();
    let content_server = living.server.service_client(&[]).await;
    assert_eq!(
        common::introspect(&living.server, &content_server, access_token).await["active"],
        true
    );

    let account = phone.get("/account").await.text().await.unwrap();
    let start = account
        .find("Streamly TV on a TV")
        .unwrap_or_else(|| panic!("the TV is listed: {account}"));
    let sid = hidden_field(&account[start..], "sid");
    let signed_out = phone
        .post(
            "/account/sessions/end",
            &[
                ("csrf", hidden_field(&account, "csrf").as_str()),
                ("sid", sid.as_str()),
            ],
        )
        .await;
    assert_eq!(location(&signed_out), "/account?done=session");

    assert_eq!(
        common::introspect(&living.server, &content_server, access_token).await["active"],
        false
    );
    let account = phone.get("/account").await.text().await.unwrap();
    assert!(!account.contains("Streamly TV on a TV"));
}

on_both_backends!(
    discovery_advertises_the_device_endpoint_and_grant,
    one_address_gets_a_bounded_number_of_device_codes,
    a_signed_out_phone_typing_the_short_address_returns_to_the_code_page,
    the_device_gets_codes_in_the_rfc_shape,
    polling_waits_then_slows_down_then_gets_tokens_once,
    a_denied_request_answers_access_denied,
    an_expired_code_answers_expired_token_and_cannot_be_approved,
    the_code_is_forgiving_to_type,
    wrong_and_malformed_codes_get_the_same_answer,
    another_client_cannot_redeem_the_device_code,
    a_client_without_the_grant_is_refused,
    guessing_codes_is_limited_per_address,
    wrong_codes_from_other_accounts_and_addresses_never_refuse_a_right_code,
    guessing_codes_is_limited_per_account_from_any_address,
    many_wrong_codes_everywhere_slow_every_lookup,
    guessing_through_the_answer_form_is_limited_too,
    the_verification_link_signs_in_first_and_comes_back_with_the_code,
    the_account_page_lists_the_tv_and_signs_it_out,
    a_tv_signed_in_without_a_refresh_token_is_listed_and_signing_it_out_ends_its_token,
);
