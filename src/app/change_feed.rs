//! Keeps an instance's in-memory views (revoked tokens, cached client authentications,
//! signing keys, entitlements) in step with changes other instances make to the shared
//! database, by following the change feed a few times a second. The feed's position
//! ([`changes::Position`]) follows commit order, so no change is missed however long its
//! transaction stayed open.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::core::Core;
use crate::foundation::crypto::keyring::KeyringError;
use crate::foundation::store::changes::{self, ChangeEvent, ChangeKind, Position};
use crate::foundation::store::{StoreError, revocations};

/// Keys are reloaded and expired revocations forgotten this often.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// The database's own housekeeping: expired revocations and old change events.
const DATABASE_PRUNE_EVERY: Duration = Duration::from_secs(600);
const EVENT_RETENTION_SECS: i64 = 3600;

/// Where an instance is in the change feed.
pub(crate) struct Follower {
    position: Position,
    /// Events applied that a later read may return again, by id, with their transaction.
    applied: HashMap<i64, i64>,
    /// A key change was seen and the reload it needs has not succeeded yet.
    keys_stale: bool,
}

impl Follower {
    /// A follower at `position` that has already applied `visible`.
    pub(crate) fn at(position: Position, visible: &[ChangeEvent]) -> Self {
        let mut follower = Self {
            position,
            applied: HashMap::new(),
            keys_stale: false,
        };
        follower.remember(visible);
        follower
    }

    /// Events not applied yet, remembering them as applied; then moves to `next`.
    fn take_new(&mut self, events: Vec<ChangeEvent>, next: Position) -> Vec<ChangeEvent> {
        let fresh: Vec<ChangeEvent> = events
            .into_iter()
            .filter(|event| !self.applied.contains_key(&event.id))
            .collect();
        self.position = next;
        self.remember(&fresh);
        let position = self.position;
        self.applied.retain(|_, tx| position.may_return(*tx));
        fresh
    }

    fn remember(&mut self, events: &[ChangeEvent]) {
        for event in events {
            if self.position.may_return(event.tx) {
                self.applied.insert(event.id, event.tx);
            }
        }
    }
}

/// Loads what a starting instance needs from the database: the feed position first, then
/// the revocations, so nothing revoked in between is missed.
pub(crate) async fn prime(state: &Arc<Core>) -> Result<Follower, StoreError> {
    let now = state.clock.now();
    let (position, visible, revoked) = state
        .store
        .patient()
        .run(move |conn| {
            let (position, visible) = changes::start(conn)?;
            Ok::<_, StoreError>((position, visible, revocations::unexpired(conn, now)?))
        })
        .await?;
    state.revoked.extend(revoked);
    Ok(Follower::at(position, &visible))
}

pub(crate) fn spawn(state: Arc<Core>, mut follower: Follower) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(state.config.sync_interval_ms.max(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_maintenance = tokio::time::Instant::now();
        let mut last_prune = tokio::time::Instant::now();
        loop {
            ticker.tick().await;
            if let Err(error) = poll(&state, &mut follower).await {
                tracing::warn!(%error, "reading the change feed failed");
            }
            if last_maintenance.elapsed() >= MAINTENANCE_EVERY {
                last_maintenance = tokio::time::Instant::now();
                maintain(&state).await;
            }
            if last_prune.elapsed() >= DATABASE_PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                prune_database(&state).await;
            }
        }
    })
}

/// Applies every change made since the last poll.
pub(crate) async fn poll(state: &Arc<Core>, follower: &mut Follower) -> Result<(), KeyringError> {
    let now = state.clock.now();
    let position = follower.position;
    // Ahead of the queue: a burst of requests must not hold back other instances' changes.
    let (events, next) = state
        .store
        .run_urgent(move |conn| changes::read(conn, position))
        .await?;
    let fresh = follower.take_new(events, next);
    for event in fresh {
        match event.kind {
            ChangeKind::TokenRevoked => {
                let expires_at = event
                    .expires_at
                    .unwrap_or(now + state.config.longest_token_lifetime_secs());
                state.revoked.insert(event.subject, expires_at);
            }
            ChangeKind::KeysChanged => follower.keys_stale = true,
            ChangeKind::EntitlementsChanged => state.entitlements.announce(&event.subject),
            ChangeKind::CatalogChanged => state.entitlements.clear(),
            ChangeKind::ClientChanged => state.clients.forget(&event.subject),
            ChangeKind::StreamEnded => state.streams.forget([&event.subject]),
        }
    }
    if follower.keys_stale {
        state.reload_keys().await?;
        follower.keys_stale = false;
    }
    Ok(())
}

async fn maintain(state: &Arc<Core>) {
    let now = state.clock.now();
    state.revoked.prune(now);
    state.verified_tokens.prune(now);
    if let Err(error) = state.reload_keys().await {
        tracing::warn!(%error, "reloading signing keys failed");
    }
    let swept = state
        .store
        .run(move |conn| crate::domain::entitlements::manage::sweep_schedule(conn, now))
        .await;
    if let Err(error) = swept {
        tracing::warn!(%error, "announcing scheduled entitlement changes failed");
    }
}

/// Delivered and given-up webhook deliveries are kept this long for inspection.
const DELIVERY_RETENTION_SECS: i64 = 7 * 24 * 3600;

async fn prune_database(state: &Arc<Core>) {
    let now = state.clock.now();
    let pruned = state
        .store
        .run(move |conn| {
            revocations::prune(conn, now)?;
            crate::foundation::store::issued_tokens::prune(conn, now)?;
            crate::foundation::store::shared_limits::prune(conn, now)?;
            crate::foundation::store::links::prune_links(conn, now)?;
            crate::foundation::store::households::prune_invitations(conn, now)?;
            crate::domain::webhooks::prune(conn, now - DELIVERY_RETENTION_SECS)?;
            changes::prune(conn, now - EVENT_RETENTION_SECS)
        })
        .await;
    if let Err(error) = pruned {
        tracing::warn!(%error, "pruning the database failed");
    }
}
