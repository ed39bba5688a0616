//! Recognising this server's access tokens: signature checks answered from memory after the
//! first sight of a token.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::Serialize;

use crate::domain::core::Core;
use crate::foundation::crypto::jwt::{self, AccessTokenClaims, Rejection};

/// Largest token worth checking; anything longer is not one of ours.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Tolerance for tokens issued by an instance whose clock runs slightly ahead.
const CLOCK_SKEW_SECS: i64 = 60;
const SHARDS: usize = 16;

/// A token whose signature, type and issuer were checked, with its introspection answer
/// rendered once.
pub(crate) struct VerifiedToken {
    /// The key that signed it: the answer holds only while that key is published.
    pub kid: String,
    pub claims: AccessTokenClaims,
    /// The introspection answer; for a person's token without its closing brace, so the
    /// person's entitlements as they are now can follow.
    pub introspection: Bytes,
    /// Issued on a person's behalf (not to a client acting for itself).
    pub person: bool,
}

#[derive(Serialize)]
struct ActiveToken<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    token_type: &'static str,
    exp: i64,
    iat: i64,
    sub: &'a str,
    aud: &'a str,
    iss: &'a str,
    jti: &'a str,
}

impl VerifiedToken {
    fn new(kid: String, claims: AccessTokenClaims) -> Result<Self, serde_json::Error> {
        let introspection = serde_json::to_vec(&ActiveToken {
            active: true,
            scope: &claims.scope,
            client_id: &claims.client_id,
            token_type: "Bearer",
            exp: claims.exp,
            iat: claims.iat,
            sub: &claims.sub,
            aud: &claims.aud,
            iss: &claims.iss,
            jti: &claims.jti,
        })?;
        // Client credentials tokens name the client as their subject; anything else is a
        // person's.
        let person = claims.sub != claims.client_id;
        let introspection = if person {
            introspection
                .get(..introspection.len().saturating_sub(1))
                .unwrap_or_default()
                .to_vec()
        } else {
            introspection
        };
        Ok(Self {
            kid,
            claims,
            introspection: Bytes::from(introspection),
            person,
        })
    }
}

type Shard = RwLock<HashMap<Box<str>, Arc<VerifiedToken>, foldhash::fast::FixedState>>;

/// Verified tokens by their exact text. Safe to cache: signature, type and issuer depend only
/// on the bytes and the published keys. Sharded so workers rarely meet on a lock; bounded,
/// and emptied of expired tokens by [`VerifiedTokens::prune`].
pub struct VerifiedTokens {
    shards: Vec<Shard>,
    hasher: foldhash::fast::FixedState,
    per_shard: usize,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: u64) -> Self {
        let per_shard = (usize::try_from(capacity).unwrap_or(usize::MAX) / SHARDS).max(1);
        let hasher = foldhash::fast::FixedState::with_seed(u64::from_le_bytes(
            crate::foundation::crypto::random::bytes(),
        ));
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(hasher.clone())))
                .collect(),
            hasher,
            per_shard,
        }
    }

    fn shard(&self, token: &str) -> Option<&Shard> {
        let index = usize::try_from(self.hasher.hash_one(token) % SHARDS as u64).unwrap_or(0);
        self.shards.get(index)
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        let shard = self
            .shard(token)?
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shard.get(token).cloned()
    }

    fn insert(&self, token: &str, verified: Arc<VerifiedToken>, now: i64) {
        let Some(shard) = self.shard(token) else { return };
        let mut shard = shard.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.len() >= self.per_shard {
            shard.retain(|_, entry| entry.claims.exp > now);
        }
        if shard.len() < self.per_shard {
            shard.insert(token.into(), verified);
        }
    }

    /// Forgets tokens that have expired by `now`.
    pub(crate) fn prune(&self, now: i64) {
        for shard in &self.shards {
            shard
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, entry| entry.claims.exp > now);
        }
    }
}

/// The verified token if this server signed `token` as an access token. Says nothing about
/// expiry or revocation, which change with time.
pub(crate) async fn verify(state: &Arc<Core>, token: &str) -> Result<Arc<VerifiedToken>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::Malformed);
    }
    if let Some(verified) = state.verified_tokens.get(token)
        && state.keyring.current().get(&verified.kid).is_some()
    {
        return Ok(verified);
    }
    let mut outcome = jwt::verify_access_token(&state.keyring.current(), &state.issuer, token);
    if matches!(outcome, Err(Rejection::UnknownKey)) && state.reload_keys_for_unknown_kid().await {
        outcome = jwt::verify_access_token(&state.keyring.current(), &state.issuer, token);
    }
    let jwt::Verified { kid, claims } = outcome?;
    // No token of ours lives longer than the configured lifetime: a longer one was signed
    // by someone holding a key, not by this server's token endpoint.
    if claims.exp.saturating_sub(claims.iat) > state.config.access_token_ttl_secs {
        return Err(Rejection::Malformed);
    }
    let verified = Arc::new(VerifiedToken::new(kid, claims).map_err(|_| Rejection::Malformed)?);
    state
        .verified_tokens
        .insert(token, Arc::clone(&verified), state.clock.now());
    Ok(verified)
}

/// Why a presented bearer token cannot be used; resources answer both with `invalid_token`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unusable {
    Invalid,
    ExpiredOrRevoked,
}

impl Unusable {
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Invalid => "the access token is not valid",
            Self::ExpiredOrRevoked => "the access token has expired or was revoked",
        }
    }
}

/// A bearer token a resource (userinfo, the admin API) may act on: ours, unexpired, unrevoked.
pub(crate) async fn usable(state: &Arc<Core>, token: &str) -> Result<Arc<VerifiedToken>, Unusable> {
    let verified = verify(state, token).await.map_err(|_| Unusable::Invalid)?;
    if is_live(state, &verified.claims, state.clock.now()) {
        Ok(verified)
    } else {
        Err(Unusable::ExpiredOrRevoked)
    }
}

/// Whether a verified token is usable at `now`.
pub(crate) fn is_live(state: &Core, claims: &AccessTokenClaims, now: i64) -> bool {
    claims.exp > now && claims.iat <= now + CLOCK_SKEW_SECS && !state.revoked.is_revoked(&claims.jti)
}
