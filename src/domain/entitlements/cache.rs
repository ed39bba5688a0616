//! People's entitlements held in memory for introspection, with their JSON members already
//! rendered. An entry stops being used when this instance changes the person's entitlements
//! (or the catalogue), or once the clock passes its `changes_at`. When the change feed
//! announces another instance's change, the entry answers for at most [`REFRESH_GRACE`] more
//! while one read of the new entitlements runs, so introspection does not wait for it. An
//! entry is kept as the person's last known entitlements for when the database is away.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle, EntryAction, EntryResult};
use serde::Serialize;
use tokio::time::Instant;

use crate::domain::core::Core;
use crate::domain::entitlements::{Entitlements, ProfileCeiling, compute};
use crate::foundation::store::StoreError;

/// Invalidation counters, one per bucket of people: a change to one person discards only the
/// computations in flight for people of the same bucket (one in 4,096), never everyone's.
const EPOCH_BUCKETS: usize = 4096;

/// How long a person's previous entitlements keep answering once another instance's change
/// to them is announced, while this instance reads the new ones. A change is applied here at
/// most this long after the change feed brings it.
pub(crate) const REFRESH_GRACE: Duration = Duration::from_millis(250);

/// A person's entitlements and the members they add to an introspection answer.
pub(crate) struct Cached {
    pub entitlements: Entitlements,
    /// `"tier":…,"features":[…],"ppv":[…],"ent_ver":N,"max_streams":N` and, for a member of a
    /// household, `"household":"HOLDER"` — no braces, to splice into an answer.
    pub introspection_members: Bytes,
    /// `"profile":…,"maturity":…` for each of the account's profiles, by profile id.
    profile_members: HashMap<String, Bytes>,
    /// When this instance read them from the database.
    read_at: i64,
    /// The catalogue generation they were computed against.
    catalogue: u64,
    /// This instance changed the person after (or while) they were read.
    invalidated: AtomicBool,
    /// When another instance's change to the person was first announced here.
    announced_at: OnceLock<Instant>,
    /// A read of the new entitlements is under way.
    refreshing: AtomicBool,
    /// For a member of a household: the holder, and their invalidation counter when the
    /// member was read. A change to the holder moves it, and the member's entry is stale with
    /// the holder's, on the instance that made the change at once.
    holder_epoch: Option<(String, u64)>,
}

#[derive(Serialize)]
struct Members<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<&'a str>,
    features: &'a [String],
    ppv: Vec<&'a str>,
    ent_ver: i64,
    max_streams: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    household: Option<&'a str>,
}

#[derive(Serialize)]
struct ProfileMembers<'a> {
    profile: &'a str,
    maturity: &'a str,
}

/// An object's members: `{…}` minus the first and last byte, to splice into an answer.
fn without_braces(rendered: &[u8]) -> Bytes {
    Bytes::copy_from_slice(
        rendered
            .get(1..rendered.len().saturating_sub(1))
            .unwrap_or_default(),
    )
}

impl Cached {
    fn new(
        entitlements: Entitlements,
        read_at: i64,
        catalogue: u64,
        holder_epoch: Option<(String, u64)>,
    ) -> Result<Self, serde_json::Error> {
        let rendered = serde_json::to_vec(&Members {
            tier: entitlements.tier.as_deref(),
            features: &entitlements.features,
            ppv: entitlements
                .ppv
                .iter()
                .map(|active| active.product.as_str())
                .collect(),
            ent_ver: entitlements.ent_ver,
            max_streams: entitlements.max_streams,
            household: entitlements.household.as_deref(),
        })?;
        let mut profile_members = HashMap::with_capacity(entitlements.profiles.len());
        for profile in &entitlements.profiles {
            let profile_rendered = serde_json::to_vec(&ProfileMembers {
                profile: &profile.id,
                maturity: &profile.maturity,
            })?;
            profile_members.insert(profile.id.clone(), without_braces(&profile_rendered));
        }
        Ok(Self {
            introspection_members: without_braces(&rendered),
            profile_members,
            entitlements,
            read_at,
            catalogue,
            invalidated: AtomicBool::new(false),
            announced_at: OnceLock::new(),
            refreshing: AtomicBool::new(false),
            holder_epoch,
        })
    }

    /// `"profile":…,"maturity":…` for the account's profile `profile_id`, as it is now;
    /// `None` once the profile is deleted.
    pub(crate) fn profile_members(&self, profile_id: &str) -> Option<&Bytes> {
        self.profile_members.get(profile_id)
    }

    /// The account's profile `profile_id` as it is now.
    pub(crate) fn profile(&self, profile_id: &str) -> Option<&ProfileCeiling> {
        self.entitlements
            .profiles
            .iter()
            .find(|profile| profile.id == profile_id)
    }

    fn is_fresh(&self, now: i64) -> bool {
        self.entitlements
            .changes_at
            .is_none_or(|changes_at| now < changes_at)
    }
}

/// People's entitlements by person id: bounded with S3-FIFO eviction, one computation per
/// person at a time (single flight), invalidated person by person.
pub struct EntitlementCache {
    people: Cache<String, Arc<Cached>, UnitWeighter, foldhash::fast::RandomState>,
    epochs: Box<[AtomicU64]>,
    epoch_hasher: foldhash::fast::FixedState,
    /// Bumped when a tier or product changes: every entry read before is stale.
    catalogue: AtomicU64,
    /// How old last known entitlements may be to answer while the database is away.
    stale_max_secs: i64,
}

impl EntitlementCache {
    pub(crate) fn new(capacity: usize, stale_max_secs: i64) -> Self {
        let capacity = capacity.max(1);
        Self {
            people: Cache::with(
                capacity,
                u64::try_from(capacity).unwrap_or(u64::MAX),
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            ),
            epochs: (0..EPOCH_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            epoch_hasher: foldhash::fast::FixedState::default(),
            catalogue: AtomicU64::new(0),
            stale_max_secs,
        }
    }

    fn epoch(&self, user_id: &str) -> &AtomicU64 {
        let bucket = usize::try_from(self.epoch_hasher.hash_one(user_id) % EPOCH_BUCKETS as u64).unwrap_or(0);
        &self.epochs[bucket]
    }

    /// Whether an entry may answer at `now`: no change made or announced since it was read,
    /// and the clock has not reached a change it scheduled.
    fn usable(&self, cached: &Cached, now: i64) -> bool {
        cached.announced_at.get().is_none() && self.current_but_announced(cached, now)
    }

    /// [`Self::usable`], apart from announcements.
    fn current_but_announced(&self, cached: &Cached, now: i64) -> bool {
        !cached.invalidated.load(Ordering::SeqCst)
            && cached.catalogue == self.catalogue.load(Ordering::SeqCst)
            && cached
                .holder_epoch
                .as_ref()
                .is_none_or(|(holder, epoch)| self.epoch(holder).load(Ordering::SeqCst) == *epoch)
            && cached.is_fresh(now)
    }

    /// Whether last known entitlements may answer while the database is away.
    fn may_stand_in(&self, cached: &Cached, now: i64) -> bool {
        now.saturating_sub(cached.read_at) <= self.stale_max_secs && cached.is_fresh(now)
    }

    /// A person's entitlements in memory, if they may answer at `now`.
    pub(crate) fn find(&self, user_id: &str, now: i64) -> Found {
        let Some(cached) = self.people.get(user_id) else {
            return Found::Unusable;
        };
        if self.usable(&cached, now) {
            return Found::Current(cached);
        }
        let within_grace = cached
            .announced_at
            .get()
            .is_some_and(|announced| announced.elapsed() < REFRESH_GRACE);
        if within_grace && self.current_but_announced(&cached, now) {
            let refresh = !cached.refreshing.swap(true, Ordering::SeqCst);
            return Found::Previous { cached, refresh };
        }
        Found::Unusable
    }

    /// Reads a person's entitlements with `load` and puts them in place of the previous ones,
    /// which answer meanwhile. After a change made or announced during the read, the new
    /// entry does not answer: the next lookup reads again.
    pub(crate) async fn refresh(
        &self,
        user_id: &str,
        now: i64,
        load: impl Future<Output = Result<Entitlements, StoreError>>,
    ) {
        let epoch = self.epoch(user_id);
        let epoch_before = epoch.load(Ordering::SeqCst);
        let catalogue = self.catalogue.load(Ordering::SeqCst);
        let previous = self.people.peek(user_id);
        let fresh = load.await.ok().and_then(|entitlements| {
            let holder_epoch = self.holder_epoch(&entitlements);
            Cached::new(entitlements, now, catalogue, holder_epoch).ok()
        });
        let Some(fresh) = fresh else {
            if let Some(previous) = previous {
                previous.refreshing.store(false, Ordering::SeqCst);
            }
            return;
        };
        let fresh = Arc::new(fresh);
        self.people.insert(user_id.to_owned(), Arc::clone(&fresh));
        // Checked after the insert, as in `get_or_load`.
        if epoch.load(Ordering::SeqCst) != epoch_before {
            fresh.invalidated.store(true, Ordering::SeqCst);
        }
    }

    fn holder_epoch(&self, entitlements: &Entitlements) -> Option<(String, u64)> {
        entitlements
            .household
            .as_ref()
            .map(|holder| (holder.clone(), self.epoch(holder).load(Ordering::SeqCst)))
    }

    /// A person's entitlements at `now`: from memory when usable, else from `load`, which runs
    /// once per person however many requests ask at the same moment. While the database is
    /// unreachable, the last known entitlements answer if they are recent enough.
    pub(crate) async fn get_or_load(
        &self,
        user_id: &str,
        now: i64,
        load: impl Future<Output = Result<Entitlements, StoreError>>,
    ) -> Result<Arc<Cached>, StoreError> {
        if let Some(cached) = self.people.get(user_id)
            && self.usable(&cached, now)
        {
            return Ok(cached);
        }
        let epoch = self.epoch(user_id);
        let epoch_before = epoch.load(Ordering::SeqCst);
        let catalogue = self.catalogue.load(Ordering::SeqCst);
        let occupied = |_: &String, cached: &mut Arc<Cached>| {
            if self.usable(cached, now) {
                EntryAction::Retain(Arc::clone(cached))
            } else {
                EntryAction::ReplaceWithGuard
            }
        };
        let (guard, last_known) = match self.people.entry_async(user_id, occupied).await {
            EntryResult::Retained(cached) => return Ok(cached),
            EntryResult::Replaced(guard, last_known) => (Some(guard), Some(last_known)),
            EntryResult::Vacant(guard) => (Some(guard), None),
            EntryResult::Removed(_, last_known) => (None, Some(last_known)),
            EntryResult::Timeout => (None, None),
        };
        match load.await {
            Ok(entitlements) => {
                let holder_epoch = self.holder_epoch(&entitlements);
                let cached = Arc::new(
                    Cached::new(entitlements, now, catalogue, holder_epoch)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                );
                if let Some(guard) = guard {
                    let _ = guard.insert(Arc::clone(&cached));
                }
                // Checked after the insert: an invalidation that came during the read either
                // moved the counter (seen here) or found the entry in place (and marked it).
                if epoch.load(Ordering::SeqCst) != epoch_before {
                    cached.invalidated.store(true, Ordering::SeqCst);
                }
                Ok(cached)
            }
            Err(error) => {
                let stand_in = last_known.filter(|last| self.may_stand_in(last, now));
                match (stand_in, guard) {
                    (Some(last), Some(guard)) if error.is_unavailable() => {
                        let _ = guard.insert(Arc::clone(&last));
                        Ok(last)
                    }
                    (Some(last), None) if error.is_unavailable() => Ok(last),
                    (Some(last), Some(guard)) => {
                        let _ = guard.insert(last);
                        Err(error)
                    }
                    _ => Err(error),
                }
            }
        }
    }

    /// Forgets one person's entitlements as an answer (they stay as the last known): this
    /// instance changed them.
    pub fn invalidate(&self, user_id: &str) {
        self.epoch(user_id).fetch_add(1, Ordering::SeqCst);
        if let Some(cached) = self.people.peek(user_id) {
            cached.invalidated.store(true, Ordering::SeqCst);
        }
    }

    /// Another instance changed one person's entitlements: the entry answers for at most
    /// [`REFRESH_GRACE`] more, while they are read again.
    pub(crate) fn announce(&self, user_id: &str) {
        self.epoch(user_id).fetch_add(1, Ordering::SeqCst);
        if let Some(cached) = self.people.peek(user_id) {
            let _ = cached.announced_at.set(Instant::now());
        }
    }

    /// Forgets everyone's: a tier or product changed.
    pub(crate) fn clear(&self) {
        self.catalogue.fetch_add(1, Ordering::SeqCst);
    }
}

/// What memory holds for a person.
pub(crate) enum Found {
    Current(Arc<Cached>),
    /// Another instance changed them a moment ago: these answer until the new ones are read,
    /// which the finder starts when `refresh` says so (one read at a time).
    Previous {
        cached: Arc<Cached>,
        refresh: bool,
    },
    Unusable,
}

/// A person's entitlements now: from memory when fresh, else from the database.
pub(crate) async fn current(state: &Arc<Core>, user_id: &str) -> Result<Arc<Cached>, StoreError> {
    let now = state.clock.now();
    match state.entitlements.find(user_id, now) {
        Found::Current(cached) => Ok(cached),
        Found::Previous { cached, refresh } => {
            if refresh {
                let (state, user_id) = (Arc::clone(state), user_id.to_owned());
                tokio::spawn(async move {
                    let load = read(&state, &user_id, now);
                    state.entitlements.refresh(&user_id, now, load).await;
                });
            }
            Ok(cached)
        }
        Found::Unusable => {
            let load = read(state, user_id, now);
            state.entitlements.get_or_load(user_id, now, load).await
        }
    }
}

/// Reads a person's entitlements ahead of the database queue: introspection waits on it.
fn read(
    state: &Arc<Core>,
    user_id: &str,
    now: i64,
) -> impl Future<Output = Result<Entitlements, StoreError>> + Send + 'static {
    let (state, user_id) = (Arc::clone(state), user_id.to_owned());
    async move {
        state
            .store
            .run_urgent(move |conn| compute(conn, &user_id, now))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    const NOW: i64 = 1_900_000_000;
    const STALE_MAX: i64 = 60;

    fn tier(name: &str) -> Entitlements {
        Entitlements {
            tier: Some(name.to_owned()),
            ..Entitlements::default()
        }
    }

    fn unavailable() -> StoreError {
        StoreError::Unavailable("connection refused".into())
    }

    /// A loader that counts its calls and answers `answer`.
    async fn counted(
        loads: &AtomicUsize,
        answer: Result<Entitlements, StoreError>,
    ) -> Result<Entitlements, StoreError> {
        loads.fetch_add(1, Ordering::SeqCst);
        answer
    }

    async fn tier_of(
        cache: &EntitlementCache,
        user: &str,
        now: i64,
        loads: &AtomicUsize,
        answer: &str,
    ) -> String {
        let cached = cache
            .get_or_load(user, now, counted(loads, Ok(tier(answer))))
            .await
            .unwrap();
        cached.entitlements.tier.clone().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_full_cache_keeps_taking_new_people() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        for person in 0..1_000 {
            tier_of(&cache, &format!("person-{person}"), NOW, &loads, "gold").await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1_000);
        tier_of(&cache, "person-999", NOW, &loads, "gold").await;
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1_000,
            "the newest person was answered from memory"
        );
        assert!(cache.people.len() <= 100);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_of_one_person_read_the_database_once() {
        let cache = Arc::new(EntitlementCache::new(100, STALE_MAX));
        let loads = Arc::new(AtomicUsize::new(0));
        let lookups: Vec<_> = (0..20)
            .map(|_| {
                let (cache, loads) = (Arc::clone(&cache), Arc::clone(&loads));
                tokio::spawn(async move {
                    let load = async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(tier("gold"))
                    };
                    cache.get_or_load("person", NOW, load).await.map(|_| ())
                })
            })
            .collect();
        for lookup in lookups {
            lookup.await.unwrap().unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidating_one_person_keeps_everyone_else_in_memory() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "changed", NOW, &loads, "gold").await;
        tier_of(&cache, "untouched", NOW, &loads, "gold").await;
        cache.invalidate("changed");
        assert_eq!(tier_of(&cache, "changed", NOW, &loads, "silver").await, "silver");
        assert_eq!(tier_of(&cache, "untouched", NOW, &loads, "silver").await, "gold");
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_change_announced_while_loading_is_not_lost() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        let read_before_the_change = async {
            let answer = counted(&loads, Ok(tier("gold"))).await;
            cache.invalidate("person");
            answer
        };
        cache
            .get_or_load("person", NOW, read_before_the_change)
            .await
            .unwrap();
        assert_eq!(tier_of(&cache, "person", NOW, &loads, "silver").await, "silver");
    }

    #[tokio::test]
    async fn a_change_made_here_is_never_answered_with_the_previous_entitlements() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.invalidate("person");
        assert!(matches!(cache.find("person", NOW), Found::Unusable));
    }

    #[tokio::test(start_paused = true)]
    async fn an_announced_change_answers_the_previous_entitlements_while_one_read_runs() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.announce("person");
        let Found::Previous { cached, refresh } = cache.find("person", NOW) else {
            panic!("the previous entitlements answer");
        };
        assert_eq!(cached.entitlements.tier.as_deref(), Some("gold"));
        assert!(refresh, "the first to find them starts the read");
        let Found::Previous { refresh, .. } = cache.find("person", NOW) else {
            panic!("the previous entitlements answer");
        };
        assert!(!refresh, "one read at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_grace_an_announced_change_is_read_before_answering() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.announce("person");
        tokio::time::advance(REFRESH_GRACE).await;
        assert!(matches!(cache.find("person", NOW), Found::Unusable));
        assert_eq!(tier_of(&cache, "person", NOW, &loads, "silver").await, "silver");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_puts_the_new_entitlements_in_place() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.announce("person");
        cache
            .refresh("person", NOW, counted(&loads, Ok(tier("silver"))))
            .await;
        let Found::Current(cached) = cache.find("person", NOW) else {
            panic!("the new entitlements are current");
        };
        assert_eq!(cached.entitlements.tier.as_deref(), Some("silver"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_made_during_a_refresh_is_read_before_the_next_answer() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.announce("person");
        let read_before_a_second_change = async {
            let answer = counted(&loads, Ok(tier("silver"))).await;
            cache.invalidate("person");
            answer
        };
        cache.refresh("person", NOW, read_before_a_second_change).await;
        assert!(matches!(cache.find("person", NOW), Found::Unusable));
        assert_eq!(
            tier_of(&cache, "person", NOW, &loads, "platinum").await,
            "platinum"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_failed_refresh_the_next_lookup_starts_another() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.announce("person");
        assert!(matches!(
            cache.find("person", NOW),
            Found::Previous { refresh: true, .. }
        ));
        cache
            .refresh("person", NOW, counted(&loads, Err(unavailable())))
            .await;
        assert!(matches!(
            cache.find("person", NOW),
            Found::Previous { refresh: true, .. }
        ));
    }

    #[tokio::test]
    async fn a_catalogue_change_makes_every_entry_stale() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.clear();
        assert_eq!(
            tier_of(&cache, "person", NOW, &loads, "platinum").await,
            "platinum"
        );
    }

    #[tokio::test]
    async fn recent_last_known_entitlements_answer_while_the_database_is_away() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.invalidate("person");
        let during_outage = cache
            .get_or_load("person", NOW + STALE_MAX, counted(&loads, Err(unavailable())))
            .await
            .unwrap();
        assert_eq!(during_outage.entitlements.tier.as_deref(), Some("gold"));
        assert_eq!(loads.load(Ordering::SeqCst), 2, "the database was asked first");
    }

    #[tokio::test]
    async fn older_last_known_entitlements_do_not_answer_while_the_database_is_away() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.invalidate("person");
        let during_outage = cache
            .get_or_load("person", NOW + STALE_MAX + 1, counted(&loads, Err(unavailable())))
            .await;
        assert!(during_outage.is_err_and(|error| error.is_unavailable()));
    }

    #[tokio::test]
    async fn a_query_error_is_not_answered_with_last_known_entitlements() {
        let cache = EntitlementCache::new(100, STALE_MAX);
        let loads = AtomicUsize::new(0);
        tier_of(&cache, "person", NOW, &loads, "gold").await;
        cache.invalidate("person");
        let corrupt = Err(StoreError::Corrupt("bad row".into()));
        assert!(
            cache
                .get_or_load("person", NOW, counted(&loads, corrupt))
                .await
                .is_err()
        );
    }
}
