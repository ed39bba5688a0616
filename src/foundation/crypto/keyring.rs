//! The in-memory keyring every instance signs and verifies with, and the database work that
//! keeps it: first-start generation, loading, rotation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::json;

use crate::foundation::crypto::keys::{KeyError, MasterKey, SigningAlg, SigningKey};
use crate::foundation::store::{self, DbConnection, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl From<diesel::result::Error> for KeyringError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

/// The keys an instance currently knows: the active one per algorithm and every key still
/// published, with the JWKS document rendered once.
pub struct KeySet {
    keys: HashMap<String, Arc<SigningKey>>,
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    jwks: Arc<str>,
}

impl KeySet {
    /// Builds the set from keys ordered oldest first: the newest unretired key of each
    /// algorithm is the active one.
    pub(crate) fn new(keys: Vec<SigningKey>) -> Self {
        let mut by_kid = HashMap::new();
        let mut active = HashMap::new();
        let mut published = Vec::new();
        for key in keys {
            let key = Arc::new(key);
            published.push(key.public_jwk.clone());
            if key.retired_at.is_none() {
                active.insert(key.alg, Arc::clone(&key));
            }
            by_kid.insert(key.kid.clone(), key);
        }
        let jwks = json!({ "keys": published }).to_string().into();
        Self {
            keys: by_kid,
            active,
            jwks,
        }
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.get(kid)
    }

    pub fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.active.get(&alg)
    }

    pub(crate) fn jwks(&self) -> Arc<str> {
        Arc::clone(&self.jwks)
    }
}

/// Shared, swappable view of the current [`KeySet`]; readers never wait on a reload.
pub struct Keyring {
    current: RwLock<(u64, Arc<KeySet>)>,
    next_load: AtomicU64,
}

impl Keyring {
    pub(crate) fn new(set: KeySet) -> Self {
        Self {
            current: RwLock::new((0, Arc::new(set))),
            next_load: AtomicU64::new(1),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard.1),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().1),
        }
    }

    /// A ticket to take before reading keys from the database. Loads may finish out of order
    /// (the change feed and a maintenance tick can reload together); [`Keyring::replace`]
    /// keeps the set of the load that took its ticket last.
    pub(crate) fn begin_load(&self) -> u64 {
        self.next_load.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn replace(&self, ticket: u64, set: KeySet) {
        let install = |current: &mut (u64, Arc<KeySet>)| {
            if ticket > current.0 {
                *current = (ticket, Arc::new(set));
            }
        };
        match self.current.write() {
            Ok(mut guard) => install(&mut guard),
            Err(poisoned) => install(&mut poisoned.into_inner()),
        }
    }
}

/// How much longer than the token lifetime a retired key stays published: an instance may go
/// on signing with it until it reloads (the change feed, or at worst the minute's maintenance),
/// and clocks of instances differ a little.
const ROTATION_MARGIN_SECS: i64 = 120;

fn generate_all(master: &MasterKey, now: i64) -> Result<Vec<store::keys::StoredKey>, KeyError> {
    SigningAlg::ALL
        .into_iter()
        .map(|alg| SigningKey::generate(alg, master, now).map(|(_, stored)| stored))
        .collect()
}

/// On first start, generates one key per algorithm. Keys already there are kept.
pub(crate) fn ensure_keys(conn: &mut DbConnection, master: &MasterKey, now: i64) -> Result<(), KeyringError> {
    if store::keys::count_all(conn)? > 0 {
        return Ok(());
    }
    let fresh = generate_all(master, now)?;
    store::keys::insert_if_empty(conn, &fresh)?;
    Ok(())
}

/// Loads every key still published at `now`.
pub(crate) fn load(conn: &mut DbConnection, master: &MasterKey, now: i64) -> Result<KeySet, KeyringError> {
    let stored = store::keys::published(conn, now)?;
    let keys = stored
        .iter()
        .map(|row| SigningKey::from_stored(row, master))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KeySet::new(keys))
}

/// Makes a new key per algorithm active. The keys they replace stay published for
/// `publish_for_secs`, the longest lifetime of a token they may have signed.
/// Returns the new key ids.
pub fn rotate(
    conn: &mut DbConnection,
    master: &MasterKey,
    now: i64,
    publish_for_secs: i64,
) -> Result<Vec<String>, KeyringError> {
    let fresh = generate_all(master, now)?;
    let publish_until = now
        .saturating_add(publish_for_secs)
        .saturating_add(ROTATION_MARGIN_SECS);
    store::keys::activate(conn, &fresh, now, publish_until)?;
    Ok(fresh.into_iter().map(|key| key.kid).collect())
}

/// What withdrawing a key came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Withdrawal {
    /// Out of the JWKS: tokens it signed stop verifying once instances reload (within a second).
    Withdrawn,
    /// The key signs its algorithm's new tokens: rotate first, then withdraw it.
    Active { alg: String },
    /// No published key has this id.
    NotPublished,
}

/// Withdraws the published key `kid` from the JWKS at once, as when it may have leaked; the
/// active key of an algorithm is refused, since nothing would sign that algorithm's tokens.
pub(crate) fn withdraw(conn: &mut DbConnection, kid: &str, now: i64) -> Result<Withdrawal, KeyringError> {
    let Some(key) = published(conn, now)?.into_iter().find(|key| key.kid == kid) else {
        return Ok(Withdrawal::NotPublished);
    };
    if key.retired_at.is_none() {
        return Ok(Withdrawal::Active { alg: key.alg });
    }
    if store::keys::withdraw(conn, kid, now)? {
        Ok(Withdrawal::Withdrawn)
    } else {
        Ok(Withdrawal::NotPublished)
    }
}

/// A published key as administrators see it: no private part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PublishedKey {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    /// When a newer key took over signing; `None` for the active key of its algorithm.
    pub retired_at: Option<i64>,
    /// When a retired key leaves the JWKS.
    pub publish_until: Option<i64>,
}

/// Every key published at `now`, oldest first, as [`load`] reads them but without unsealing.
pub(crate) fn published(conn: &mut DbConnection, now: i64) -> Result<Vec<PublishedKey>, KeyringError> {
    Ok(store::keys::published(conn, now)?
        .into_iter()
        .map(|key| PublishedKey {
            kid: key.kid,
            alg: key.alg,
            created_at: key.created_at,
            retired_at: key.retired_at,
            publish_until: key.publish_until,
        })
        .collect())
}
