//! `usher demo seed`: a catalogue, an administrator and made-up people with subscriptions,
//! pay-per-view grants, profiles, families and a fortnight of sign-ins, so the dashboard has
//! something to show.
//!
//! Idempotent: what exists is skipped (a tier, product or account with the same slug or
//! email), and only people created by this run get subscriptions, grants and sign-ins. The
//! catalogue, subscriptions and grants go through [`manage`] (audit log, versions, change
//! feed and webhooks, as any change by the command line); people and sessions are written
//! directly (so are profiles, without PINs, and family memberships), a thousand people per
//! transaction, so 100,000 take minutes, not hours. Each
//! person's data comes from a generator seeded by their number: the same on every database.
//! Demo people have no password; their sessions have all ended.

use std::collections::HashSet;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

use crate::domain::entitlements::manage::{
    self, Actor, GrantInput, ProductInput, SubscriptionInput, TierInput,
};
use crate::domain::identity::users::{self as admin_users, NewUser};
use crate::domain::profiles as domain_profiles;
use crate::foundation::clock::Clock;
use crate::foundation::crypto::{hashing, random};
use crate::foundation::store::entitlements::{self as store, NewAuditEntry, Product};
use crate::foundation::store::households::{self, Membership};
use crate::foundation::store::profiles::{self, Profile};
use crate::foundation::store::sessions::{self, Session};
use crate::foundation::store::transaction;
use crate::foundation::store::users::{self, User};
use crate::foundation::store::{DbConnection, Store};

pub const ADMIN_EMAIL: &str = "admin@example.com";
/// How many people `usher demo seed` creates unless told.
pub(crate) const DEFAULT_PEOPLE: u32 = 200;
/// People written per transaction.
const CHUNK: u32 = 1000;
/// Sessions per insert statement (10 parameters each).
const SESSION_BATCH: usize = 500;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// What to seed.
#[derive(Clone, Debug)]
pub struct Options {
    pub people: u32,
    /// The administrator's password; `None`: one is generated (and shown once).
    pub admin_password: Option<String>,
    /// How long a session could have lasted (`session_max_secs`).
    pub session_max_secs: i64,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Seeded {
    pub tiers_created: usize,
    pub products_created: usize,
    pub admin_email: &'static str,
    pub admin_created: bool,
    /// Only when this run created the administrator with a password it generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
    pub people_requested: u32,
    pub people_created: usize,
    pub people_existing: usize,
    pub subscriptions_created: usize,
    pub grants_created: usize,
    pub profiles_created: usize,
    pub family_members_created: usize,
    pub sign_ins_created: usize,
    pub seconds: f64,
}

impl Seeded {
    /// One line for people.
    pub(crate) fn summary(&self) -> String {
        let admin = match (&self.admin_password, self.admin_created) {
            (Some(password), _) => format!(
                "{} created with password {password} (shown once)",
                self.admin_email
            ),
            (None, true) => format!("{} created with the given password", self.admin_email),
            (None, false) => format!("{} already there (password unchanged)", self.admin_email),
        };
        format!(
            "demo data: {} tiers and {} products created; {admin}; {} people created ({} already there) \
             with {} subscriptions, {} pay-per-view grants, {} profiles, {} family members and {} \
             sign-ins; {:.1} s",
            self.tiers_created,
            self.products_created,
            self.people_created,
            self.people_existing,
            self.subscriptions_created,
            self.grants_created,
            self.profiles_created,
            self.family_members_created,
            self.sign_ins_created,
            self.seconds,
        )
    }
}

/// A demo tier and what it allows.
struct DemoTier {
    slug: &'static str,
    name: &'static str,
    rank: i32,
    features: &'static [&'static str],
    max_streams: i32,
    max_profiles: i32,
    max_members: i32,
}

const TIERS: [DemoTier; 4] = [
    DemoTier {
        slug: "free",
        name: "Free",
        rank: 0,
        features: &[],
        max_streams: 1,
        max_profiles: 1,
        max_members: 0,
    },
    DemoTier {
        slug: "standard",
        name: "Standard",
        rank: 10,
        features: &["hd"],
        max_streams: 2,
        max_profiles: 2,
        max_members: 0,
    },
    DemoTier {
        slug: "premium",
        name: "Premium",
        rank: 20,
        features: &["hd", "4k", "offline-downloads"],
        max_streams: 4,
        max_profiles: 5,
        max_members: 0,
    },
    DemoTier {
        slug: "family",
        name: "Family",
        rank: 30,
        features: &["hd", "4k", "offline-downloads"],
        max_streams: 6,
        max_profiles: 6,
        max_members: 5,
    },
];

/// The profiles of a demo account, by how many it has: name, maturity, kids.
const PROFILES: [(&str, &str, bool); 5] = [
    ("Me", "18", false),
    ("Kids", "7", true),
    ("Teen", "13", false),
    ("Guest", "16", false),
    ("Little one", "all", true),
];

/// How many people at most join a family holder's household in the demo.
const MEMBERS_PER_FAMILY: usize = 2;

/// A demo product around `now`: slug, title, opens and closes (hours from now), rental hours.
const PRODUCTS: [(&str, &str, i64, i64, i32); 3] = [
    // A match next week, on sale for a month, replays for a week after it.
    (
        "championship-final-2026",
        "Championship Final 2026",
        6 * 24,
        13 * 24,
        48,
    ),
    // A concert streamed three days ago, watchable for four more days.
    ("live-concert-aurora", "Live concert: Aurora", -3 * 24, 4 * 24, 72),
    // A film that opened three weeks ago and stays two months.
    (
        "film-premiere-night-harbour",
        "Film premiere: Night Harbour",
        -21 * 24,
        60 * 24,
        48,
    ),
];

const FIRST_NAMES: [&str; 48] = [
    "Olivia", "Liam", "Amara", "Noah", "Sofia", "Mateo", "Aisha", "Lucas", "Mei", "Elias", "Zara", "Hugo",
    "Priya", "Jonas", "Chloé", "Kenji", "Freya", "Omar", "Ingrid", "Diego", "Nia", "Luca", "Hana", "Ravi",
    "Emma", "Tomás", "Leila", "Finn", "Yara", "Arjun", "Astrid", "Kwame", "Maya", "Felix", "Ines", "Samir",
    "Clara", "Dmitri", "Lena", "Tariq", "Alice", "Jakub", "Rosa", "Ethan", "Nora", "Marek", "Ada", "Idris",
];

const LAST_NAMES: [&str; 48] = [
    "Andersen",
    "Okafor",
    "García",
    "Nakamura",
    "Müller",
    "Rossi",
    "Haddad",
    "Kowalski",
    "Silva",
    "Chen",
    "Dubois",
    "Novak",
    "Patel",
    "Johansson",
    "O'Brien",
    "Costa",
    "Kim",
    "Fischer",
    "Mensah",
    "Larsen",
    "Moreau",
    "Ivanova",
    "Singh",
    "Bakker",
    "Herrera",
    "Virtanen",
    "Yilmaz",
    "Santos",
    "Nguyen",
    "Schmidt",
    "Ferreira",
    "Lindqvist",
    "Mahmoud",
    "Walsh",
    "Tanaka",
    "Horváth",
    "Adeyemi",
    "Jensen",
    "Romano",
    "Kaur",
    "Petrov",
    "Murphy",
    "Hoffmann",
    "Sato",
    "Eriksen",
    "Popescu",
    "Lopez",
    "Brennan",
];

/// How sign-ins began, and how often (weights out of 100).
const SIGN_IN_METHODS: [(&[&str], u32); 6] = [
    (&["pwd"], 40),
    (&["email"], 20),
    (&["hwk", "user", "mfa"], 15),
    (&["swk", "user", "mfa"], 10),
    (&["pwd", "otp", "mfa"], 12),
    (&["email", "otp", "mfa"], 3),
];

const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 8.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/7.0 Chrome/120.0.0.0 TV Safari/537.36",
];

/// The email of demo person `number`: `person0001@example.com`, …, `person100000@example.com`.
pub(crate) fn email(number: u32) -> String {
    format!("person{number:04}@example.com")
}

/// Picks from `(item, weight)` pairs.
fn weighted<'a, T>(rng: &mut StdRng, choices: &'a [(T, u32)]) -> &'a T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for (item, weight) in choices {
        if pick < *weight {
            return item;
        }
        pick -= weight;
    }
    &choices[choices.len() - 1].0
}

/// One demo person's subscription, grants and sign-ins, drawn from their own generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Person {
    pub name: String,
    pub created_at: i64,
    pub email_verified: bool,
    /// `(tier, status, current period end)`.
    pub subscription: Option<(&'static str, &'static str, i64)>,
    /// `(product, bought at)`.
    pub grants: Vec<(&'static str, i64)>,
    /// `(amr, started, last seen, user agent)`.
    pub sign_ins: Vec<(&'static [&'static str], i64, i64, &'static str)>,
    /// How many of [`PROFILES`] the account has, first ones first.
    pub profiles: usize,
}

impl Person {
    pub(crate) fn draw(number: u32, now: i64) -> Self {
        let mut rng = StdRng::seed_from_u64(0x5eed_0000_0000 + u64::from(number));
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        // Joined in the last two years, before the fortnight of sign-ins.
        let created_at = now - rng.gen_range(15 * DAY..730 * DAY);
        let subscription = (!rng.gen_bool(0.15)).then(|| {
            let tier = *weighted(
                &mut rng,
                &[("free", 35), ("standard", 30), ("premium", 25), ("family", 10)],
            );
            let status = *weighted(
                &mut rng,
                &[("active", 80), ("trialing", 7), ("past_due", 5), ("canceled", 8)],
            );
            let period_end = match status {
                "trialing" => now + rng.gen_range(HOUR..14 * DAY),
                // A failed renewal the payment service still retries.
                "past_due" => now + rng.gen_range(HOUR..3 * DAY),
                "canceled" => now - rng.gen_range(DAY..90 * DAY),
                _ => now + rng.gen_range(HOUR..31 * DAY),
            };
            (tier, status, period_end)
        });
        let mut grants: Vec<(&'static str, i64)> = Vec::new();
        let purchases = *weighted(&mut rng, &[(0_usize, 85), (1, 12), (2, 3)]);
        for _ in 0..purchases {
            let product = *weighted(
                &mut rng,
                &[
                    ("championship-final-2026", 45),
                    ("live-concert-aurora", 30),
                    ("film-premiere-night-harbour", 25),
                ],
            );
            if grants.iter().all(|(bought, _)| *bought != product) {
                grants.push((product, now - rng.gen_range(0..30 * DAY)));
            }
        }
        // Sign-ins from the start of the first day the overview shows until now.
        let window_start = (now.div_euclid(DAY) - 13) * DAY;
        let count = *weighted(&mut rng, &[(0_usize, 35), (1, 35), (2, 18), (3, 8), (4, 4)]);
        let sign_ins = (0..count)
            .map(|_| {
                let started = rng.gen_range(window_start..now.max(window_start + 1));
                let last_seen = (started + rng.gen_range(0..3 * HOUR)).min(now);
                let amr = *weighted(&mut rng, &SIGN_IN_METHODS);
                let agent = USER_AGENTS[rng.gen_range(0..USER_AGENTS.len())];
                (amr, started, last_seen, agent)
            })
            .collect();
        let profiles = match subscription {
            Some(("family", ..)) => rng.gen_range(3..=PROFILES.len()),
            Some(("premium", ..)) => rng.gen_range(1..=3),
            Some(("standard", ..)) => rng.gen_range(0..=2),
            _ => 0,
        };
        Self {
            name: format!("{first} {last}"),
            created_at,
            email_verified: rng.gen_bool(0.85),
            subscription,
            grants,
            sign_ins,
            profiles,
        }
    }
}

fn actor() -> Actor {
    Actor("cli".to_owned())
}

/// Creates the demo tiers and products that do not exist; returns how many of each.
fn catalogue(conn: &mut DbConnection, now: i64) -> anyhow::Result<(usize, usize)> {
    let actor = actor();
    let mut tiers = 0;
    for tier in TIERS {
        if store::find_tier(conn, tier.slug)?.is_some() {
            continue;
        }
        let input = TierInput {
            name: tier.name.to_owned(),
            rank: tier.rank,
            features: tier
                .features
                .iter()
                .map(|feature| (*feature).to_owned())
                .collect(),
            max_streams: tier.max_streams,
            stream_limit_policy: None,
            max_devices: None,
            max_profiles: Some(tier.max_profiles),
            max_members: tier.max_members,
        };
        manage::create_tier(conn, &actor, tier.slug, &input, now)?;
        tiers += 1;
    }
    let mut products = 0;
    let hour = now - now.rem_euclid(HOUR);
    for (slug, title, opens, closes, rental_hours) in PRODUCTS {
        if store::find_product(conn, slug)?.is_some() {
            continue;
        }
        let input = ProductInput {
            title: title.to_owned(),
            starts_at: Some(hour + opens * HOUR),
            ends_at: Some(hour + closes * HOUR),
            rental_hours: Some(rental_hours),
            // The final is for the whole family; the rest stay the buyer's.
            household: slug == "championship-final-2026",
        };
        manage::create_product(conn, &actor, slug, &input, now)?;
        products += 1;
    }
    Ok((tiers, products))
}

/// Creates the administrator unless there is one; returns whether it was created and the
/// password when it was generated.
fn administrator(
    conn: &mut DbConnection,
    password: Option<String>,
    now: i64,
) -> anyhow::Result<(bool, Option<String>)> {
    if users::find_by_email(conn, ADMIN_EMAIL)?.is_some() {
        return Ok((false, None));
    }
    let generated = password.is_none().then(random::token::<15>);
    let new = NewUser {
        email: ADMIN_EMAIL.to_owned(),
        name: Some("Demo Administrator".to_owned()),
        password: password.or_else(|| generated.clone()),
        admin: true,
    };
    let after = json!({ "email": new.email, "name": new.name, "admin": true });
    let prepared = admin_users::prepare(new)?;
    transaction(conn, |conn| {
        let user = admin_users::insert(conn, prepared, now)?;
        audit(conn, "user.create", &user.id, Some(&user.id), &after, now)?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok((true, generated))
}

fn audit(
    conn: &mut DbConnection,
    action: &str,
    target: &str,
    user_id: Option<&str>,
    after: &serde_json::Value,
    now: i64,
) -> anyhow::Result<()> {
    store::audit(
        conn,
        &NewAuditEntry {
            at: now,
            actor: "cli",
            action,
            user_id,
            target,
            before: None,
            after: Some(after.to_string()),
        },
    )?;
    Ok(())
}

/// What one chunk of people added.
#[derive(Default)]
struct Added {
    people: usize,
    subscriptions: usize,
    grants: usize,
    profiles: usize,
    family_members: usize,
    sign_ins: usize,
}

/// Who joins whose family among people created together: each holder of an active family
/// plan takes up to [`MEMBERS_PER_FAMILY`] of the people after them who have no subscription
/// of their own and are in no family yet. Pairs of indexes into `drawn`: (holder, member).
fn families(drawn: &[Person]) -> Vec<(usize, usize)> {
    let without_plan: Vec<usize> = (0..drawn.len())
        .filter(|index| drawn[*index].subscription.is_none())
        .collect();
    let mut taken = HashSet::new();
    let mut pairs = Vec::new();
    for (holder, person) in drawn.iter().enumerate() {
        if !matches!(person.subscription, Some(("family", "active", _))) {
            continue;
        }
        let joining: Vec<usize> = without_plan
            .iter()
            .copied()
            .filter(|member| *member > holder && !taken.contains(member))
            .take(MEMBERS_PER_FAMILY)
            .collect();
        for member in joining {
            taken.insert(member);
            pairs.push((holder, member));
        }
    }
    pairs
}

/// Writes the people numbered `numbers` that do not exist yet, with their subscriptions,
/// grants and sign-ins, in one transaction.
fn people(
    conn: &mut DbConnection,
    numbers: std::ops::RangeInclusive<u32>,
    products: &[Product],
    session_max_secs: i64,
    now: i64,
) -> anyhow::Result<Added> {
    let emails: Vec<String> = numbers.clone().map(email).collect();
    let existing: HashSet<String> = users::existing_emails(conn, &emails)?.into_iter().collect();
    let mut accounts = Vec::new();
    let mut drawn = Vec::new();
    for (number, email) in numbers.zip(emails) {
        if existing.contains(&email) {
            continue;
        }
        let person = Person::draw(number, now);
        accounts.push(User {
            id: uuid::Builder::from_random_bytes(random::bytes::<16>())
                .into_uuid()
                .to_string(),
            email,
            name: Some(person.name.clone()),
            password_hash: None,
            is_admin: false,
            email_verified: person.email_verified,
            created_at: person.created_at,
            disabled_at: None,
            locale: None,
            time_zone: None,
        });
        drawn.push(person);
    }
    let mut added = Added {
        people: accounts.len(),
        ..Added::default()
    };
    if accounts.is_empty() {
        return Ok(added);
    }
    let actor = actor();
    // The insert comes first: a SQLite transaction that starts with a write takes the write
    // lock at once. The services' own transactions nest in it as savepoints.
    transaction(conn, |conn| {
        users::insert_many(conn, &accounts)?;
        let mut ended = Vec::new();
        for (account, person) in accounts.iter().zip(&drawn) {
            if let Some((tier, status, current_period_end)) = person.subscription {
                let input = SubscriptionInput {
                    tier: tier.to_owned(),
                    status: status.to_owned(),
                    current_period_end,
                    external_ref: None,
                };
                manage::put_subscription(conn, &actor, &account.id, &input, now)?;
                added.subscriptions += 1;
            }
            for (slug, bought) in &person.grants {
                // A product edited since to close earlier sold nothing after that.
                let on_sale = products.iter().any(|product| {
                    product.slug == *slug && product.ends_at.is_none_or(|ends| ends > *bought)
                });
                if !on_sale {
                    continue;
                }
                let input = GrantInput {
                    product: (*slug).to_owned(),
                    valid_from: None,
                    valid_until: None,
                    external_ref: None,
                };
                manage::grant_product(conn, &actor, &account.id, &input, *bought)?;
                added.grants += 1;
            }
            for (index, (name, maturity, kids)) in PROFILES.iter().take(person.profiles).enumerate() {
                profiles::insert(
                    conn,
                    &Profile {
                        id: random::token::<16>(),
                        user_id: account.id.clone(),
                        name: (*name).to_owned(),
                        color: domain_profiles::avatar_color(index).to_owned(),
                        maturity: (*maturity).to_owned(),
                        kids: *kids,
                        pin_hash: None,
                        created_at: person.created_at,
                    },
                )?;
                added.profiles += 1;
            }
            for (amr, started, last_seen, agent) in &person.sign_ins {
                let session = Session {
                    id_hash: hashing::sha256_hex(random::token::<32>().as_bytes()),
                    sid: random::token::<16>(),
                    user_id: account.id.clone(),
                    auth_time: *started,
                    amr: amr.iter().map(|method| (*method).to_owned()).collect(),
                    created_at: *started,
                    last_seen_at: *last_seen,
                    expires_at: started + session_max_secs,
                    user_agent: (*agent).to_owned(),
                };
                // Signed out after the last page seen: the session lets nobody in.
                ended.push((session, *last_seen));
            }
        }
        for (holder, member) in families(&drawn) {
            households::insert_member(
                conn,
                &Membership {
                    member_id: accounts[member].id.clone(),
                    holder_id: accounts[holder].id.clone(),
                    joined_at: accounts[member].created_at.max(accounts[holder].created_at),
                },
            )?;
            added.family_members += 1;
        }
        for batch in ended.chunks(SESSION_BATCH) {
            sessions::insert_ended(conn, batch)?;
        }
        added.sign_ins = ended.len();
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(added)
}

/// Seeds the database behind `store`: see the module's documentation.
pub fn seed(store: &Store, clock: &Clock, options: Options) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let now = clock.now();
    let mut seeded = Seeded {
        admin_email: ADMIN_EMAIL,
        people_requested: options.people,
        ..Seeded::default()
    };
    store.run_blocking(|conn| {
        (seeded.tiers_created, seeded.products_created) = catalogue(conn, now)?;
        (seeded.admin_created, seeded.admin_password) = administrator(conn, options.admin_password, now)?;
        let products = store::list_products(conn)?;
        let mut first = 1;
        while first <= options.people {
            let last = first.saturating_add(CHUNK - 1).min(options.people);
            let added = people(conn, first..=last, &products, options.session_max_secs, now)?;
            seeded.people_created += added.people;
            seeded.people_existing += (last - first + 1) as usize - added.people;
            seeded.subscriptions_created += added.subscriptions;
            seeded.grants_created += added.grants;
            seeded.profiles_created += added.profiles;
            seeded.family_members_created += added.family_members;
            seeded.sign_ins_created += added.sign_ins;
            if last == u32::MAX {
                break;
            }
            first = last + 1;
        }
        let after = json!({
            "people": seeded.people_created,
            "subscriptions": seeded.subscriptions_created,
            "grants": seeded.grants_created,
            "profiles": seeded.profiles_created,
            "family_members": seeded.family_members_created,
            "sign_ins": seeded.sign_ins_created,
        });
        audit(conn, "demo.seed", "demo", None, &after, now)
    })?;
    seeded.seconds = started.elapsed().as_secs_f64();
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::dashboard::overview::{Figures, Method};

    const NOW: i64 = 1_795_996_800; // 2026-11-30 00:00 UTC

    #[test]
    fn emails_are_numbered_with_at_least_four_digits() {
        assert_eq!(email(1), "person0001@example.com");
        assert_eq!(email(200), "person0200@example.com");
        assert_eq!(email(100_000), "person100000@example.com");
    }

    #[test]
    fn a_person_is_the_same_every_time() {
        assert_eq!(Person::draw(7, NOW), Person::draw(7, NOW));
        assert_ne!(Person::draw(7, NOW).name, Person::draw(8, NOW).name);
    }

    #[test]
    fn people_are_spread_over_tiers_statuses_and_methods() {
        let people: Vec<Person> = (1..=2000).map(|number| Person::draw(number, NOW)).collect();
        let share = |count: usize| count as f64 / people.len() as f64;
        let without = people
            .iter()
            .filter(|person| person.subscription.is_none())
            .count();
        assert!((0.1..0.2).contains(&share(without)), "{without}");
        for status in ["active", "trialing", "past_due", "canceled"] {
            let count = people
                .iter()
                .filter(|person| person.subscription.is_some_and(|(_, found, _)| found == status))
                .count();
            assert!(count > 20, "{status}: {count}");
        }
        for (_, status, period_end) in people.iter().filter_map(|person| person.subscription) {
            assert_eq!(status == "canceled", period_end <= NOW, "{status} {period_end}");
        }
        let window_start = (NOW / DAY - 13) * DAY;
        let mut methods = HashSet::new();
        for person in &people {
            assert!(person.created_at < window_start);
            for (amr, started, last_seen, _) in &person.sign_ins {
                assert!((window_start..NOW).contains(started) && last_seen >= started && *last_seen <= NOW);
                let amr: Vec<String> = amr.iter().map(|method| (*method).to_owned()).collect();
                methods.insert(Method::of(&amr).message());
            }
            for (_, bought) in &person.grants {
                assert!((NOW - 30 * DAY..=NOW).contains(bought));
            }
        }
        assert_eq!(methods.len(), 3, "{methods:?}");
        let buyers = people.iter().filter(|person| !person.grants.is_empty()).count();
        assert!((0.08..0.25).contains(&share(buyers)), "{buyers}");
    }

    #[test]
    fn seeding_fills_the_overview_and_twice_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.db").display());
        let store = Store::open(&url, 1).unwrap();
        let clock = Clock::manual(NOW);
        let options = Options {
            people: 60,
            admin_password: Some("a demo password".to_owned()),
            session_max_secs: 30 * DAY,
        };
        let first = seed(&store, &clock, options.clone()).unwrap();
        assert_eq!((first.tiers_created, first.products_created), (4, 3));
        assert!(first.admin_created && first.admin_password.is_none());
        assert_eq!((first.people_created, first.people_existing), (60, 0));
        assert!(
            first.subscriptions_created > 30 && first.sign_ins_created > 30,
            "{first:?}"
        );
        assert!(
            first.summary().contains("60 people created"),
            "{}",
            first.summary()
        );

        assert!(
            first.profiles_created > 20 && first.family_members_created > 0,
            "{first:?}"
        );
        let families = store
            .run_blocking(|conn| {
                let mut members = Vec::new();
                for number in 1..=60 {
                    let person = users::find_by_email(conn, &email(number))?.unwrap();
                    if let Some(holder) = households::holder_of(conn, &person.id)? {
                        members.push((person.id, holder));
                    }
                }
                Ok::<_, crate::foundation::store::StoreError>(members)
            })
            .unwrap();
        assert_eq!(families.len(), first.family_members_created);
        let (member, holder) = families[0].clone();
        let shared = store
            .run_blocking(|conn| crate::domain::entitlements::compute(conn, &member, NOW))
            .unwrap();
        assert_eq!(
            shared.tier.as_deref(),
            Some("family"),
            "a member shares the holder's plan"
        );
        assert_eq!(shared.household, Some(holder));
        let figures = store.run_blocking(|conn| Figures::load(conn, NOW)).unwrap();
        assert_eq!(figures.people, 61);
        assert_eq!(figures.tiers.len(), 4);
        let sign_ins: i64 = figures.sign_ins.iter().map(|(_, _, count)| count).sum();
        assert_eq!(sign_ins, i64::try_from(first.sign_ins_created).unwrap());
        let grants: i64 = figures.grants_per_product.iter().map(|(_, count)| count).sum();
        assert_eq!(grants, i64::try_from(first.grants_created).unwrap());
        let current: i64 = figures.subscriptions.iter().map(|(_, _, count)| count).sum();
        assert!(current > 0 && current < i64::try_from(first.subscriptions_created).unwrap());
        assert!(
            figures
                .subscriptions
                .iter()
                .all(|(_, status, _)| status != "canceled")
        );
        // The seeded sessions let nobody in.
        let live = store
            .run_blocking(|conn| {
                let mut live = 0;
                for number in 1..=60 {
                    let person = users::find_by_email(conn, &email(number))?.unwrap();
                    live += sessions::list_live_for_user(conn, &person.id, NOW)?.len();
                }
                Ok::<_, crate::foundation::store::StoreError>(live)
            })
            .unwrap();
        assert_eq!(live, 0);

        let again = seed(
            &store,
            &clock,
            Options {
                people: 70,
                admin_password: None,
                ..options
            },
        )
        .unwrap();
        assert_eq!((again.tiers_created, again.products_created), (0, 0));
        assert!(!again.admin_created && again.admin_password.is_none());
        assert_eq!((again.people_created, again.people_existing), (10, 60));
        let people = store.run_blocking(users::count).unwrap();
        assert_eq!(people, 71);
    }

    #[test]
    fn a_generated_admin_password_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.db").display());
        let store = Store::open(&url, 1).unwrap();
        let options = Options {
            people: 0,
            admin_password: None,
            session_max_secs: DAY,
        };
        let seeded = seed(&store, &Clock::manual(NOW), options).unwrap();
        let password = seeded.admin_password.clone().unwrap();
        assert!(password.len() >= 20);
        assert!(seeded.summary().contains(&password));
        let admin = store
            .run_blocking(|conn| users::find_by_email(conn, ADMIN_EMAIL))
            .unwrap()
            .unwrap();
        assert!(admin.is_admin);
        assert!(hashing::verify_password(
            &password,
            admin.password_hash.as_deref().unwrap()
        ));
    }
}
