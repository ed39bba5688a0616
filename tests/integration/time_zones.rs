//! Dates on the account page in the person's language and time zone: UTC until a zone is
//! known, then the zone their browser reported (saved on the account when it has none) or the
//! one they chose; names the tz database does not know are refused.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::browser;
use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::{Backend, TestDb, TestServer};
use usher::foundation::clock::Clock;
use usher::foundation::store::users;

const EMAIL: &str = "viewer@example.com";
/// 24 Nov 2026, 18:40 UTC: when the browser signs in, so when its device was signed in.
const START: i64 = 1_795_545_600;

struct Fixture {
    server: TestServer,
    user_id: String,
    _db: TestDb,
}

async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::new(backend);
    let server = TestServer::start_with(db.config(), Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    Fixture {
        server,
        user_id,
        _db: db,
    }
}

impl Fixture {
    async fn signed_in(&self) -> Browser {
        let browser = Browser::new(&self.server);
        let answer = browser.sign_in(None, EMAIL, PASSWORD).await;
        assert_eq!(location(&answer), "/account");
        browser
    }

    async fn saved_zone(&self) -> Option<String> {
        let user_id = self.user_id.clone();
        self.server
            .state
            .store
            .run(move |conn| users::find_by_id(conn, &user_id))
            .await
            .unwrap()
            .unwrap()
            .time_zone
    }
}

async fn account_page(browser: &Browser) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

async fn post_with_csrf(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = hidden_field(&account_page(browser).await, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

/// How the signed-in device's sign-in time reads, in the page's words.
fn signed_in_on(when: &str) -> String {
    format!("Signed in {when}")
}

async fn dates_are_in_utc_until_a_zone_is_known(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    let html = account_page(&browser).await;
    assert!(
        html.contains(&signed_in_on("Nov 24, 2026, 6:40\u{202f}PM UTC")),
        "{html}"
    );
    assert!(html.contains("data-time-zone-report"), "{html}");
    assert!(html.contains("data-shown-zone=\"Etc/UTC\""), "{html}");
    assert!(html.contains("src=\"/assets/time-zone.js\""), "{html}");
}

async fn a_chosen_zone_dates_the_page_and_is_saved(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    let answer = post_with_csrf(&browser, "/account/time-zone", &[("time_zone", "Asia/Karachi")]).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(location(&answer), "/account?done=time-zone");
    assert_eq!(fixture.saved_zone().await.as_deref(), Some("Asia/Karachi"));

    let html = account_page(&browser).await;
    assert!(
        html.contains(&signed_in_on("Nov 24, 2026, 11:40\u{202f}PM GMT+5")),
        "{html}"
    );
    assert!(html.contains("<option selected>Asia/Karachi</option>"), "{html}");
    assert!(
        html.contains("<option value=\"America/New_York\">America/New York</option>"),
        "a name read differently from its spelling posts its spelling: {html}"
    );
    assert!(
        !html.contains("data-time-zone-report"),
        "a saved zone is not asked of the browser: {html}"
    );
}

async fn dates_follow_the_pages_language(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    post_with_csrf(&browser, "/account/time-zone", &[("time_zone", "Asia/Karachi")]).await;
    let chosen = browser.get("/language?set=ur&return_to=%2Faccount").await;
    assert_eq!(location(&chosen), "/account");

    let html = account_page(&browser).await;
    assert!(html.contains("lang=\"ur\""), "{html}");
    assert!(html.contains("24 نومبر، 2026"), "the month in Urdu: {html}");
    assert!(html.contains("11:40"), "the time in Karachi: {html}");
    assert!(!html.contains("Nov 24"), "{html}");
}

async fn an_unknown_zone_is_refused_and_nothing_saved(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    for name in ["Mars/Olympus_Mons", "posixrules", "", "../../etc/passwd"] {
        let answer = post_with_csrf(&browser, "/account/time-zone", &[("time_zone", name)]).await;
        let status = answer.status();
        let html = answer.text().await.unwrap();
        if name.is_empty() {
            // An empty field is a missing one.
            assert_eq!(status, 400, "{html}");
        } else {
            assert_eq!(status, 422, "{name}: {html}");
            assert!(html.contains("Choose a time zone from the list"), "{html}");
            assert!(html.contains("know that time zone. Go back"), "{html}");
        }
    }
    assert_eq!(fixture.saved_zone().await, None);

    let answer = post_with_csrf(
        &browser,
        "/account/time-zone/browser",
        &[("time_zone", "Mars/Olympus_Mons")],
    )
    .await;
    assert_eq!(answer.status(), 422);
    assert_eq!(fixture.saved_zone().await, None);
}

async fn the_browsers_zone_is_saved_when_the_account_has_none(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    // Browsers still report India's zone by its old name.
    let answer = post_with_csrf(
        &browser,
        "/account/time-zone/browser",
        &[("time_zone", "Asia/Calcutta")],
    )
    .await;
    assert_eq!(answer.status(), 200);
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("usher_time_zone="))
        .expect("the zone is kept in a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(answer.text().await.unwrap(), "Asia/Kolkata");
    assert_eq!(fixture.saved_zone().await.as_deref(), Some("Asia/Kolkata"));

    let html = account_page(&browser).await;
    assert!(
        html.contains(&signed_in_on("Nov 25, 2026, 12:10\u{202f}AM GMT+5:30")),
        "half an hour ahead of Karachi, past midnight: {html}"
    );
}

async fn the_browsers_zone_does_not_replace_a_saved_one(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    post_with_csrf(&browser, "/account/time-zone", &[("time_zone", "Asia/Karachi")]).await;
    let answer = post_with_csrf(
        &browser,
        "/account/time-zone/browser",
        &[("time_zone", "America/New_York")],
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(fixture.saved_zone().await.as_deref(), Some("Asia/Karachi"));
    let html = account_page(&browser).await;
    assert!(html.contains("GMT+5"), "{html}");
}

async fn a_zone_report_without_its_csrf_token_is_refused(backend: Backend) {
    let fixture = fixture(backend).await;
    let browser = fixture.signed_in().await;
    let answer = browser
        .post("/account/time-zone/browser", &[("time_zone", "Asia/Karachi")])
        .await;
    assert_eq!(answer.status(), 403);
    assert_eq!(fixture.saved_zone().await, None);
}

async fn the_script_is_served_from_this_site(backend: Backend) {
    let fixture = fixture(backend).await;
    let answer = Browser::new(&fixture.server).get("/assets/time-zone.js").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/javascript; charset=utf-8");
    let script = answer.text().await.unwrap();
    assert!(script.contains("resolvedOptions().timeZone"), "{script}");
}

/// In Chromium, whose zone is set to Karachi's: the first account page shows UTC, its script
/// reports the zone, which is saved, and the page loads again with its dates in Karachi time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_reports_its_zone_and_the_page_shows_its_dates_in_it() {
    let fixture = fixture(Backend::Sqlite).await;
    let chromium = browser::Browser::launch().await;
    let page = chromium.new_page().await;
    page.command(
        "Emulation.setTimezoneOverride",
        serde_json::json!({ "timezoneId": "Asia/Karachi" }),
    )
    .await;
    page.goto(&fixture.server.endpoint("/login")).await;
    page.fill("input[type=email]", EMAIL).await;
    page.fill("input[type=password]", PASSWORD).await;
    page.click_and_wait("button[type=submit]").await;
    page.wait_for("document.body.innerText.includes('Nov 24, 2026, 11:40\\u202fPM GMT+5')")
        .await;
    assert_eq!(fixture.saved_zone().await.as_deref(), Some("Asia/Karachi"));
    assert_eq!(
        page.eval("document.querySelector('form[data-time-zone-report]') === null")
            .await,
        true,
        "the reloaded page no longer asks"
    );
}

on_both_backends!(
    dates_are_in_utc_until_a_zone_is_known,
    a_chosen_zone_dates_the_page_and_is_saved,
    dates_follow_the_pages_language,
    an_unknown_zone_is_refused_and_nothing_saved,
    the_browsers_zone_is_saved_when_the_account_has_none,
    the_browsers_zone_does_not_replace_a_saved_one,
    a_zone_report_without_its_csrf_token_is_refused,
    the_script_is_served_from_this_site,
);
