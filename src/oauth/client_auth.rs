//! Client authentication with a cache keyed by a hash of the presented credentials, so the
//! hot endpoints authenticate a known client without a database round trip.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::crypto::hashing::{secret_matches, sha256};
use crate::http::errors::OAuthError;
use crate::http::form::Presented;
use crate::store::Store;
use crate::store::clients::{self, Client};

/// How long a successful authentication is reused before the client is read again; changes
/// to clients also clear the cache through the change feed.
const CACHE_TTL: Duration = Duration::from_secs(300);

pub struct ClientAuthenticator {
    verified: Cache<[u8; 32], Arc<Client>>,
}

impl Default for ClientAuthenticator {
    fn default() -> Self {
        Self {
            verified: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }
}

fn credentials_key(client_id: &str, secret: &str) -> [u8; 32] {
    let mut material = Vec::with_capacity(client_id.len() + secret.len() + 1);
    material.extend_from_slice(client_id.as_bytes());
    material.push(0);
    material.extend_from_slice(secret.as_bytes());
    sha256(&material)
}

impl ClientAuthenticator {
    /// Authenticates a confidential client. Public clients and unauthenticated requests are
    /// refused with `invalid_client`.
    pub async fn confidential(&self, store: &Store, presented: Presented) -> Result<Arc<Client>, OAuthError> {
        let (client_id, secret) = match presented {
            Presented::Secret { client_id, secret } => (client_id, secret),
            Presented::Public { .. } | Presented::Nothing => {
                return Err(OAuthError::invalid_client("client authentication is required"));
            }
        };
        let key = credentials_key(&client_id, &secret);
        if let Some(client) = self.verified.get(&key) {
            return Ok(client);
        }
        let lookup_id = client_id.clone();
        let found = store.run(move |conn| clients::find(conn, &lookup_id)).await?;
        let client = found
            .filter(|client| client.disabled_at.is_none())
            .filter(|client| {
                client
                    .secret_hash
                    .as_deref()
                    .is_some_and(|hash| secret_matches(&secret, hash))
            })
            .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
        let client = Arc::new(client);
        self.verified.insert(key, Arc::clone(&client));
        Ok(client)
    }

    /// Forgets every cached authentication: a client changed somewhere.
    pub fn invalidate_all(&self) {
        self.verified.invalidate_all();
    }
}
