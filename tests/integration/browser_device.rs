//! TV sign-in (RFC 8628 device authorization grant) as people and TV apps meet it: the TV asks
//! for a code and polls the token endpoint; the person, on a phone (headless Chromium at a
//! phone's size with a virtual platform authenticator), opens the link from the QR code, signs
//! in with a passkey and allows; the TV gets its tokens, and the account page signs it out
//! again. The QR code is read back from pixels, and the device pages are checked for
//! accessibility at phone width (screenshots in `$USHER_SCREENSHOTS` when set).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use base64::Engine as _;
use common::browser::{Browser, Page};
use common::flow::{self, PASSWORD};
use common::{Backend, TestDb, TestServer};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use usher::domain::oauth::clients::{CreatedClient, GRANT_DEVICE_CODE, GRANT_REFRESH_TOKEN, NewClient};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const EMAIL: &str = "viewer@example.com";
const APP_NAME: &str = "Living Room TV app";
const DEVICE_LABEL: &str = "Living Room TV app on a TV or other device";
/// How long the TV waits for the person before the test gives up on it.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(60);

struct Site {
    server: TestServer,
    tv_app: CreatedClient,
    _db: TestDb,
}

/// A server whose devices poll every second (5 in production), a public TV app allowed the
/// device grant and refresh tokens, and a person with a password.
async fn site(backend: Backend) -> Site {
    let db = TestDb::new(backend);
    let config = Config {
        device_poll_interval_secs: 1,
        ..db.config()
    };
    let server = TestServer::start_with(config, Clock::System).await;
    let tv_app = server
        .create_client(NewClient {
            name: APP_NAME.into(),
            grant_types: vec![GRANT_DEVICE_CODE.into(), GRANT_REFRESH_TOKEN.into()],
            scopes: vec!["openid".into(), "offline_access".into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    assert!(tv_app.client_secret.is_none(), "a public client has no secret");
    flow::create_user(&server, EMAIL).await;
    Site {
        server,
        tv_app,
        _db: db,
    }
}

/// The TV: an HTTP client that knows its client id and nothing else.
#[derive(Clone)]
struct Tv {
    http: reqwest::Client,
    base: String,
    client_id: String,
}

/// The device authorization response, as the TV reads it.
#[derive(Clone, Debug)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: u64,
}

/// What the TV's polling saw: the errors it was told to keep polling after, then the answer
/// that ended it.
#[derive(Debug)]
struct Polled {
    kept_polling_after: Vec<String>,
    status: u16,
    body: Value,
}

impl Tv {
    fn new(site: &Site) -> Tv {
        Tv {
            http: common::http(),
            base: site.server.url.clone(),
            client_id: site.tv_app.client_id.clone(),
        }
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, response.json().await.expect("a JSON body"), headers)
    }

    /// `POST /oauth/device_authorization`, checked against RFC 8628 §3.2.
    async fn start(&self) -> DeviceCode {
        let (status, body, headers) = self
            .post(
                "/oauth/device_authorization",
                &[("client_id", &self.client_id), ("scope", "openid offline_access")],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        let text = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name}: {body}"))
                .to_owned()
        };
        let code = DeviceCode {
            device_code: text("device_code"),
            user_code: text("user_code"),
            verification_uri: text("verification_uri"),
            verification_uri_complete: text("verification_uri_complete"),
            expires_in: body["expires_in"].as_i64().unwrap(),
            interval: body["interval"].as_u64().unwrap(),
        };
        let (head, tail) = code.user_code.split_once('-').expect("XXXX-XXXX");
        for part in [head, tail] {
            assert!(
                part.len() == 4 && part.bytes().all(|byte| b"BCDFGHJKLMNPQRSTVWXZ".contains(&byte)),
                "{}",
                code.user_code
            );
        }
        assert_eq!(code.verification_uri, format!("{}/device", self.base));
        assert_eq!(
            code.verification_uri_complete,
            format!("{}/device?user_code={}", self.base, code.user_code)
        );
        assert_eq!(code.expires_in, 600);
        assert_eq!(code.interval, 1);
        code
    }

    /// One poll of the token endpoint: (status, body).
    async fn poll(&self, device_code: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post(
                "/oauth/token",
                &[
                    ("grant_type", GRANT_DEVICE_CODE),
                    ("device_code", device_code),
                    ("client_id", &self.client_id),
                ],
            )
            .await;
        (status, body)
    }

    /// Polls as RFC 8628 §3.5 asks: every `interval` seconds, 5 more after each `slow_down`,
    /// until an answer other than "keep polling".
    /// Each such error is also sent to `seen` as it comes.
    async fn poll_until_answered(self, code: DeviceCode, seen: mpsc::UnboundedSender<String>) -> Polled {
        let mut interval = code.interval;
        let mut kept_polling_after = Vec::new();
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let (status, body) = self.poll(&code.device_code).await;
            match body["error"].as_str() {
                Some("authorization_pending") => assert_eq!(status, 400, "{body}"),
                Some("slow_down") => interval += 5,
                _ => {
                    return Polled {
                        kept_polling_after,
                        status,
                        body,
                    };
                }
            }
            let error = body["error"].as_str().unwrap_or_default().to_owned();
            let _ = seen.send(error.clone());
            kept_polling_after.push(error);
        }
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post(
                "/oauth/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", &self.client_id),
                ],
            )
            .await;
        (status, body)
    }

    async fn userinfo_status(&self, access_token: &str) -> u16 {
        self.http
            .get(format!("{}/oauth/userinfo", self.base))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    }

    /// The ID token's claims, once its signature checks out against the JWKS.
    async fn verified_claims(&self, id_token: &str) -> Value {
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        let jwks: JwkSet = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published");
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_issuer(&[self.base.as_str()]);
        jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .expect("the ID token verifies against the JWKS")
            .claims
    }
}

/// The payload of a JWT, decoded without checking anything.
fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A phone's platform authenticator: discoverable credentials, the person verified.
async fn add_authenticator(page: &Page) {
    page.command("WebAuthn.enable", json!({})).await;
    page.command(
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }}),
    )
    .await;
}

/// Makes the pages believe the browser cannot offer passkeys in autofill, so that only the
/// button signs in.
async fn without_autofill(page: &Page) {
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "PublicKeyCredential.isConditionalMediationAvailable = async () => false;" }),
    )
    .await;
}

async fn password_sign_in(page: &Page, server: &TestServer) {
    page.goto(&server.endpoint("/login")).await;
    page.fill("#email", EMAIL).await;
    page.fill("#password", PASSWORD).await;
    page.click_and_wait("button.primary").await;
}

async fn has_session(page: &Page) -> bool {
    page.cookies()
        .await
        .iter()
        .any(|cookie| cookie["name"] == "usher_session")
}

async fn h1(page: &Page) -> String {
    page.text("h1").await
}

async fn a_tv_is_approved_on_a_phone_with_a_passkey(backend: Backend) {
    let site = site(backend).await;
    let browser = Browser::launch().await;
    let phone = browser.new_page().await;
    phone.set_viewport(390, 844, true).await;
    add_authenticator(&phone).await;

    // Earlier, on the phone: a password sign-in, a passkey added, signed out.
    password_sign_in(&phone, &site.server).await;
    phone.goto(&site.server.endpoint("/account")).await;
    phone
        .wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    phone.fill("#passkey-name", "My phone").await;
    phone.click_and_wait("[data-passkey-start]").await;
    assert!(phone.text("main").await.contains("Your passkey was added"));
    phone.click_and_wait("footer button").await;
    assert!(!has_session(&phone).await);
    without_autofill(&phone).await;

    // The TV asks for a code and polls in the background.
    let tv = Tv::new(&site);
    let code = tv.start().await;
    let (seen, mut polls) = mpsc::unbounded_channel();
    let polling = tokio::spawn(tv.clone().poll_until_answered(code.clone(), seen));
    let first = tokio::time::timeout(APPROVAL_TIMEOUT, polls.recv())
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some("authorization_pending"));

    // The person scans the QR code: the link asks them to sign in first, then comes back.
    phone.goto(&code.verification_uri_complete).await;
    assert!(phone.url().await.contains("/login?"), "{}", phone.url().await);
    phone
        .wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    assert_eq!(phone.text("[data-passkey-start]").await, "Sign in with a passkey");
    phone.click("[data-passkey-start]").await;
    phone
        .wait_for("document.querySelector('h1') && document.querySelector('h1').innerText === 'Sign in on your device?'")
        .await;
    assert!(
        phone
            .url()
            .await
            .ends_with(&format!("/device?user_code={}", code.user_code)),
        "{}",
        phone.url().await
    );
    let confirm = phone.text("main").await;
    assert!(confirm.contains(APP_NAME), "{confirm}");
    assert_eq!(phone.text(".code-shown").await, code.user_code);
    assert!(confirm.contains(EMAIL), "{confirm}");
    assert!(!polling.is_finished(), "the TV still waits");

    phone.click_and_wait("button[value=allow]").await;
    assert_eq!(h1(&phone).await, "Your device is signed in");
    assert!(phone.text("main").await.contains(APP_NAME));

    // The TV's next poll brings its tokens.
    let polled = tokio::time::timeout(APPROVAL_TIMEOUT, polling)
        .await
        .expect("the TV got an answer")
        .unwrap();
    assert_eq!(polled.status, 200, "{polled:?}");
    assert!(
        !polled.kept_polling_after.is_empty()
            && polled
                .kept_polling_after
                .iter()
                .all(|error| error == "authorization_pending"),
        "pending while the person signed in, and never too fast: {polled:?}"
    );
    let tokens = polled.body;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let payload = jwt_payload(id_token);
    assert_eq!(payload["amr"], json!(["hwk", "user", "mfa"]), "{payload}");
    let claims = tv.verified_claims(id_token).await;
    assert_eq!(claims, payload);
    assert!(claims["nonce"].is_null(), "the device grant has no nonce");
    assert!(claims["auth_time"].is_i64());
    let access_token = tokens["access_token"].as_str().expect("an access token");
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(tv.userinfo_status(access_token).await, 200);

    // The device code works once.
    let (status, again) = tv.poll(&code.device_code).await;
    assert_eq!(status, 400, "{again}");
    assert_eq!(again["error"], "invalid_grant", "{again}");

    // The TV refreshes: the rotated token keeps the device signed in.
    let (status, refreshed) = tv.refresh(refresh_token).await;
    assert_eq!(status, 200, "{refreshed}");
    let refresh_token = refreshed["refresh_token"].as_str().expect("a new refresh token");
    let access_token = refreshed["access_token"].as_str().expect("a new access token");

    // The phone signs the TV out from the account page.
    phone.goto(&site.server.endpoint("/account")).await;
    assert!(has_session(&phone).await);
    let listed = phone.text("main").await;
    assert_eq!(listed.matches(DEVICE_LABEL).count(), 1, "{listed}");
    phone
        .click_and_wait(&format!("button[aria-label^='Sign out of {DEVICE_LABEL}']"))
        .await;
    let listed = phone.text("main").await;
    assert!(listed.contains("That device was signed out."), "{listed}");
    assert!(!listed.contains(DEVICE_LABEL), "{listed}");
    assert!(has_session(&phone).await, "the phone itself stays signed in");

    let (status, refused) = tv.refresh(refresh_token).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    assert_eq!(
        tv.userinfo_status(access_token).await,
        401,
        "the access token is revoked too"
    );

    drop(phone);
    drop(browser);
}

/// Renders `url` in Chromium and reads the QR code in the screenshot.
async fn qr_code_in(page: &Page, url: &str) -> String {
    // Desktop-sized and unscaled: each module is whole pixels.
    page.set_viewport(600, 600, false).await;
    page.goto(url).await;
    let shot = page
        .command("Page.captureScreenshot", json!({ "format": "png" }))
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let pixels = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        pixels.width() as usize,
        pixels.height() as usize,
        |x, y| pixels.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

async fn the_qr_code_decodes_back_to_the_verification_link(backend: Backend) {
    let site = site(backend).await;
    let code = Tv::new(&site).start().await;
    let qr_url = site
        .server
        .endpoint(&format!("/device/qr?user_code={}", code.user_code));

    let response = common::http().get(&qr_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["cache-control"], "public, max-age=600");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");

    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    assert_eq!(qr_code_in(&page, &qr_url).await, code.verification_uri_complete);

    // Not a user code: refused rather than drawn.
    let refused = common::http()
        .get(site.server.endpoint("/device/qr?user_code=AEIO-U123"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    drop(page);
    drop(browser);
}

on_both_backends!(
    a_tv_is_approved_on_a_phone_with_a_passkey,
    the_qr_code_decodes_back_to_the_verification_link,
);

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("USHER_SCREENSHOTS").map(PathBuf::from)
}

/// Checks what makes a page usable by everyone at the current viewport (as tests/integration/pages.rs),
/// and keeps a screenshot named `{name}-phone.png` when `$USHER_SCREENSHOTS` is set.
async fn inspect_at_phone_width(page: &Page, name: &str) {
    let report = page
        .eval(
            r#"(() => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (color) => (color.match(/[\d.]+/g) || []).map(Number);
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const parts = parse(getComputedStyle(node).backgroundColor);
      if (parts.length === 3 || (parts.length === 4 && parts[3] > 0)) return parts.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const contrast = (element) => {
    const fg = luminance(parse(getComputedStyle(element).color).slice(0, 3));
    const bg = luminance(background(element));
    return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  };
  const texts = [...document.querySelectorAll('h1,h2,p,label,button,a,li,dt,dd')].filter((e) => e.offsetParent && e.innerText.trim());
  const low = texts.filter((e) => contrast(e) < 4.5).map((e) => e.innerText.trim().slice(0, 40) + ' ' + contrast(e).toFixed(2));
  const inputs = [...document.querySelectorAll('input:not([type=hidden])')];
  const small = [...document.querySelectorAll('button')].filter((b) => b.offsetParent)
    .map((b) => b.getBoundingClientRect()).filter((r) => r.height < 44 || r.width < 44).length;
  return {
    lang: document.documentElement.lang,
    h1: document.querySelectorAll('h1').length,
    unlabelled: inputs.filter((i) => i.labels.length === 0 && !i.getAttribute('aria-label')).map((i) => i.name),
    emptyButtons: [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()).length,
    smallButtons: small,
    positiveTabindex: [...document.querySelectorAll('[tabindex]')].filter((e) => e.tabIndex > 0).length,
    lowContrast: low,
    overflow: document.documentElement.scrollWidth > window.innerWidth,
  };
})()"#,
        )
        .await;
    assert_eq!(report["lang"], "en", "{name}: {report}");
    assert_eq!(report["h1"], 1, "{name}: one main heading: {report}");
    assert_eq!(
        report["unlabelled"],
        json!([]),
        "{name}: every field has a label: {report}"
    );
    assert_eq!(report["emptyButtons"], 0, "{name}: {report}");
    assert_eq!(
        report["smallButtons"], 0,
        "{name}: buttons are at least 44 px, easy to tap: {report}"
    );
    assert_eq!(
        report["positiveTabindex"], 0,
        "{name}: focus follows the page order: {report}"
    );
    assert_eq!(
        report["lowContrast"],
        json!([]),
        "{name}: WCAG AA contrast: {report}"
    );
    assert_eq!(
        report["overflow"], false,
        "{name}: no sideways scrolling: {report}"
    );
    if let Some(dir) = screenshot_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        page.screenshot(dir.join(format!("{name}-phone.png"))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_pages_are_accessible_at_phone_width() {
    let site = site(Backend::Sqlite).await;
    let tv = Tv::new(&site);
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.set_viewport(390, 844, true).await;
    password_sign_in(&page, &site.server).await;

    page.goto(&site.server.endpoint("/device")).await;
    assert_eq!(h1(&page).await, "Connect a device");
    inspect_at_phone_width(&page, "device-enter").await;

    // No TV shows a code with a vowel: always wrong, never a real one.
    page.fill("#user_code", "BCDA-FGHJ").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        page.text("[role=alert]").await.contains("That code didn't work"),
        "{}",
        page.html().await
    );
    assert_eq!(
        page.eval("document.querySelector('#user_code').getAttribute('aria-describedby')")
            .await,
        "code-error"
    );
    inspect_at_phone_width(&page, "device-enter-error").await;

    // Typed as people type: lower case, no dash.
    let code = tv.start().await;
    page.fill("#user_code", &code.user_code.replace('-', "").to_lowercase())
        .await;
    page.click_and_wait("button[type=submit]").await;
    assert_eq!(h1(&page).await, "Sign in on your device?");
    assert_eq!(page.text(".code-shown").await, code.user_code);
    inspect_at_phone_width(&page, "device-confirm").await;
    page.click_and_wait("button[value=allow]").await;
    assert_eq!(h1(&page).await, "Your device is signed in");
    inspect_at_phone_width(&page, "device-done").await;

    let denied = tv.start().await;
    page.goto(&denied.verification_uri_complete).await;
    assert_eq!(h1(&page).await, "Sign in on your device?");
    page.click_and_wait("button[value=deny]").await;
    assert_eq!(h1(&page).await, "Request denied");
    inspect_at_phone_width(&page, "device-denied").await;
    let (status, body) = tv.poll(&denied.device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied")),
        "{body}"
    );

    drop(page);
    drop(browser);
}
