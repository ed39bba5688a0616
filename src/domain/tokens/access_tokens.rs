//! Recognising this server's access tokens: signature checks answered from memory after the
//! first sight of a token.

use std::sync::Arc;

use bytes::Bytes;
use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};
use serde::Serialize;

use crate::domain::core::Core;
use crate::foundation::crypto::hashing;
use crate::foundation::crypto::jwt::{self, AccessTokenClaims, Rejection};
use crate::foundation::crypto::keyring::KeySet;

/// Largest token worth checking; anything longer is not one of ours.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Tolerance for tokens issued by an instance whose clock runs slightly ahead.
const CLOCK_SKEW_SECS: i64 = 60;

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

/// Verified tokens by the SHA-256 of their exact text (a quarter of the memory of the text
/// itself, and no two tokens share one). Safe to cache: signature, type and issuer depend
/// only on the bytes and the published keys. Bounded with S3-FIFO eviction, so a full cache
/// keeps taking new tokens (a token seen once leaves first); expired ones are pruned by
/// [`VerifiedTokens::prune`].
pub struct VerifiedTokens {
    tokens: Cache<[u8; 32], Arc<VerifiedToken>, UnitWeighter, foldhash::fast::RandomState>,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            tokens: Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                DefaultLifecycle::default(),
            ),
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        self.tokens.get(&hashing::sha256(token.as_bytes()))
    }

    fn insert(&self, token: &str, verified: Arc<VerifiedToken>) {
        self.tokens.insert(hashing::sha256(token.as_bytes()), verified);
    }

    /// Forgets tokens that have expired by `now`.
    pub(crate) fn prune(&self, now: i64) {
        self.tokens.retain(|_, entry| entry.claims.exp > now);
    }
}

/// Lets this instance's introspection know a token it just signed with `keys`, so the
/// token's first introspection here needs no signature check.
pub(crate) fn remember_issued(state: &Core, keys: &KeySet, token: &str, claims: AccessTokenClaims) {
    let Some(key) = keys.active(state.access_token_alg) else {
        return;
    };
    if let Ok(verified) = VerifiedToken::new(key.kid.clone(), claims) {
        state.verified_tokens.insert(token, Arc::new(verified));
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
    state.verified_tokens.insert(token, Arc::clone(&verified));
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
    claims.exp > now
        && claims.iat <= now + CLOCK_SKEW_SECS
        && !state.revoked.is_token_revoked(&claims.jti, &claims.client_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(jti: &str) -> Arc<VerifiedToken> {
        let claims = AccessTokenClaims {
            iss: "https://usher.example".into(),
            sub: "service".into(),
            aud: "https://usher.example".into(),
            exp: 2_000,
            iat: 1_000,
            jti: jti.into(),
            client_id: "service".into(),
            scope: "usher:entitlements".into(),
            profile: None,
            maturity: None,
        };
        Arc::new(VerifiedToken::new("kid".into(), claims).unwrap())
    }

    #[test]
    fn a_full_cache_keeps_taking_new_tokens() {
        let cache = VerifiedTokens::new(100);
        for token in 0..1_000 {
            cache.insert(&format!("token-{token}"), verified(&token.to_string()));
        }
        assert!(cache.get("token-999").is_some(), "the newest token is held");
        assert!(cache.tokens.len() <= 100);
    }

    #[test]
    fn pruning_forgets_expired_tokens_only() {
        let cache = VerifiedTokens::new(100);
        cache.insert("token", verified("1"));
        cache.prune(1_999);
        assert!(cache.get("token").is_some());
        cache.prune(2_000);
        assert!(cache.get("token").is_none());
    }
}
