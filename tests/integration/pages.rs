//! The sign-in pages in a real browser: what they weigh on the wire, whether they are usable
//! with a keyboard and a screen reader and readable at phone and desktop widths, and how they
//! look (screenshots, written to `$USHER_SCREENSHOTS` when set, e.g. `docs/screenshots`).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::browser::{Browser, CallbackServer, Page};
use common::flow::{self, PASSWORD};
use common::{Backend, TestDb, TestServer};
use serde_json::json;
use usher::domain::oauth::clients::NewClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::i18n::Locale;
use usher::foundation::store::profiles::Profile;

const EMAIL: &str = "viewer@example.com";
const LOGIN_PAGE_BUDGET_BYTES: u64 = 30 * 1024;

/// (name, width, height, mobile)
const VIEWPORTS: [(&str, u32, u32, bool); 2] = [("phone", 390, 844, true), ("desktop", 1280, 800, false)];

struct Site {
    server: TestServer,
    client_id: String,
    callback: CallbackServer,
    _db: TestDb,
}

async fn site(configure: impl FnOnce(&mut Config)) -> Site {
    site_with_clock(configure, Clock::System).await
}

async fn site_with_clock(configure: impl FnOnce(&mut Config), clock: Clock) -> Site {
    let db = TestDb::new(Backend::Sqlite);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, clock).await;
    let callback = CallbackServer::start().await;
    let client = server
        .create_client(NewClient {
            name: "Streamly".into(),
            redirect_uris: vec![callback.url()],
            ..NewClient::default()
        })
        .await;
    flow::create_user(&server, EMAIL).await;
    Site {
        _db: db,
        server,
        client_id: client.client_id,
        callback,
    }
}

impl Site {
    fn authorize_url(&self) -> String {
        let (_, challenge) = flow::pkce();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.callback.url())
            .append_pair("scope", "openid email profile offline_access")
            .append_pair("state", "s")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        self.server.endpoint(&format!("/oauth/authorize?{query}"))
    }
}

fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("USHER_SCREENSHOTS").map(PathBuf::from)
}

/// Checks what makes a page usable by everyone, at the current viewport, and that it is in
/// the language `lang`, laid out in that language's direction.
async fn assert_accessible(page: &Page, name: &str, lang: &str) {
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
  // Buttons sharing a row read in the page's direction: the one first in the page stands
  // left of the next in a left-to-right page, right of it in a right-to-left one.
  const rows = () => {
    const rtl = getComputedStyle(document.documentElement).direction === 'rtl';
    const buttons = [...document.querySelectorAll('button')].filter((b) => b.offsetParent);
    const pairs = [];
    const againstDirection = [];
    buttons.forEach((first, i) => buttons.slice(i + 1).forEach((next) => {
      const [a, b] = [first.getBoundingClientRect(), next.getBoundingClientRect()];
      if (Math.abs(a.top - b.top) > 2 || Math.abs(a.bottom - b.bottom) > 2) return;
      pairs.push(first.innerText.trim() + ' | ' + next.innerText.trim());
      if (rtl ? a.left <= b.left : a.left >= b.left) againstDirection.push(pairs[pairs.length - 1]);
    }));
    return { buttonsSharingRows: pairs.length, againstDirection };
  };
  return {
    lang: document.documentElement.lang,
    dir: getComputedStyle(document.documentElement).direction,
    h1: document.querySelectorAll('h1').length,
    unlabelled: inputs.filter((i) => i.labels.length === 0 && !i.getAttribute('aria-label')).map((i) => i.name),
    emptyButtons: [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim()).length,
    positiveTabindex: [...document.querySelectorAll('[tabindex]')].filter((e) => e.tabIndex > 0).length,
    lowContrast: low,
    overflow: document.documentElement.scrollWidth > window.innerWidth,
    ...rows(),
  };
})()"#,
        )
        .await;
    assert_eq!(report["lang"], lang, "{name}: {report}");
    let direction = if lang == "ur" { "rtl" } else { "ltr" };
    assert_eq!(report["dir"], direction, "{name}: {report}");
    assert_eq!(report["h1"], 1, "{name}: one main heading: {report}");
    assert_eq!(
        report["unlabelled"],
        json!([]),
        "{name}: every field has a label: {report}"
    );
    assert_eq!(report["emptyButtons"], 0, "{name}: {report}");
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
    assert_eq!(
        report["againstDirection"],
        json!([]),
        "{name}: buttons on a row read in the page's direction: {report}"
    );
}

/// A language the pages are checked in.
#[derive(Clone, Copy)]
struct Lang(&'static str);

const ENGLISH: Lang = Lang("en");
const URDU: Lang = Lang("ur");

impl Lang {
    fn locale(self) -> Locale {
        Locale::parse(self.0).unwrap()
    }

    /// Message `id` in this language.
    fn says(self, id: &str) -> String {
        self.locale().get(id)
    }

    /// Message `id` with one argument in this language.
    fn says_with(self, id: &str, name: &'static str, value: &str) -> String {
        self.locale().with(id, name, value)
    }

    /// A device's name as pages give it in this language: `browser` on `platform`.
    fn device(self, browser: &str, platform: &str) -> String {
        self.locale()
            .with_two("device-on", ("browser", browser), ("platform", platform))
    }

    /// The name of a page's pictures: English ones by the page's name, others after their
    /// language (`ur-login`).
    fn picture(self, name: &str) -> String {
        match self.0 {
            "en" => name.to_owned(),
            tag => format!("{tag}-{name}"),
        }
    }
}

/// Opens the site in `lang`, chosen with the pages' own selector (kept in a cookie, and on
/// the account once signed in).
async fn open_in(page: &Page, site: &Site, lang: Lang) {
    page.goto(&site.server.endpoint("/")).await;
    choose_language(page, lang.0).await;
}

/// Checks the page in `lang` at every viewport and keeps its screenshots: phone pictures show
/// the phone's screen where the page is scrolled to, desktop ones the whole page.
async fn inspect_in(page: &Page, name: &str, lang: Lang) {
    let name = lang.picture(name);
    for (viewport, width, height, mobile) in VIEWPORTS {
        page.set_viewport(width, height, mobile).await;
        assert_accessible(page, &format!("{name} at {viewport}"), lang.0).await;
        if let Some(dir) = screenshot_dir() {
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{name}-{viewport}.png"));
            if mobile {
                page.screenshot_of_viewport(path).await;
            } else {
                // The whole page: a screen as tall as it, then the screen again.
                let tall = page.eval("document.documentElement.scrollHeight").await;
                let tall = u32::try_from(tall.as_u64().unwrap()).unwrap().max(height);
                page.set_viewport(width, tall, mobile).await;
                page.screenshot_of_viewport(path).await;
                page.set_viewport(width, height, mobile).await;
            }
        }
    }
}

/// Whether the page shows a refusal.
async fn has_alert(page: &Page) -> bool {
    page.eval("document.querySelector('[role=alert]') !== null")
        .await
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_weighs_less_than_30_kb_on_the_wire() {
    let site = site(|_| {}).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    page.command("Network.setCacheDisabled", json!({"cacheDisabled": true}))
        .await;
    page.start_recording_network();
    page.goto(&site.authorize_url()).await;
    let transferred = page.network_bytes(&site.server.url).await;
    eprintln!("the login page transferred {transferred} bytes");
    assert!(transferred > 0);
    assert!(
        transferred < LOGIN_PAGE_BUDGET_BYTES,
        "the login page took {transferred} bytes"
    );
    let resources = page
        .eval(
            "performance.getEntriesByType('resource').filter((entry) => entry.initiatorType !== 'fetch') \
             .map((entry) => entry.name).join(' ')",
        )
        .await;
    assert_eq!(
        resources,
        format!("{}/assets/passkeys.js", site.server.url),
        "nothing to fetch but the passkey script (which may ask for passkey options): no stylesheet, font or image"
    );
    drop(page);
    drop(browser);
}

/// Signing in, allowing an app, the account page, signing out and an error page, in `lang`.
async fn sign_in_pages_are_accessible_and_readable_at_phone_and_desktop_widths(lang: Lang) {
    let site = site(|config| config.allow_signup = true).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;
    inspect_in(&page, "home", lang).await;

    page.goto(&site.authorize_url()).await;
    inspect_in(&page, "login", lang).await;

    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", "not the password").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        page.text("[role=alert]")
            .await
            .contains(&lang.says("login-refused"))
    );
    inspect_in(&page, "login-error", lang).await;

    page.goto(&site.server.endpoint("/signup")).await;
    inspect_in(&page, "signup", lang).await;

    page.goto(&site.authorize_url()).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    assert!(page.text("h1").await.contains("Streamly"));
    inspect_in(&page, "consent", lang).await;
    // Mirrored: the row of buttons runs from the right in Urdu, so the first (Deny) stands
    // right of Allow; in English, left of it.
    let (deny, allow) = consent_buttons(&page).await;
    match lang.0 {
        "ur" => assert!(deny > allow, "Urdu: Deny at {deny}, Allow at {allow}"),
        _ => assert!(deny < allow, "English: Deny at {deny}, Allow at {allow}"),
    }
    page.click_and_wait("button[value=allow]").await;
    site.callback.next_request().await;

    // A second device, so the account page lists more than this one.
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
        .build()
        .unwrap();
    let login = phone
        .get(site.server.endpoint("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed_in = phone
        .post(site.server.endpoint("/login"))
        .form(&[
            ("csrf", flow::hidden_field(&login, "csrf").as_str()),
            ("request", ""),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);

    // Something playing, so the account page lists it with its stop button.
    let player = site.server.create_client(flow::first_party_app()).await;
    let tokens = flow::person_tokens(&site.server, &player, EMAIL, "openid").await;
    let content_server = site.server.service_client(&["usher:streams"]).await;
    let started = common::post_form(
        &site.server.endpoint("/streams"),
        &content_server,
        &[
            ("token", tokens["access_token"].as_str().unwrap()),
            ("device_id", "living-room-tv"),
            ("content", "The Final"),
        ],
    )
    .await;
    assert_eq!(started.status(), 201);

    page.goto(&site.server.endpoint("/account")).await;
    let listed = page.text("body").await;
    assert!(
        listed.contains("Streamly")
            && listed.contains(&lang.device("Safari", "iPhone"))
            && listed.contains(&lang.says_with("stop-watching-on", "device", "living-room-tv")),
        "{listed}"
    );
    inspect_in(&page, "account", lang).await;

    page.goto(&site.server.endpoint("/oauth/logout")).await;
    inspect_in(&page, "logout", lang).await;
    page.click_and_wait("button[type=submit]").await;
    inspect_in(&page, "signed-out", lang).await;

    page.goto(&site.server.endpoint("/oauth/authorize?client_id=nobody"))
        .await;
    inspect_in(&page, "error", lang).await;

    drop(page);
    drop(browser);
}

/// The code an authenticator app shows for the secret the setup page shows.
fn totp_code(secret: &str, now: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(u64::try_from(now).unwrap()).to_string()
}

/// Setting up an authenticator app, its recovery codes, turning it off and the code asked
/// at sign-in, in `lang`.
async fn two_step_pages_are_accessible_and_readable_at_phone_and_desktop_widths(lang: Lang) {
    // Ten seconds into a 30-second step; the clock moves only when the test says.
    let site = site_with_clock(|_| {}, Clock::manual(1_795_545_610)).await;
    let now = || site.server.state.clock.now();
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;

    page.goto(&site.server.endpoint("/login")).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    page.click_and_wait("form[action='/account/totp/start'] button")
        .await;
    assert!(page.html().await.contains("<svg"), "a QR code");
    inspect_in(&page, "totp-setup", lang).await;

    let secret = page.text("#secret").await;
    page.fill("#code", "000000").await;
    page.click_and_wait("form[action='/account/totp/confirm'] button")
        .await;
    assert!(has_alert(&page).await);
    inspect_in(&page, "totp-setup-error", lang).await;

    page.fill("#code", &totp_code(&secret, now())).await;
    page.click_and_wait("form[action='/account/totp/confirm'] button")
        .await;
    assert_eq!(page.text("h1").await, lang.says("two-step-is-on"));
    inspect_in(&page, "recovery-codes", lang).await;

    page.goto(&site.server.endpoint("/account")).await;
    assert!(page.html().await.contains("id=\"totp-off-code\""));
    inspect_in(&page, "account-two-step-on", lang).await;

    page.fill("#totp-off-code", "000000").await;
    page.click_and_wait("form[action='/account/totp/disable'] button")
        .await;
    assert!(has_alert(&page).await);
    inspect_in(&page, "totp-disable-error", lang).await;
    page.goto(&site.server.endpoint("/account")).await;

    page.click_and_wait("form[action='/logout'] button").await;
    page.goto(&site.server.endpoint("/login")).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    assert!(page.text("body").await.contains(&lang.says("code-from-app")));
    inspect_in(&page, "login-code", lang).await;

    page.fill("#code", "000000").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(has_alert(&page).await);
    inspect_in(&page, "login-code-error", lang).await;

    site.server.state.clock.advance(30);
    page.fill("#code", &totp_code(&secret, now())).await;
    page.click_and_wait("button[type=submit]").await;
    assert!(page.url().await.ends_with("/account"), "{}", page.url().await);

    drop(page);
    drop(browser);
}

/// Sign-in links, the passkey offer, the account's passkeys and an administrator's second
/// factor, in `lang`.
async fn passkey_and_sign_in_link_pages_are_accessible_and_readable_at_phone_and_desktop_widths(lang: Lang) {
    let site = site(|_| {}).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;
    page.command("WebAuthn.enable", json!({})).await;
    page.command(
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
        }}),
    )
    .await;
    // No autofill, so the login page stays put for its pictures.
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "PublicKeyCredential.isConditionalMediationAvailable = async () => false;" }),
    )
    .await;

    page.goto(&site.authorize_url()).await;
    page.fill("input[type=email]", EMAIL).await;
    page.click_and_wait("button[formaction='/login/link']").await;
    assert_eq!(page.text("h1").await, lang.says("check-your-email"));
    inspect_in(&page, "link-sent", lang).await;

    let (state, email) = (site.server.state.clone(), EMAIL.to_owned());
    let link = site
        .server
        .state
        .store
        .run(move |conn| usher::domain::identity::links::issue(&state, conn, &email, "", state.clock.now()))
        .await
        .unwrap()
        .expect("a link for a known address");
    page.goto(&link.url).await;
    assert_eq!(page.text("h1").await, lang.says("continue-signing-in"));
    inspect_in(&page, "link-continue", lang).await;
    page.wait_for("document.querySelector('input[name=passkey_offer]').value === '1'")
        .await;
    page.click_and_wait("button[type=submit]").await;
    assert_eq!(page.text("h1").await, lang.says("passkey-offer-title"));
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    inspect_in(&page, "passkey-offer", lang).await;
    page.click_and_wait("[data-passkey-start]").await;
    let main = page.text("main").await;
    assert!(main.contains(&lang.says("notice-passkey-added")), "{main}");
    inspect_in(&page, "account-passkeys", lang).await;

    page.goto(
        &site
            .server
            .endpoint("/login/link/continue?token=spent-or-made-up"),
    )
    .await;
    inspect_in(&page, "link-gone", lang).await;

    // An administrator without a second factor is stopped on the way in.
    let now = site.server.state.clock.now();
    site.server
        .state
        .store
        .run(move |conn| {
            usher::domain::identity::users::create(
                conn,
                usher::domain::identity::users::NewUser {
                    email: "admin@example.com".into(),
                    name: Some("Grace Hopper".into()),
                    password: Some(PASSWORD.into()),
                    admin: true,
                },
                now,
            )
        })
        .await
        .unwrap();
    page.goto(&site.server.endpoint("/account")).await;
    page.click_and_wait("form[action='/logout'] button").await;
    page.goto(&site.server.endpoint("/login")).await;
    page.fill("input[type=email]", "admin@example.com").await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button.primary").await;
    assert_eq!(page.text("h1").await, lang.says("second-factor-title"));
    page.wait_for("!document.querySelector('[data-passkey-start]').hidden")
        .await;
    inspect_in(&page, "second-factor", lang).await;

    drop(page);
    drop(browser);
}

/// Puts the person on a tier that allows `max_devices` devices.
async fn allow_devices(server: &TestServer, max_devices: i32) {
    let plan = usher::domain::entitlements::manage::TierInput {
        name: "Duo".into(),
        rank: 10,
        max_streams: 2,
        max_devices: Some(max_devices),
        ..Default::default()
    };
    common::subscribe(server, &person_id(server).await, "duo", plan).await;
}

async fn person_id(server: &TestServer) -> String {
    server
        .state
        .store
        .run(|conn| usher::foundation::store::users::find_by_email(conn, EMAIL))
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The device limit page in `lang`, and signing a device out there.
async fn the_device_limit_page_is_accessible_and_signing_a_device_out_frees_a_slot(lang: Lang) {
    let site = site(|_| {}).await;
    allow_devices(&site.server, 2).await;
    let mut others = Vec::new();
    for user_agent in [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
    ] {
        let other = flow::Browser::with_user_agent(&site.server, user_agent);
        let signed_in = other.sign_in(None, EMAIL, PASSWORD).await;
        assert_eq!(flow::location(&signed_in), "/account");
        others.push(other);
    }
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;

    page.goto(&site.authorize_url()).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        page.url().await.ends_with("/login/devices"),
        "{}",
        page.url().await
    );
    assert_eq!(
        page.text("h1").await,
        lang.locale().count("device-limit-heading", 2)
    );
    let listed = page.text("ul.items").await;
    assert!(
        listed.contains(&lang.device("Firefox", "Windows"))
            && listed.contains(&lang.device("Samsung Internet", &lang.says("device-smart-tv"))),
        "{listed}"
    );
    inspect_in(&page, "device-limit", lang).await;

    page.click_and_wait("button[aria-label*='Firefox']").await;
    assert!(
        page.text("h1").await.contains("Streamly"),
        "the sign-in finished and went on to the app's consent page"
    );
    assert_eq!(
        others[0].get("/account").await.status(),
        303,
        "the device chosen is signed out"
    );
    assert_eq!(others[1].get("/account").await.status(), 200);

    drop(page);
    drop(browser);
}

/// A family plan with a parent's profile behind a PIN and a kid's: returns (parent, kid).
async fn family_profiles(server: &TestServer) -> (Profile, Profile) {
    use usher::domain::entitlements::manage::{Actor, TierInput};
    use usher::domain::profiles::{self, PinChange, ProfileInput};
    let user_id = person_id(server).await;
    let plan = TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(5),
        ..TierInput::default()
    };
    common::subscribe(server, &user_id, "family", plan).await;
    let mut created = Vec::new();
    for (name, maturity, kids, pin) in [
        ("Amina", "18", false, PinChange::Set("2468".into())),
        ("Zara", "7", true, PinChange::Keep),
    ] {
        let input = ProfileInput {
            name: name.into(),
            maturity: Some(maturity.into()),
            kids,
            pin,
        };
        created.push(
            profiles::create(&server.state.core, &Actor::client("test"), &user_id, input)
                .await
                .unwrap(),
        );
    }
    let kid = created.pop().unwrap();
    (created.pop().unwrap(), kid)
}

/// "Who's watching?" and its PIN page in `lang`, for an app and for a TV.
async fn whos_watching_is_accessible_and_a_phone_chooses_the_kids_profile_for_a_tv(lang: Lang) {
    let site = site(|_| {}).await;
    let (parent, kid) = family_profiles(&site.server).await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;

    let (_, challenge) = flow::pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &site.client_id)
        .append_pair("redirect_uri", &site.callback.url())
        .append_pair("scope", "openid profiles")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    page.goto(&site.server.endpoint(&format!("/oauth/authorize?{query}")))
        .await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    assert!(page.text("body").await.contains(&lang.says("scope-profiles")));
    page.click_and_wait("button[value=allow]").await;
    assert_eq!(page.text("h1").await, lang.says("profiles-title"));
    inspect_in(&page, "profiles-picker", lang).await;

    page.click_and_wait(&format!("button[value='{}']", parent.id))
        .await;
    assert_eq!(
        page.text("h1").await,
        lang.says_with("pin-heading", "name", "Amina")
    );
    inspect_in(&page, "profiles-pin", lang).await;
    page.fill("#pin", "1111").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(page.text("[role=alert]").await.contains(&lang.says("pin-wrong")));
    inspect_in(&page, "profiles-pin-wrong", lang).await;
    page.fill("#pin", "2468").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(
        site.callback.next_request().await.query("code").is_some(),
        "the app gets its code once the PIN is right"
    );

    let tv = site
        .server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![
                usher::domain::oauth::clients::GRANT_DEVICE_CODE.into(),
                "refresh_token".into(),
            ],
            public: true,
            ..NewClient::default()
        })
        .await;
    let http = common::http();
    let started: serde_json::Value = http
        .post(site.server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid profiles")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.set_viewport(390, 844, true).await;
    page.goto(started["verification_uri_complete"].as_str().unwrap())
        .await;
    inspect_in(&page, "device-confirm", lang).await;
    page.click_and_wait("button[value=allow]").await;
    assert_eq!(page.text("h1").await, lang.says("profiles-title"));
    inspect_in(&page, "device-profiles-picker", lang).await;
    page.click_and_wait(&format!("button[value='{}']", kid.id)).await;
    assert_eq!(page.text("h1").await, lang.says("device-signed-in"));
    inspect_in(&page, "device-done", lang).await;
    let tokens: serde_json::Value = http
        .post(site.server.endpoint("/oauth/token"))
        .form(&[
            ("grant_type", usher::domain::oauth::clients::GRANT_DEVICE_CODE),
            ("device_code", started["device_code"].as_str().unwrap()),
            ("client_id", tv.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = tokens["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["profile"], kid.id.as_str(), "{claims}");
    assert_eq!(claims["maturity"], "7");

    page.goto(&site.server.endpoint("/account#profiles")).await;
    page.eval("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        .await;
    inspect_in(&page, "account-profiles", lang).await;

    drop(page);
    drop(browser);
}

/// Where the consent page's two buttons are: (left edge of Deny, left edge of Allow).
async fn consent_buttons(page: &Page) -> (f64, f64) {
    let edges = page
        .eval("[...document.querySelectorAll('.actions button')].map((b) => b.getBoundingClientRect().left)")
        .await;
    (edges[0].as_f64().unwrap(), edges[1].as_f64().unwrap())
}

/// Chooses `lang` with the pages' own language selector and comes back to the current page.
async fn choose_language(page: &Page, lang: &str) {
    let here = page
        .eval("location.pathname + location.search")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("set", lang)
        .append_pair("return_to", &here)
        .finish();
    page.goto(&format!(
        "{}/language?{query}",
        page.eval("location.origin").await.as_str().unwrap()
    ))
    .await;
}

/// The TV code pages (a code refused, the answer denied) and the account page's family
/// section, in `lang`.
async fn tv_and_family_pages_are_accessible_and_readable_at_phone_and_desktop_widths(lang: Lang) {
    let site = site(|_| {}).await;
    let plan = usher::domain::entitlements::manage::TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_members: 3,
        ..Default::default()
    };
    common::subscribe(&site.server, &person_id(&site.server).await, "family", plan).await;
    let tv = site
        .server
        .create_client(NewClient {
            name: "Streamly TV".into(),
            grant_types: vec![usher::domain::oauth::clients::GRANT_DEVICE_CODE.into()],
            public: true,
            ..NewClient::default()
        })
        .await;
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    open_in(&page, &site, lang).await;
    // Sign-up is off on this site: its page is not found.
    page.goto(&site.server.endpoint("/signup")).await;
    inspect_in(&page, "not-found", lang).await;
    page.goto(&site.server.endpoint("/login")).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;

    page.goto(&site.server.endpoint("/device")).await;
    inspect_in(&page, "device-enter", lang).await;
    page.fill("#user_code", "BCDF-GHJK").await;
    page.click_and_wait("button[type=submit]").await;
    assert!(has_alert(&page).await);
    inspect_in(&page, "device-enter-error", lang).await;

    let started: serde_json::Value = common::http()
        .post(site.server.endpoint("/oauth/device_authorization"))
        .form(&[("client_id", tv.client_id.as_str()), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.goto(started["verification_uri_complete"].as_str().unwrap())
        .await;
    page.click_and_wait("button[value=deny]").await;
    assert_eq!(page.text("h1").await, lang.says("device-denied"));
    inspect_in(&page, "device-denied", lang).await;

    page.goto(&site.server.endpoint("/account")).await;
    page.fill("#family-email", "cousin@example.com").await;
    page.click_and_wait("form[action='/account/family/invite'] button")
        .await;
    page.eval("document.getElementById('family-heading').scrollIntoView()")
        .await;
    assert!(page.text("main").await.contains("cousin@example.com"));
    inspect_in(&page, "account-family", lang).await;

    drop(page);
    drop(browser);
}

/// Each page test in English and in Urdu, as tests of their own (run side by side).
macro_rules! in_both_languages {
    ($($test:ident),+ $(,)?) => {
        mod english {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::ENGLISH).await;
                }
            )+
        }
        mod urdu {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::URDU).await;
                }
            )+
        }
    };
}

in_both_languages!(
    sign_in_pages_are_accessible_and_readable_at_phone_and_desktop_widths,
    two_step_pages_are_accessible_and_readable_at_phone_and_desktop_widths,
    passkey_and_sign_in_link_pages_are_accessible_and_readable_at_phone_and_desktop_widths,
    the_device_limit_page_is_accessible_and_signing_a_device_out_frees_a_slot,
    whos_watching_is_accessible_and_a_phone_chooses_the_kids_profile_for_a_tv,
    tv_and_family_pages_are_accessible_and_readable_at_phone_and_desktop_widths,
);
