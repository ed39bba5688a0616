//! Profiles on the account page, as a browser without JavaScript uses it: adding, renaming,
//! changing an age rating or a PIN, deleting. A rename is always allowed; anything else needs
//! a sign-in within the last 15 minutes, is audited and is mailed to the account holder.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::flow::{self, Browser, PASSWORD, hidden_field, location};
use common::smtp::SmtpServer;
use common::{Backend, TestDb, TestServer};
use usher::domain::entitlements::manage::{Actor, TierInput};
use usher::foundation::clock::Clock;
use usher::foundation::store::entitlements::{AuditFilter, list_audit};
use usher::foundation::store::profiles::{self, Profile};

const EMAIL: &str = "holder@example.com";
const START: i64 = 1_795_000_000;

struct Fixture {
    server: TestServer,
    smtp: SmtpServer,
    user_id: String,
    _db: TestDb,
}

/// A holder on a plan allowing `max_profiles`, mail going to a real SMTP server, the clock in
/// the test's hands.
async fn fixture(backend: Backend, max_profiles: i32) -> Fixture {
    let db = TestDb::new(backend);
    let smtp = SmtpServer::start().await;
    let mut config = db.config();
    config.smtp_url = Some(smtp.url());
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    let plan = TierInput {
        name: "Family".into(),
        rank: 10,
        max_streams: 4,
        max_profiles: Some(max_profiles),
        ..TierInput::default()
    };
    common::subscribe(&server, &user_id, "family", plan).await;
    Fixture {
        server,
        smtp,
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

    async fn profiles(&self) -> Vec<Profile> {
        let user_id = self.user_id.clone();
        self.server
            .state
            .store
            .run(move |conn| profiles::of_user(conn, &user_id))
            .await
            .unwrap()
    }
}

async fn post(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = browser.get("/account").await.text().await.unwrap();
    let csrf = hidden_field(&page, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

async fn add(browser: &Browser, name: &str, maturity: &str, pin: &str) -> reqwest::Response {
    post(
        browser,
        "/account/profiles",
        &[("name", name), ("maturity", maturity), ("pin", pin)],
    )
    .await
}

async fn a_profile_added_on_the_account_page_is_listed_audited_and_mailed(backend: Backend) {
    let f = fixture(backend, 5).await;
    let browser = f.signed_in().await;
    let added = add(&browser, "Kid", "7", "").await;
    assert_eq!(added.status(), 303);
    assert_eq!(location(&added), "/account?done=profile-added#profiles");
    let page = browser
        .get("/account?done=profile-added")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The profile was added."), "{page}");
    assert!(page.contains("<strong class=\"anywhere\">Kid</strong>"), "{page}");
    assert!(page.contains("Up to 7+"), "{page}");
    let mail = f.smtp.next_mail_to(EMAIL).await;
    assert!(mail.text.contains("A profile was added: Kid."), "{}", mail.text);
    let user_id = f.user_id.clone();
    let audit = f
        .server
        .state
        .store
        .run(move |conn| {
            list_audit(
                conn,
                &AuditFilter {
                    user_id: Some(user_id),
                    limit: 100,
                    ..AuditFilter::default()
                },
            )
        })
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "profile.create" && entry.actor == format!("user:{}", f.user_id)),
        "{audit:?}"
    );
}

async fn a_pin_set_on_the_account_page_is_stored_hashed_and_can_be_removed(backend: Backend) {
    let f = fixture(backend, 5).await;
    let browser = f.signed_in().await;
    assert_eq!(add(&browser, "Parent", "18", "1357").await.status(), 303);
    let parent = f.profiles().await.remove(0);
    let hash = parent.pin_hash.clone().expect("a PIN");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("1357"), "{hash}");
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("Up to 18+ · PIN"), "{page}");
    let cleared = post(
        &browser,
        "/account/profiles/update",
        &[
            ("profile_id", &parent.id),
            ("name", "Parent"),
            ("maturity", "18"),
            ("pin_action", "clear"),
        ],
    )
    .await;
    assert_eq!(cleared.status(), 303);
    assert_eq!(f.profiles().await[0].pin_hash, None);
}

async fn a_rename_needs_no_recent_sign_in_but_a_rating_change_does(backend: Backend) {
    let f = fixture(backend, 5).await;
    let browser = f.signed_in().await;
    assert_eq!(add(&browser, "Kid", "7", "").await.status(), 303);
    let kid = f.profiles().await.remove(0);
    f.server.state.clock.advance(16 * 60);
    let renamed = post(
        &browser,
        "/account/profiles/update",
        &[
            ("profile_id", &kid.id),
            ("name", "Sam"),
            ("maturity", "7"),
            ("kids", ""),
        ],
    )
    .await;
    assert_eq!(renamed.status(), 303, "a rename alone is always allowed");
    assert_eq!(f.profiles().await[0].name, "Sam");
    let raised = post(
        &browser,
        "/account/profiles/update",
        &[("profile_id", &kid.id), ("name", "Sam"), ("maturity", "18")],
    )
    .await;
    assert_eq!(raised.status(), 403);
    assert!(raised.text().await.unwrap().contains("Sign in again first"));
    assert_eq!(f.profiles().await[0].maturity, "7", "nothing changed");
    let deleted = post(&browser, "/account/profiles/delete", &[("profile_id", &kid.id)]).await;
    assert_eq!(deleted.status(), 403, "nor may a stale sign-in delete one");
    assert_eq!(f.profiles().await.len(), 1);
}

async fn the_plan_caps_the_profiles_added_on_the_account_page(backend: Backend) {
    let f = fixture(backend, 1).await;
    let browser = f.signed_in().await;
    assert_eq!(add(&browser, "Parent", "18", "").await.status(), 303);
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("1 of 1 profiles"), "{page}");
    assert!(
        !page.contains("Add a profile"),
        "no form for what the plan refuses"
    );
    let refused = add(&browser, "Kid", "7", "").await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Your plan allows 1 profile.")
    );
    assert_eq!(f.profiles().await.len(), 1);
}

async fn a_wrong_pin_or_rating_is_explained_and_changes_nothing(backend: Backend) {
    let f = fixture(backend, 5).await;
    let browser = f.signed_in().await;
    let short_pin = add(&browser, "Kid", "7", "12").await;
    assert_eq!(short_pin.status(), 422);
    assert!(short_pin.text().await.unwrap().contains("A PIN is 4 digits"));
    let bad_rating = add(&browser, "Kid", "21", "").await;
    assert_eq!(bad_rating.status(), 422);
    assert!(f.profiles().await.is_empty());
}

async fn a_profile_deleted_on_the_account_page_is_gone(backend: Backend) {
    let f = fixture(backend, 5).await;
    let browser = f.signed_in().await;
    assert_eq!(add(&browser, "Kid", "7", "").await.status(), 303);
    let kid = f.profiles().await.remove(0);
    let deleted = post(&browser, "/account/profiles/delete", &[("profile_id", &kid.id)]).await;
    assert_eq!(location(&deleted), "/account?done=profile-deleted#profiles");
    assert!(f.profiles().await.is_empty());
}

async fn another_accounts_profile_cannot_be_changed_from_this_one(backend: Backend) {
    let f = fixture(backend, 5).await;
    let other = flow::create_user(&f.server, "other@example.com").await;
    let theirs = usher::domain::profiles::create(
        &f.server.state.core,
        &Actor::client("test"),
        &other,
        usher::domain::profiles::ProfileInput {
            name: "Theirs".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let browser = f.signed_in().await;
    let refused = post(
        &browser,
        "/account/profiles/delete",
        &[("profile_id", &theirs.id)],
    )
    .await;
    assert_eq!(refused.status(), 404);
    let other_id = other.clone();
    let still_there = f
        .server
        .state
        .store
        .run(move |conn| profiles::of_user(conn, &other_id))
        .await
        .unwrap();
    assert_eq!(still_there.len(), 1);
}

on_both_backends!(
    a_profile_added_on_the_account_page_is_listed_audited_and_mailed,
    a_pin_set_on_the_account_page_is_stored_hashed_and_can_be_removed,
    a_rename_needs_no_recent_sign_in_but_a_rating_change_does,
    the_plan_caps_the_profiles_added_on_the_account_page,
    a_wrong_pin_or_rating_is_explained_and_changes_nothing,
    a_profile_deleted_on_the_account_page_is_gone,
    another_accounts_profile_cannot_be_changed_from_this_one,
);
