//! Households (family plans): invitations mailed over real SMTP and accepted through their
//! sign-in link, what members share with the holder (live in introspection, on every
//! instance), the limits of the holder's tier, streams counted against the holder, and the
//! admin API.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::flow::{self, Browser, hidden_field, location};
use common::smtp::{ReceivedMail, SmtpServer};
use common::{Backend, TestDb, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use usher::domain::entitlements::manage::{
    self, Actor, GrantInput, ProductInput, SubscriptionInput, TierInput,
};
use usher::domain::oauth::clients::CreatedClient;
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;

const HOLDER: &str = "holder@example.com";
const MEMBER: &str = "member@example.com";
const NEWCOMER: &str = "newcomer@example.com";
const CONTINUE: &str = "/login/link/continue";
const START: i64 = 1_900_000_000;
const INVITATION_TTL: i64 = 3 * 86_400;
/// The holder's current period, from the start.
const PERIOD: i64 = 30 * 86_400;

struct Fixture {
    smtp: SmtpServer,
    server: TestServer,
    app: CreatedClient,
    content_server: CreatedClient,
    holder_id: String,
    member_id: String,
    _db: TestDb,
}

fn family_tier(max_members: i32) -> TierInput {
    TierInput {
        name: "Family".into(),
        rank: 10,
        features: vec!["hd".into()],
        max_streams: 2,
        max_members,
        ..TierInput::default()
    }
}

/// A holder subscribed to a family tier of `max_members` places and two streams, and
/// [`MEMBER`] with an account of their own, on a manual clock, mailing through aiosmtpd.
async fn fixture_with(
    backend: Backend,
    max_members: i32,
    configure: impl FnOnce(Config) -> Config,
) -> Fixture {
    fixture_on(backend, max_members, configure, Clock::manual(START)).await
}

async fn fixture_on(
    backend: Backend,
    max_members: i32,
    configure: impl FnOnce(Config) -> Config,
    clock: Clock,
) -> Fixture {
    let db = TestDb::new(backend);
    let smtp = SmtpServer::start().await;
    let config = configure(Config {
        smtp_url: Some(smtp.url()),
        household_invitation_ttl_secs: INVITATION_TTL,
        ..db.config()
    });
    let server = TestServer::start_with(config, clock).await;
    let holder_id = flow::create_user(&server, HOLDER).await;
    let member_id = flow::create_user(&server, MEMBER).await;
    let app = server.create_client(flow::first_party_app()).await;
    let content_server = server.service_client(&["usher:streams"]).await;
    let (subscriber, now) = (holder_id.clone(), server.state.clock.now());
    server
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            manage::create_tier(conn, &actor, "family", &family_tier(max_members), now)?;
            manage::put_subscription(
                conn,
                &actor,
                &subscriber,
                &SubscriptionInput {
                    tier: "family".into(),
                    status: "active".into(),
                    current_period_end: now + PERIOD,
                    external_ref: None,
                },
                now,
            )
        })
        .await
        .unwrap();
    Fixture {
        smtp,
        server,
        app,
        content_server,
        holder_id,
        member_id,
        _db: db,
    }
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, 2, |config| config).await
}

/// A browser signed in with the password of `email`.
async fn signed_in(server: &TestServer, email: &str) -> Browser {
    let browser = Browser::new(server);
    let answer = browser.sign_in(None, email, flow::PASSWORD).await;
    assert_eq!(answer.status(), 303);
    browser
}

/// Posts one of the account page's forms.
async fn post_on_account_page(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = browser.get("/account").await.text().await.unwrap();
    let csrf = hidden_field(&page, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(path, &form).await
}

impl Fixture {
    /// The holder invites `email` from their account page; the answer.
    async fn invite(&self, email: &str) -> reqwest::Response {
        let holder = signed_in(&self.server, HOLDER).await;
        post_on_account_page(&holder, "/account/family/invite", &[("email", email)]).await
    }

    async fn invited(&self, email: &str) -> (ReceivedMail, String) {
        let answer = self.invite(email).await;
        assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
        let mail = self.smtp.next_mail_to(email).await;
        let link = mail
            .link_containing(CONTINUE)
            .unwrap_or_else(|| panic!("no link in:\n{}", mail.text));
        (mail, link)
    }

    /// Opens an invitation's link in a new browser (on this server, whatever the issuer) and
    /// presses its button; the answer.
    async fn accept(&self, link: &str) -> (Browser, reqwest::Response) {
        let browser = Browser::new(&self.server);
        let page = browser.get(&link[link.find(CONTINUE).unwrap()..]).await;
        assert_eq!(page.status(), 200, "the invitation's link works");
        let html = page.text().await.unwrap();
        let (csrf, token) = (hidden_field(&html, "csrf"), hidden_field(&html, "token"));
        let answer = browser
            .post(
                CONTINUE,
                &[("csrf", &csrf), ("token", &token), ("passkey_offer", "")],
            )
            .await;
        (browser, answer)
    }

    /// Invites [`MEMBER`] and accepts: they are a member.
    async fn member_joins(&self) {
        let (_, link) = self.invited(MEMBER).await;
        let (_, answer) = self.accept(&link).await;
        assert_eq!(location(&answer), "/account?done=family-joined");
    }

    async fn access_token(&self, email: &str) -> String {
        flow::person_tokens(&self.server, &self.app, email, "openid entitlements").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn introspect(&self, token: &str) -> Value {
        common::introspect(&self.server, &self.content_server, token).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let admin = self.server.service_client(&["usher:admin"]).await;
        let token = common::issue_token(&self.server, &admin, Some("usher:admin")).await;
        let mut request = common::http()
            .request(method, self.server.endpoint(&format!("/admin/api/v1{path}")))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn start_stream(&self, token: &str, device_id: &str) -> (u16, Value) {
        let response = common::post_form(
            &self.server.endpoint("/streams"),
            &self.content_server,
            &[("token", token), ("device_id", device_id)],
        )
        .await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn a_member_shares_the_holders_tier_live_in_introspection_with_household(backend: Backend) {
    let f = fixture(backend).await;
    let token = f.access_token(MEMBER).await;
    let before = f.introspect(&token).await;
    assert_eq!(before["tier"], Value::Null, "{before}");
    assert_eq!(before.get("household"), None, "not a member yet: {before}");

    f.member_joins().await;
    let after = f.introspect(&token).await;
    assert_eq!(after["tier"], "family", "{after}");
    assert_eq!(after["features"], json!(["hd"]));
    assert_eq!(after["max_streams"], 2);
    assert_eq!(after["household"], f.holder_id.as_str());
    assert!(after["ent_ver"].as_i64() > before["ent_ver"].as_i64());
}

async fn an_invitation_creates_the_account_of_a_new_address(backend: Backend) {
    let f = fixture_with(backend, 2, |config| Config {
        allow_signup: false,
        ..config
    })
    .await;
    let (mail, link) = f.invited(NEWCOMER).await;
    assert!(mail.text.contains("create your account"), "{}", mail.text);
    let (browser, answer) = f.accept(&link).await;
    assert_eq!(location(&answer), "/account?done=family-joined");
    let page = browser
        .get("/account?done=family-joined")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("You joined the family."), "{page}");
    assert!(page.contains("You are in Ada Lovelace"), "{page}");
}

async fn an_invitation_works_once(backend: Backend) {
    let f = fixture(backend).await;
    let (_, link) = f.invited(MEMBER).await;
    let (browser, _) = f.accept(&link).await;
    let again = browser.get(&link).await;
    assert_eq!(again.status(), 410, "a used invitation no longer works");
}

async fn an_invitation_expires(backend: Backend) {
    let f = fixture(backend).await;
    let (_, link) = f.invited(MEMBER).await;
    f.server.state.clock.advance(INVITATION_TTL);
    let page = Browser::new(&f.server).get(&link).await;
    assert_eq!(page.status(), 410);
    let (_, household) = f
        .admin(Method::GET, &format!("/users/{}/household", f.holder_id), None)
        .await;
    assert_eq!(household["invitations"], json!([]), "it no longer takes a place");
}

async fn inviting_answers_the_same_whether_or_not_the_address_has_an_account(backend: Backend) {
    let f = fixture_with(backend, 3, |config| config).await;
    let existing = f.invite(MEMBER).await;
    let unknown = f.invite(NEWCOMER).await;
    assert_eq!(
        (existing.status(), location(&existing)),
        (unknown.status(), location(&unknown))
    );
    assert_eq!(location(&existing), "/account?done=family-invited");
    // Only the mail, which only the address's owner reads, differs.
    assert!(
        f.smtp
            .next_mail_to(MEMBER)
            .await
            .text
            .contains("sign in and join")
    );
    assert!(
        f.smtp
            .next_mail_to(NEWCOMER)
            .await
            .text
            .contains("create your account and join")
    );
}

async fn removing_a_member_takes_the_shared_tier_away_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    assert_eq!(f.introspect(&token).await["tier"], "family");
    let holder = signed_in(&f.server, HOLDER).await;
    let removed =
        post_on_account_page(&holder, "/account/family/remove", &[("member_id", &f.member_id)]).await;
    assert_eq!(location(&removed), "/account?done=family-removed");
    let after = f.introspect(&token).await;
    assert_eq!(after["tier"], Value::Null, "{after}");
    assert_eq!(after.get("household"), None, "{after}");
}

async fn a_member_who_leaves_loses_the_shared_tier_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    assert_eq!(f.introspect(&token).await["tier"], "family");
    let member = signed_in(&f.server, MEMBER).await;
    let page = member.get("/account").await.text().await.unwrap();
    assert!(page.contains("Leave Ada Lovelace"), "{page}");
    let left = post_on_account_page(&member, "/account/family/leave", &[]).await;
    assert_eq!(location(&left), "/account?done=family-left");
    assert_eq!(f.introspect(&token).await["tier"], Value::Null);
}

async fn the_holders_subscription_ending_takes_the_members_tier_away_at_once(backend: Backend) {
    let f = fixture(backend).await;
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    assert_eq!(f.introspect(&token).await["tier"], "family");
    let (status, _) = f
        .admin(
            Method::DELETE,
            &format!("/users/{}/subscription", f.holder_id),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let after = f.introspect(&token).await;
    assert_eq!(after["tier"], Value::Null, "{after}");
    assert_eq!(
        after["household"],
        f.holder_id.as_str(),
        "still a member: {after}"
    );
}

async fn the_holders_period_ending_by_the_clock_takes_the_members_tier_away(backend: Backend) {
    let f = fixture(backend).await;
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    assert_eq!(f.introspect(&token).await["tier"], "family");
    f.server.state.clock.advance(PERIOD);
    assert_eq!(f.introspect(&token).await["tier"], Value::Null);
}

async fn only_products_marked_household_are_shared(backend: Backend) {
    let f = fixture(backend).await;
    let (holder, now) = (f.holder_id.clone(), f.server.state.clock.now());
    f.server
        .state
        .store
        .run(move |conn| {
            let actor = Actor::client("payments");
            for (slug, household) in [("shared-match", true), ("own-concert", false)] {
                let product = ProductInput {
                    title: slug.into(),
                    starts_at: None,
                    ends_at: None,
                    rental_hours: None,
                    household,
                };
                manage::create_product(conn, &actor, slug, &product, now)?;
                let grant = GrantInput {
                    product: slug.into(),
                    valid_from: None,
                    valid_until: None,
                    external_ref: None,
                };
                manage::grant_product(conn, &actor, &holder, &grant, now)?;
            }
            Ok::<_, manage::EntitlementError>(())
        })
        .await
        .unwrap();
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    assert_eq!(f.introspect(&token).await["ppv"], json!(["shared-match"]));
}

async fn members_and_open_invitations_fit_in_the_tiers_max_members(backend: Backend) {
    let f = fixture(backend).await;
    f.invited(MEMBER).await;
    f.invited(NEWCOMER).await;
    let third = f.invite("third@example.com").await;
    assert_eq!(third.status(), 409, "both places are offered");
    let (_, household) = f
        .admin(Method::GET, &format!("/users/{}/household", f.holder_id), None)
        .await;
    let invitation = household["invitations"][1]["id"].as_str().unwrap().to_owned();
    let holder = signed_in(&f.server, HOLDER).await;
    let cancelled = post_on_account_page(
        &holder,
        "/account/family/cancel",
        &[("invitation_id", &invitation)],
    )
    .await;
    assert_eq!(location(&cancelled), "/account?done=family-cancelled");
    assert_eq!(f.invite("third@example.com").await.status(), 303);
}

async fn a_plan_without_members_offers_no_family(backend: Backend) {
    let f = fixture_with(backend, 0, |config| config).await;
    let holder = signed_in(&f.server, HOLDER).await;
    let page = holder.get("/account").await.text().await.unwrap();
    assert!(!page.contains("family-heading"), "{page}");
    assert_eq!(f.invite(MEMBER).await.status(), 409);
}

async fn a_members_streams_count_against_the_holders_limit(backend: Backend) {
    let f = fixture(backend).await;
    let (holder_token, member_token) = (f.access_token(HOLDER).await, f.access_token(MEMBER).await);
    f.member_joins().await;
    assert_eq!(f.start_stream(&holder_token, "living-room-tv").await.0, 201);
    let (status, body) = f.start_stream(&member_token, "phone").await;
    assert_eq!(
        (status, body["active_streams"].clone()),
        (201, json!(2)),
        "{body}"
    );
    let (status, body) = f.start_stream(&holder_token, "laptop").await;
    assert_eq!(status, 409, "the member's stream took the second place: {body}");
    let (_, listed) = f
        .admin(Method::GET, &format!("/users/{}/streams", f.holder_id), None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}

async fn the_admin_api_shows_the_household_and_removes_a_member(backend: Backend) {
    let f = fixture(backend).await;
    f.member_joins().await;
    f.invited(NEWCOMER).await;
    for person in [&f.holder_id, &f.member_id] {
        let (status, household) = f
            .admin(Method::GET, &format!("/users/{person}/household"), None)
            .await;
        assert_eq!(status, 200, "{household}");
        assert_eq!(household["holder_id"], f.holder_id.as_str());
        assert_eq!(household["max_members"], 2);
        assert_eq!(household["members"][0]["email"], MEMBER);
        assert_eq!(household["invitations"][0]["email"], NEWCOMER);
        assert!(!household.to_string().contains("link"), "no secrets: {household}");
    }
    let member_path = format!("/users/{}/household/members/{}", f.holder_id, f.member_id);
    assert_eq!(f.admin(Method::DELETE, &member_path, None).await.0, 204);
    assert_eq!(f.admin(Method::DELETE, &member_path, None).await.0, 404);
    let (_, audit) = f
        .admin(Method::GET, &format!("/audit?user_id={}", f.member_id), None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert!(actions.contains(&"household.join"), "{actions:?}");
    assert!(actions.contains(&"household.member_remove"), "{actions:?}");
}

async fn an_invitation_speaks_the_invitees_language_else_that_of_the_holders_page(backend: Backend) {
    let f = fixture(backend).await;
    let holder = signed_in(&f.server, HOLDER).await;
    // Chosen while signed in: saved on the holder's account, and their pages speak it.
    holder.get("/language?set=ur&return_to=%2Faccount").await;
    let member = signed_in(&f.server, MEMBER).await;
    member.get("/language?set=en&return_to=%2Faccount").await;

    for invitee in [NEWCOMER, MEMBER] {
        let answer = post_on_account_page(&holder, "/account/family/invite", &[("email", invitee)]).await;
        assert_eq!(answer.status(), 303, "{invitee}");
    }
    let newcomer = f.smtp.next_mail_to(NEWCOMER).await;
    assert!(
        newcomer.html.contains("<html lang=\"ur\" dir=\"rtl\">"),
        "{}",
        newcomer.html
    );
    assert!(newcomer.subject.contains("فیملی پلان"), "{}", newcomer.subject);
    assert!(
        newcomer
            .text
            .contains("اپنا اکاؤنٹ بنا کر شامل ہونے کے لیے یہ لنک کھولیں"),
        "{}",
        newcomer.text
    );
    let member = f.smtp.next_mail_to(MEMBER).await;
    assert!(
        member.html.contains("<html lang=\"en\" dir=\"ltr\">"),
        "{}",
        member.html
    );
    assert_eq!(member.subject, "You're invited to join a family plan on Usher");
}

on_both_backends!(
    a_member_shares_the_holders_tier_live_in_introspection_with_household,
    an_invitation_creates_the_account_of_a_new_address,
    an_invitation_works_once,
    an_invitation_expires,
    inviting_answers_the_same_whether_or_not_the_address_has_an_account,
    removing_a_member_takes_the_shared_tier_away_at_once,
    a_member_who_leaves_loses_the_shared_tier_at_once,
    the_holders_subscription_ending_takes_the_members_tier_away_at_once,
    the_holders_period_ending_by_the_clock_takes_the_members_tier_away,
    only_products_marked_household_are_shared,
    members_and_open_invitations_fit_in_the_tiers_max_members,
    a_plan_without_members_offers_no_family,
    a_members_streams_count_against_the_holders_limit,
    the_admin_api_shows_the_household_and_removes_a_member,
    an_invitation_speaks_the_invitees_language_else_that_of_the_holders_page,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_removed_on_one_instance_loses_the_tier_on_the_other_within_a_second() {
    let cluster = |config| Config {
        issuer: Some("http://usher.cluster.test".into()),
        sync_interval_ms: 250,
        db_pool_size: 8,
        ..config
    };
    let f = fixture_on(Backend::Postgres, 2, cluster, Clock::System).await;
    let second = TestServer::start_with(cluster(f._db.config()), Clock::System).await;
    let token = f.access_token(MEMBER).await;
    f.member_joins().await;
    let on_second = || common::introspect(&second, &f.content_server, &token);
    assert_eq!(
        on_second().await["tier"],
        "family",
        "the second instance caches it now"
    );

    let member_path = format!("/users/{}/household/members/{}", f.holder_id, f.member_id);
    assert_eq!(f.admin(Method::DELETE, &member_path, None).await.0, 204);
    let started = Instant::now();
    while on_second().await["tier"] != Value::Null {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still shared on the second instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
