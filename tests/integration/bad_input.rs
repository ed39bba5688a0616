//! Malformed input of every kind gets a 4xx with an RFC error body, never a 500 or a panic;
//! bad tokens introspect as `{"active": false}`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Backend, TestDb, TestServer, http, post_form};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use usher::domain::oauth::clients::NewClient;
use usher::foundation::clock::Clock;

async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> serde_json::Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|text| !text.is_empty())
    );
    body
}

async fn a_json_body_is_refused_as_invalid_request(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = http()
        .post(server.endpoint("/oauth/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn broken_json_sent_as_a_form_is_a_missing_grant_type(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = http()
        .post(server.endpoint("/oauth/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("{\"grant_type\": \"client_cre")
        .send()
        .await
        .unwrap();
    let body = assert_oauth_error(response, 400, "invalid_request").await;
    assert!(body["error_description"].as_str().unwrap().contains("grant_type"));
}

async fn a_huge_body_is_refused_with_413(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let huge = format!("grant_type=client_credentials&scope={}", "a".repeat(1024 * 1024));
    let response = http()
        .post(server.endpoint("/oauth/token"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 413, "invalid_request").await;
}

async fn a_truncated_body_is_a_400(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let addr = server.server.as_ref().unwrap().addr;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ngrant_type=cli";
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut answer),
    )
    .await
    .expect("the server answers a truncated body")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
}

async fn a_body_that_is_not_utf8_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = http()
        .post(server.endpoint("/oauth/introspect"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b't', b'o', b'k', b'e', b'n', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn bad_base64_in_basic_credentials_is_invalid_client_with_a_challenge(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let response = http()
        .post(server.endpoint("/oauth/token"))
        .header("authorization", "Basic %%%not base64%%%")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"usher\"");
    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn an_unknown_grant_type_is_unsupported_grant_type(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = post_form(
        &server.endpoint("/oauth/token"),
        &client,
        &[("grant_type", "password")],
    )
    .await;
    assert_oauth_error(response, 400, "unsupported_grant_type").await;
}

async fn a_repeated_parameter_is_invalid_request(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = post_form(
        &server.endpoint("/oauth/token"),
        &client,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn requests_without_client_authentication_get_401_and_a_challenge(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let response = http()
            .post(server.endpoint(path))
            .form(&[("grant_type", "client_credentials"), ("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"usher\"",
            "{path}"
        );
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

async fn a_wrong_secret_is_invalid_client(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let mut client = server.service_client(&["catalog:read"]).await;
    client.client_secret = Some(format!("{}x", client.client_secret.unwrap()));
    let response = post_form(
        &server.endpoint("/oauth/token"),
        &client,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

async fn credentials_in_both_header_and_body_are_invalid_request(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let secret = client.client_secret.clone().unwrap();
    let response = post_form(
        &server.endpoint("/oauth/token"),
        &client,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn public_clients_cannot_use_client_credentials_or_introspect(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let public = server
        .create_client(NewClient {
            name: "tv app".into(),
            redirect_uris: vec!["https://tv.example/cb".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let token = http()
        .post(server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", public.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.headers()["www-authenticate"], "Basic realm=\"usher\"");
    assert_oauth_error(token, 401, "invalid_client").await;
    let introspection = http()
        .post(server.endpoint("/oauth/introspect"))
        .form(&[("token", "x"), ("client_id", public.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(introspection, 401, "invalid_client").await;
}

async fn a_client_without_the_grant_is_unauthorized_client(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let web_app = server
        .create_client(NewClient {
            name: "web".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..NewClient::default()
        })
        .await;
    let response = post_form(
        &server.endpoint("/oauth/token"),
        &web_app,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
}

async fn scopes_beyond_the_clients_or_about_people_are_invalid_scope(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read", "openid"]).await;
    for scope in ["usher:admin", "openid", "catalog:read bad\"scope"] {
        let response = post_form(
            &server.endpoint("/oauth/token"),
            &client,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await;
        assert_oauth_error(response, 400, "invalid_scope").await;
    }
}

async fn introspection_without_a_token_is_invalid_request(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let response = post_form(
        &server.endpoint("/oauth/introspect"),
        &client,
        &[("token_type_hint", "x")],
    )
    .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

fn forged_jwt(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

async fn malformed_unknown_and_forged_tokens_are_inactive(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let real = common::issue_token(&server, &client, None).await;
    let real_kid = jsonwebtoken::decode_header(&real).unwrap().kid.unwrap();
    let mut parts: Vec<&str> = real.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut elevated = claims.clone();
    elevated["scope"] = "usher:admin".into();
    let elevated_payload = URL_SAFE_NO_PAD.encode(elevated.to_string());
    parts[1] = &elevated_payload;
    let tampered = parts.join(".");

    let foreign_key = jsonwebtoken::EncodingKey::from_secret(b"not ours");
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = Some(real_kid.clone());
    let hmac_confusion = jsonwebtoken::encode(&hs_header, &claims, &foreign_key).unwrap();

    let cases = [
        "garbage".to_owned(),
        "a.b.c".to_owned(),
        "!!!.???.***".to_owned(),
        "x".repeat(10_000),
        tampered,
        hmac_confusion,
        forged_jwt(
            &serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": real_kid}),
            &claims,
        ),
        forged_jwt(
            &serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": real_kid}),
            &claims,
        ),
        forged_jwt(
            &serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": "unknown"}),
            &claims,
        ),
        format!("{real}x"),
        STANDARD.encode("not a jwt at all"),
    ];
    for token in cases {
        let answer = common::introspect(&server, &client, &token).await;
        assert_eq!(answer, serde_json::json!({"active": false}), "{token}");
    }
    assert_eq!(common::introspect(&server, &client, &real).await["active"], true);
}

async fn an_expired_token_is_inactive(backend: Backend) {
    let db = TestDb::new(backend);
    let clock = Clock::manual(Clock::System.now());
    let server = TestServer::start_with(db.config(), clock.clone()).await;
    let client = server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&server, &client, None).await;
    clock.advance(899);
    assert_eq!(common::introspect(&server, &client, &token).await["active"], true);
    clock.advance(1);
    assert_eq!(
        common::introspect(&server, &client, &token).await,
        serde_json::json!({"active": false})
    );
}

async fn revoking_another_clients_token_is_refused_and_garbage_is_accepted(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let owner = server.service_client(&["catalog:read"]).await;
    let other = server.service_client(&["catalog:read"]).await;
    let token = common::issue_token(&server, &owner, None).await;
    let refused = post_form(&server.endpoint("/oauth/revoke"), &other, &[("token", &token)]).await;
    assert_oauth_error(refused, 400, "unauthorized_client").await;
    assert_eq!(common::introspect(&server, &owner, &token).await["active"], true);

    let garbage = post_form(&server.endpoint("/oauth/revoke"), &other, &[("token", "garbage")]).await;
    assert_eq!(garbage.status(), 200);
}

async fn unknown_paths_and_wrong_methods_get_json_errors(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let missing = http().get(server.endpoint("/nope")).send().await.unwrap();
    assert_oauth_error(missing, 404, "not_found").await;
    let wrong_method = http().get(server.endpoint("/oauth/token")).send().await.unwrap();
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert_oauth_error(wrong_method, 405, "method_not_allowed").await;
}

async fn concurrent_revocations_all_succeed(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let mut tokens = Vec::new();
    for _ in 0..48 {
        tokens.push(common::issue_token(&server, &client, None).await);
    }
    // Every token twice, all at once: concurrent writers and repeated revocations.
    let requests = tokens.iter().chain(tokens.iter()).map(|token| {
        let url = server.endpoint("/oauth/revoke");
        let client = &client;
        async move {
            post_form(&url, client, &[("token", token)])
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    for token in &tokens {
        assert_eq!(common::introspect(&server, &client, token).await["active"], false);
    }
}

async fn a_form_with_too_many_parameters_is_refused_quickly(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    let body: Vec<String> = (0..1500).map(|index| format!("p{index}=x")).collect();
    let response = http()
        .post(server.endpoint("/oauth/introspect"))
        .basic_auth(&client.client_id, client.client_secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.join("&"))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

/// A small fuzz: random bytes as bodies, headers and tokens never produce a 5xx.
async fn random_bytes_never_cause_a_server_error(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let client = server.service_client(&["catalog:read"]).await;
    for round in 0..200u32 {
        let length = usize::try_from(round * 7 % 300).unwrap();
        let noise: Vec<u8> = (0..length)
            .map(|_| usher::foundation::crypto::random::bytes::<1>()[0])
            .collect();
        let path =
            ["/oauth/token", "/oauth/introspect", "/oauth/revoke"][usize::try_from(round % 3).unwrap()];
        let mut request = http().post(server.endpoint(path)).body(noise.clone());
        if round % 2 == 0 {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        if round % 5 == 0 {
            request = request.header("authorization", format!("Basic {}", STANDARD.encode(&noise)));
        } else {
            request = request.basic_auth(&client.client_id, client.client_secret.as_deref());
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_client_error() || response.status().is_success(),
            "round {round}"
        );
    }
}

/// A random value: empty, long, percent-escapes, odd Unicode, numbers, or plausible text.
fn noise_value(seed: u8) -> String {
    let random = usher::foundation::crypto::random::bytes::<64>();
    match seed % 7 {
        0 => String::new(),
        1 => "x".repeat(usize::from(random[0]) * 40),
        2 => random.iter().map(|byte| format!("%{byte:02X}")).collect(),
        3 => "é\u{202e}\u{fffd}🎬<script>'\"".into(),
        4 => format!("{}", i64::from(random[1]) - 128),
        5 => "https://app.example/callback".into(),
        _ => usher::foundation::crypto::random::token::<12>(),
    }
}

async fn random_forms_and_json_on_pages_and_the_admin_api_never_cause_a_server_error(backend: Backend) {
    let db = TestDb::new(backend);
    let mut config = db.config();
    config.allow_signup = true;
    let server = TestServer::start_with(config, usher::foundation::clock::Clock::System).await;
    common::flow::create_user(&server, "viewer@example.com").await;
    let browser = common::flow::Browser::new(&server);
    let signed_in = browser
        .sign_in(None, "viewer@example.com", common::flow::PASSWORD)
        .await;
    assert_eq!(signed_in.status(), 303);
    let account = browser.get("/account").await.text().await.unwrap();
    let csrf = common::flow::hidden_field(&account, "csrf");
    let admin = server.service_client(&["usher:admin"]).await;
    let admin_token = common::issue_token(&server, &admin, Some("usher:admin")).await;

    const PAGE_POSTS: [&str; 11] = [
        "/login",
        "/signup",
        "/oauth/consent",
        "/logout",
        "/account/profile",
        "/account/apps/revoke",
        "/account/sessions/end",
        "/account/sessions/end-all",
        "/oauth/authorize",
        "/oauth/userinfo",
        "/oauth/logout",
    ];
    const FIELDS: [&str; 18] = [
        "request",
        "email",
        "password",
        "decision",
        "session",
        "sid",
        "client_id",
        "name",
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "scope",
        "response_type",
        "redirect_uri",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
    ];
    for round in 0..240usize {
        // Some rounds sign out; sign in again so the forms keep reaching past the session check.
        if round % 20 == 0 {
            browser
                .sign_in(None, "viewer@example.com", common::flow::PASSWORD)
                .await;
        }
        let seed = usher::foundation::crypto::random::bytes::<4>();
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        if round % 3 != 0 {
            form.append_pair("csrf", &csrf);
        }
        for index in 0..usize::from(seed[0] % 6) {
            let field = FIELDS[(usize::from(seed[1]) + index * 7) % FIELDS.len()];
            form.append_pair(
                field,
                &noise_value(seed[2].wrapping_add(u8::try_from(index).unwrap())),
            );
        }
        let path = PAGE_POSTS[round % PAGE_POSTS.len()];
        let response = browser
            .http
            .post(server.endpoint(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.finish())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "POST {path}: {}",
            response.status()
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(FIELDS[usize::from(seed[3]) % FIELDS.len()], &noise_value(seed[3]))
            .append_pair("client_id", &noise_value(seed[0]))
            .finish();
        for page in [
            "/oauth/authorize",
            "/oauth/logout",
            "/login",
            "/signup",
            "/account",
        ] {
            let response = browser.get(&format!("{page}?{query}")).await;
            assert!(
                response.status().as_u16() < 500,
                "GET {page}?{query}: {}",
                response.status()
            );
        }

        let value = |n: u8| match n % 6 {
            0 => serde_json::Value::Null,
            1 => serde_json::json!(noise_value(n)),
            2 => serde_json::json!(i64::from(n) * 1_000_000_007),
            3 => serde_json::json!([noise_value(n), 1, null]),
            4 => serde_json::json!({"nested": noise_value(n)}),
            _ => serde_json::json!("2026-13-45T99:99:99Z"),
        };
        let body = serde_json::json!({
            "slug": value(seed[0]), "name": value(seed[1]), "rank": value(seed[2]),
            "features": value(seed[3]), "max_streams": value(seed[0] ^ seed[1]),
            "title": value(seed[1]), "starts_at": value(seed[2]), "ends_at": value(seed[3]),
            "rental_hours": value(seed[2] ^ seed[3]), "tier": value(seed[0]), "status": value(seed[1]),
            "current_period_end": value(seed[2]), "external_ref": value(seed[3]), "product": value(seed[0]),
            "valid_from": value(seed[1]), "valid_until": value(seed[2]),
        });
        let user = noise_value(seed[1]);
        let user = url::form_urlencoded::byte_serialize(user.as_bytes()).collect::<String>();
        for (method, path) in [
            (reqwest::Method::POST, "/admin/api/v1/tiers".to_owned()),
            (reqwest::Method::POST, "/admin/api/v1/products".to_owned()),
            (
                reqwest::Method::PUT,
                format!("/admin/api/v1/users/{user}/subscription"),
            ),
            (
                reqwest::Method::POST,
                format!("/admin/api/v1/users/{user}/grants"),
            ),
            (reqwest::Method::GET, format!("/admin/api/v1/audit?{query}")),
        ] {
            let response = http()
                .request(method.clone(), server.endpoint(&path))
                .bearer_auth(&admin_token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().as_u16() < 500,
                "{method} {path} {body}: {}",
                response.status()
            );
        }
    }
}

async fn nul_characters_are_refused_before_they_reach_the_database(backend: Backend) {
    let db = TestDb::new(backend);
    let server = TestServer::start(&db).await;
    let http = common::http();
    let token = http
        .post(server.endpoint("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&client_id=a%00b&code=x&redirect_uri=https%3A%2F%2Fa")
        .send()
        .await
        .unwrap();
    assert_oauth_error(token, 400, "invalid_request").await;
    let authorize = http
        .get(server.endpoint("/oauth/authorize?client_id=a%00b&response_type=code"))
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 400);
    let admin = server.service_client(&["usher:admin"]).await;
    let admin_token = common::issue_token(&server, &admin, Some("usher:admin")).await;
    let path = http
        .get(server.endpoint("/admin/api/v1/users/a%00b"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(path.status(), 400);
    let body = http
        .post(server.endpoint("/admin/api/v1/tiers"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"slug": "a", "name": "A\u{0}", "rank": 1, "max_streams": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 422);
    assert!(body.text().await.unwrap().contains("name"));
}

on_both_backends!(
    random_forms_and_json_on_pages_and_the_admin_api_never_cause_a_server_error,
    nul_characters_are_refused_before_they_reach_the_database,
    a_json_body_is_refused_as_invalid_request,
    broken_json_sent_as_a_form_is_a_missing_grant_type,
    a_huge_body_is_refused_with_413,
    a_truncated_body_is_a_400,
    a_body_that_is_not_utf8_is_refused,
    bad_base64_in_basic_credentials_is_invalid_client_with_a_challenge,
    an_unknown_grant_type_is_unsupported_grant_type,
    a_repeated_parameter_is_invalid_request,
    requests_without_client_authentication_get_401_and_a_challenge,
    a_wrong_secret_is_invalid_client,
    credentials_in_both_header_and_body_are_invalid_request,
    public_clients_cannot_use_client_credentials_or_introspect,
    a_client_without_the_grant_is_unauthorized_client,
    scopes_beyond_the_clients_or_about_people_are_invalid_scope,
    introspection_without_a_token_is_invalid_request,
    malformed_unknown_and_forged_tokens_are_inactive,
    an_expired_token_is_inactive,
    revoking_another_clients_token_is_refused_and_garbage_is_accepted,
    unknown_paths_and_wrong_methods_get_json_errors,
    random_bytes_never_cause_a_server_error,
    concurrent_revocations_all_succeed,
    a_form_with_too_many_parameters_is_refused_quickly,
);
