//! People's entitlements held in memory for introspection, with their JSON members already
//! rendered. An entry is dropped when the change feed says the person's entitlements (or the
//! catalogue) changed, and ignored once the clock passes its `changes_at`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use serde::Serialize;

use crate::domain::core::Core;
use crate::domain::entitlements::{Entitlements, compute};
use crate::foundation::store::StoreError;

const SHARDS: usize = 16;

/// A person's entitlements and the members they add to an introspection answer.
pub(crate) struct Cached {
    pub entitlements: Entitlements,
    /// `"tier":…,"features":[…],"ppv":[…],"ent_ver":N` — no braces, to splice into an answer.
    pub introspection_members: Bytes,
}

#[derive(Serialize)]
struct Members<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tier: Option<&'a str>,
    features: &'a [String],
    ppv: Vec<&'a str>,
    ent_ver: i64,
}

impl Cached {
    fn new(entitlements: Entitlements) -> Result<Self, serde_json::Error> {
        let rendered = serde_json::to_vec(&Members {
            tier: entitlements.tier.as_deref(),
            features: &entitlements.features,
            ppv: entitlements
                .ppv
                .iter()
                .map(|active| active.product.as_str())
                .collect(),
            ent_ver: entitlements.ent_ver,
        })?;
        // An object without its braces: `{…}` minus the first and last byte.
        let members = rendered
            .get(1..rendered.len().saturating_sub(1))
            .unwrap_or_default()
            .to_vec();
        Ok(Self {
            entitlements,
            introspection_members: Bytes::from(members),
        })
    }

    fn is_fresh(&self, now: i64) -> bool {
        self.entitlements
            .changes_at
            .is_none_or(|changes_at| now < changes_at)
    }
}

type Shard = RwLock<HashMap<String, Arc<Cached>, foldhash::fast::RandomState>>;

pub struct EntitlementCache {
    shards: Vec<Shard>,
    hasher: foldhash::fast::FixedState,
    /// Bumped by every invalidation: a computation that started before one must not store
    /// its (possibly stale) answer.
    generation: AtomicU64,
    capacity_per_shard: usize,
}

impl EntitlementCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: foldhash::fast::FixedState::default(),
            generation: AtomicU64::new(0),
            capacity_per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, user_id: &str) -> &Shard {
        let index = usize::try_from(self.hasher.hash_one(user_id) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    fn fresh(&self, user_id: &str, now: i64) -> Option<Arc<Cached>> {
        let shard = self.shard(user_id).read().unwrap_or_else(PoisonError::into_inner);
        shard.get(user_id).filter(|cached| cached.is_fresh(now)).cloned()
    }

    fn store(&self, generation: u64, user_id: &str, cached: Arc<Cached>) {
        let mut shard = self
            .shard(user_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if shard.len() >= self.capacity_per_shard {
            shard.clear();
        }
        shard.insert(user_id.to_owned(), cached);
    }

    /// Forgets one person's entitlements.
    pub(crate) fn invalidate(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.shard(user_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(user_id);
    }

    /// Forgets everyone's: a tier or product changed.
    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            shard.write().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

/// A person's entitlements now: from memory when fresh, else from the database.
pub(crate) async fn current(state: &Arc<Core>, user_id: &str) -> Result<Arc<Cached>, StoreError> {
    let cache = &state.entitlements;
    let now = state.clock.now();
    if let Some(cached) = cache.fresh(user_id, now) {
        return Ok(cached);
    }
    let generation = cache.generation.load(Ordering::SeqCst);
    let lookup = user_id.to_owned();
    let entitlements = state.store.run(move |conn| compute(conn, &lookup, now)).await?;
    let cached = Arc::new(Cached::new(entitlements).map_err(|error| StoreError::Corrupt(error.to_string()))?);
    cache.store(generation, user_id, Arc::clone(&cached));
    Ok(cached)
}
