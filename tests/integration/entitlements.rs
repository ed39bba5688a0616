//! Entitlements on both databases: tiers, subscription states, pay-per-view rentals moving
//! with the clock, idempotent grants, and what tokens, userinfo and live introspection say.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::{self, first_party_app, person_tokens};
use common::{Backend, TestDb, TestServer};
use serde_json::Value;
use usher::domain::entitlements::manage::{
    self, Actor, EntitlementError, GrantInput, ProductInput, SubscriptionInput, TierInput,
};
use usher::domain::entitlements::{self, Entitlements};
use usher::foundation::clock::Clock;
use usher::foundation::config::Config;
use usher::foundation::store::DbConnection;
use usher::foundation::store::entitlements as store;

const START: i64 = 1_900_000_000;
const HOUR: i64 = 3600;
const EMAIL: &str = "viewer@example.com";

struct Site {
    server: TestServer,
    user_id: String,
    _db: TestDb,
}

async fn site_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Site {
    let db = TestDb::new(backend);
    let mut config = db.config();
    configure(&mut config);
    let server = TestServer::start_with(config, Clock::manual(START)).await;
    let user_id = flow::create_user(&server, EMAIL).await;
    Site {
        _db: db,
        server,
        user_id,
    }
}

async fn site(backend: Backend) -> Site {
    site_with(backend, |_| {}).await
}

fn actor() -> Actor {
    Actor::client("payments")
}

impl Site {
    /// Runs service functions on the blocking pool at the site's clock.
    async fn change<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection, i64) -> Result<T, EntitlementError> + Send + 'static,
    ) -> Result<T, EntitlementError> {
        let now = self.server.state.clock.now();
        self.server
            .state
            .store
            .run(move |conn| Ok::<_, usher::foundation::store::StoreError>(work(conn, now)))
            .await
            .unwrap()
    }

    async fn entitlements(&self) -> Entitlements {
        let (user_id, now) = (self.user_id.clone(), self.server.state.clock.now());
        self.server
            .state
            .store
            .run(move |conn| entitlements::compute(conn, &user_id, now))
            .await
            .unwrap()
    }

    async fn tier(&self, slug: &'static str, rank: i32, features: &[&str]) {
        let input = TierInput {
            name: slug.to_uppercase(),
            rank,
            features: features.iter().map(|feature| (*feature).to_owned()).collect(),
            max_streams: 2,
            stream_limit_policy: None,
            max_devices: None,
            max_profiles: None,
            max_members: 0,
        };
        self.change(move |conn, now| manage::create_tier(conn, &actor(), slug, &input, now))
            .await
            .unwrap();
    }

    async fn subscribe(&self, tier: &str, status: &str, period_end: i64) {
        let (user_id, input) = (
            self.user_id.clone(),
            SubscriptionInput {
                tier: tier.into(),
                status: status.into(),
                current_period_end: period_end,
                external_ref: Some("sub_1".into()),
            },
        );
        self.change(move |conn, now| manage::put_subscription(conn, &actor(), &user_id, &input, now))
            .await
            .unwrap();
    }

    async fn product(&self, slug: &'static str, rental_hours: Option<i32>) {
        let input = ProductInput {
            title: slug.to_uppercase(),
            starts_at: None,
            ends_at: None,
            rental_hours,
            household: false,
        };
        self.change(move |conn, now| manage::create_product(conn, &actor(), slug, &input, now))
            .await
            .unwrap();
    }

    async fn grant(
        &self,
        product: &str,
        valid_from: Option<i64>,
        external_ref: Option<&str>,
    ) -> (store::Grant, bool) {
        let (user_id, input) = (
            self.user_id.clone(),
            GrantInput {
                product: product.into(),
                valid_from,
                valid_until: None,
                external_ref: external_ref.map(str::to_owned),
            },
        );
        self.change(move |conn, now| manage::grant_product(conn, &actor(), &user_id, &input, now))
            .await
            .unwrap()
    }

    async fn introspect(&self, token: &str) -> Value {
        let service = self.server.service_client(&[]).await;
        common::post_form(
            &self.server.endpoint("/oauth/introspect"),
            &service,
            &[("token", token)],
        )
        .await
        .json()
        .await
        .unwrap()
    }
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn tiers_are_listed_by_rank_with_their_features(backend: Backend) {
    let site = site(backend).await;
    site.tier("premium", 20, &["hd", "4k", "ad_free"]).await;
    site.tier("basic", 10, &["hd"]).await;
    let tiers = site.change(|conn, _| Ok(store::list_tiers(conn)?)).await.unwrap();
    let slugs: Vec<&str> = tiers.iter().map(|tier| tier.slug.as_str()).collect();
    assert_eq!(slugs, ["basic", "premium"]);
    assert_eq!(tiers[1].features, ["hd", "4k", "ad_free"]);
}

async fn a_subscription_gives_its_tier_until_canceled_or_past_its_period(backend: Backend) {
    let site = site(backend).await;
    site.tier("premium", 20, &["hd", "4k"]).await;
    for status in ["active", "trialing", "past_due"] {
        site.subscribe("premium", status, START + HOUR).await;
        let now = site.entitlements().await;
        assert_eq!(now.tier.as_deref(), Some("premium"), "{status}");
        assert_eq!(now.features, ["hd", "4k"]);
    }
    site.subscribe("premium", "canceled", START + HOUR).await;
    assert_eq!(site.entitlements().await.tier, None, "canceled gives nothing");

    site.subscribe("premium", "active", START + HOUR).await;
    site.server.state.clock.advance(HOUR);
    let after = site.entitlements().await;
    assert_eq!(after.tier, None, "past the period end");
    assert!(after.features.is_empty());
}

async fn a_rental_starts_is_active_and_expires_as_the_clock_moves(backend: Backend) {
    let site = site(backend).await;
    site.product("final-match", Some(48)).await;
    let (grant, created) = site.grant("final-match", Some(START + HOUR), None).await;
    assert!(created);
    assert_eq!(
        grant.valid_until,
        Some(START + HOUR + 48 * HOUR),
        "rental length from its start"
    );

    let before = site.entitlements().await;
    assert!(before.ppv.is_empty(), "not started yet");
    assert_eq!(before.changes_at, Some(START + HOUR));

    site.server.state.clock.advance(HOUR);
    let during = site.entitlements().await;
    assert_eq!(during.ppv.len(), 1);
    assert_eq!(during.ppv[0].product, "final-match");
    assert_eq!(during.ppv[0].valid_until, Some(START + 49 * HOUR));

    site.server.state.clock.advance(48 * HOUR);
    assert!(site.entitlements().await.ppv.is_empty(), "expired");
}

async fn a_grant_with_the_same_external_ref_is_granted_once(backend: Backend) {
    let site = site(backend).await;
    site.product("concert", None).await;
    let (first, created) = site.grant("concert", None, Some("pay_123")).await;
    assert!(created);
    let (again, created_again) = site.grant("concert", None, Some("pay_123")).await;
    assert!(!created_again);
    assert_eq!(again.id, first.id);
    let user_id = site.user_id.clone();
    let grants = site
        .change(move |conn, _| Ok(store::list_grants(conn, &user_id)?))
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
}

async fn a_revoked_grant_gives_nothing_and_bumps_the_version(backend: Backend) {
    let site = site(backend).await;
    site.product("concert", None).await;
    let (grant, _) = site.grant("concert", None, None).await;
    let granted = site.entitlements().await;
    assert_eq!(granted.ppv.len(), 1);
    let user_id = site.user_id.clone();
    let revoked = site
        .change(move |conn, now| manage::revoke_grant(conn, &actor(), &user_id, &grant.id, now))
        .await
        .unwrap();
    assert!(revoked);
    let after = site.entitlements().await;
    assert!(after.ppv.is_empty());
    assert!(after.ent_ver > granted.ent_ver);
}

async fn tokens_carry_the_entitlement_claims_of_the_scope(backend: Backend) {
    let site = site(backend).await;
    site.tier("premium", 20, &["hd", "4k"]).await;
    site.subscribe("premium", "active", START + 30 * 24 * HOUR).await;
    site.product("final-match", Some(48)).await;
    site.grant("final-match", None, None).await;
    let app = site.server.create_client(first_party_app()).await;

    let tokens = person_tokens(&site.server, &app, EMAIL, "openid profile entitlements").await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["tier"], "premium");
    assert_eq!(access["features"], serde_json::json!(["hd", "4k"]));
    assert_eq!(access["ppv"], serde_json::json!(["final-match"]));
    assert!(access.get("ppv_overflow").is_none());
    assert!(access["ent_ver"].as_i64().unwrap() > 0);
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["tier"], "premium");
    assert_eq!(id_token["features"], serde_json::json!(["hd", "4k"]));
    assert!(
        id_token.get("ppv").is_none(),
        "ID tokens carry tier and features only"
    );

    let userinfo: Value = common::http()
        .get(site.server.endpoint("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["tier"], "premium");
    assert_eq!(userinfo["features"], serde_json::json!(["hd", "4k"]));

    let without = person_tokens(&site.server, &app, EMAIL, "openid profile").await;
    let access = claims(without["access_token"].as_str().unwrap());
    assert!(access.get("tier").is_none() && access.get("ent_ver").is_none());
}

async fn the_ppv_claim_is_capped_and_introspection_has_the_full_list(backend: Backend) {
    let site = site_with(backend, |config| config.ppv_claim_cap = 16).await;
    for n in 0..500 {
        let slug: &'static str = Box::leak(format!("event-{n:03}").into_boxed_str());
        site.product(slug, None).await;
        site.grant(slug, None, None).await;
    }
    let app = site.server.create_client(first_party_app()).await;
    let tokens = person_tokens(&site.server, &app, EMAIL, "openid entitlements").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let access = claims(access_token);
    assert_eq!(access["ppv"].as_array().unwrap().len(), 16);
    assert_eq!(access["ppv_overflow"], true);
    assert!(
        access_token.len() < 1024,
        "500 purchases, still a small token: {} bytes",
        access_token.len()
    );
    let live = site.introspect(access_token).await;
    assert_eq!(live["ppv"].as_array().unwrap().len(), 500);
}

async fn introspection_reflects_a_change_made_after_the_token_was_issued(backend: Backend) {
    // Tokens outlive the rental here, so the clock can end the rental while the token lives.
    let site = site_with(backend, |config| config.access_token_ttl_secs = 3 * HOUR).await;
    site.tier("basic", 10, &["hd"]).await;
    site.tier("premium", 20, &["hd", "4k"]).await;
    site.subscribe("basic", "active", START + 30 * 24 * HOUR).await;
    site.product("final-match", Some(2)).await;
    let app = site.server.create_client(first_party_app()).await;
    let tokens = person_tokens(&site.server, &app, EMAIL, "openid entitlements").await;
    let token = tokens["access_token"].as_str().unwrap();
    let before = site.introspect(token).await;
    assert_eq!(before["active"], true);
    assert_eq!(before["tier"], "basic");
    assert_eq!(before["ppv"], serde_json::json!([]));

    site.subscribe("premium", "active", START + 30 * 24 * HOUR).await;
    site.grant("final-match", None, None).await;
    // This instance learns of the change from the change feed (as the admin API's own
    // invalidation would tell it at once); wait no longer than the feed's poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let after = loop {
        let after = site.introspect(token).await;
        if after["tier"] == "premium" || std::time::Instant::now() > deadline {
            break after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(after["tier"], "premium");
    assert_eq!(after["features"], serde_json::json!(["hd", "4k"]));
    assert_eq!(after["ppv"], serde_json::json!(["final-match"]));
    assert!(after["ent_ver"].as_i64() > before["ent_ver"].as_i64());
    assert_eq!(
        claims(token)["tier"],
        "basic",
        "the token itself still says what was true"
    );

    site.server.state.clock.advance(2 * HOUR);
    let expired = site.introspect(token).await;
    assert_eq!(
        expired["ppv"],
        serde_json::json!([]),
        "the rental ended by the clock alone"
    );
}

on_both_backends!(
    tiers_are_listed_by_rank_with_their_features,
    a_subscription_gives_its_tier_until_canceled_or_past_its_period,
    a_rental_starts_is_active_and_expires_as_the_clock_moves,
    a_grant_with_the_same_external_ref_is_granted_once,
    a_revoked_grant_gives_nothing_and_bumps_the_version,
    tokens_carry_the_entitlement_claims_of_the_scope,
    the_ppv_claim_is_capped_and_introspection_has_the_full_list,
    introspection_reflects_a_change_made_after_the_token_was_issued,
);

mod edges {
    use super::*;

    async fn a_rental_bought_before_the_event_opens_runs_from_the_opening(backend: Backend) {
        let site = site(backend).await;
        let input = ProductInput {
            title: "Final".into(),
            starts_at: Some(START + 7 * 24 * HOUR),
            ends_at: None,
            rental_hours: Some(48),
            household: false,
        };
        site.change(move |conn, now| manage::create_product(conn, &actor(), "final", &input, now))
            .await
            .unwrap();
        let (grant, _) = site.grant("final", None, None).await;
        assert_eq!(grant.valid_until, Some(START + 7 * 24 * HOUR + 48 * HOUR));
        site.server.state.clock.advance(7 * 24 * HOUR + HOUR);
        assert_eq!(
            site.entitlements().await.ppv.len(),
            1,
            "watchable once the event opens"
        );
    }

    async fn two_grants_of_one_product_last_as_long_as_the_longer(backend: Backend) {
        let site = site(backend).await;
        site.product("season", None).await;
        for until in [START + HOUR, START + 1000 * HOUR] {
            let (user_id, input) = (
                site.user_id.clone(),
                GrantInput {
                    product: "season".into(),
                    valid_from: None,
                    valid_until: Some(until),
                    external_ref: None,
                },
            );
            site.change(move |conn, now| manage::grant_product(conn, &actor(), &user_id, &input, now))
                .await
                .unwrap();
        }
        let now = site.entitlements().await;
        assert_eq!(now.ppv.len(), 1);
        assert_eq!(now.ppv[0].valid_until, Some(START + 1000 * HOUR));
    }

    async fn a_grant_revoked_twice_at_once_is_recorded_once(backend: Backend) {
        let site = site(backend).await;
        site.product("concert", None).await;
        let (grant, _) = site.grant("concert", None, None).await;
        let revoke = |id: String| {
            let user_id = site.user_id.clone();
            site.change(move |conn, now| manage::revoke_grant(conn, &actor(), &user_id, &id, now))
        };
        let (one, two) = tokio::join!(revoke(grant.id.clone()), revoke(grant.id.clone()));
        assert_eq!(
            [one.unwrap(), two.unwrap()]
                .iter()
                .filter(|revoked| **revoked)
                .count(),
            1
        );
        let user_id = site.user_id.clone();
        let audited = site
            .change(move |conn, _| {
                let filter = store::AuditFilter {
                    user_id: Some(user_id),
                    action: Some("grant.revoke".into()),
                    limit: 10,
                    ..store::AuditFilter::default()
                };
                Ok(store::list_audit(conn, &filter)?)
            })
            .await
            .unwrap();
        assert_eq!(audited.len(), 1);
    }

    async fn the_clock_ending_a_rental_grows_ent_ver_once_and_queues_a_webhook(backend: Backend) {
        let site = site(backend).await;
        let client = site.server.service_client(&[]).await;
        let client_id = client.client_id.clone();
        let state = std::sync::Arc::clone(&site.server.state);
        site.server
            .state
            .store
            .run(move |conn| {
                usher::domain::webhooks::register(
                    conn,
                    &state.master_key,
                    &client_id,
                    "http://127.0.0.1:9/hook",
                    0,
                    START,
                )
            })
            .await
            .unwrap();
        site.product("final-match", Some(2)).await;
        site.grant("final-match", None, None).await;
        let sweep = || site.change(manage::sweep_schedule);
        sweep().await.unwrap();
        let before = site.entitlements().await.ent_ver;

        site.server.state.clock.advance(2 * HOUR);
        let swept = sweep().await.unwrap();
        assert_eq!(swept, vec![site.user_id.clone()]);
        let after = site.entitlements().await;
        assert!(after.ppv.is_empty());
        assert_eq!(after.ent_ver, before + 1, "the expiry is a change");
        assert!(sweep().await.unwrap().is_empty(), "announced once");
        let events: Vec<String> = site
            .change(|conn, _| {
                use diesel::prelude::*;
                use usher::foundation::store::schema::webhook_deliveries;
                Ok(webhook_deliveries::table
                    .order(webhook_deliveries::id.desc())
                    .select(webhook_deliveries::body)
                    .load(conn)
                    .map_err(usher::foundation::store::StoreError::from)?)
            })
            .await
            .unwrap();
        assert!(events[0].contains("\"entitlements.scheduled\""), "{}", events[0]);
        assert!(
            events[0].contains(&format!("\"ent_ver\":{}", after.ent_ver)),
            "{}",
            events[0]
        );
    }

    async fn editing_a_tier_grows_the_version_of_its_subscribers(backend: Backend) {
        let site = site(backend).await;
        site.tier("premium", 20, &["hd"]).await;
        site.subscribe("premium", "active", START + HOUR).await;
        let before = site.entitlements().await;
        let input = TierInput {
            name: "Premium".into(),
            rank: 20,
            features: vec!["hd".into(), "4k".into()],
            max_streams: 4,
            stream_limit_policy: None,
            max_devices: None,
            max_profiles: None,
            max_members: 0,
        };
        site.change(move |conn, now| manage::update_tier(conn, &actor(), "premium", &input, now))
            .await
            .unwrap();
        let after = site.entitlements().await;
        assert_eq!(after.features, ["hd", "4k"]);
        assert_eq!(after.ent_ver, before.ent_ver + 1);
    }

    on_both_backends!(
        editing_a_tier_grows_the_version_of_its_subscribers,
        the_clock_ending_a_rental_grows_ent_ver_once_and_queues_a_webhook,
        a_rental_bought_before_the_event_opens_runs_from_the_opening,
        two_grants_of_one_product_last_as_long_as_the_longer,
        a_grant_revoked_twice_at_once_is_recorded_once,
    );
}
