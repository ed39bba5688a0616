//! Client authentication with a cache keyed by a hash of the presented credentials, so the
//! hot endpoints authenticate a known client without decoding, a database round trip or a
//! secret comparison.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::foundation::crypto::hashing::secret_matches;
use crate::foundation::store::Store;
use crate::foundation::store::clients::{self, Client};
use crate::web::errors::OAuthError;
use crate::web::form::{self, Form, Presented};

/// How long a successful authentication is reused before the client is read again. A new
/// secret or a disabled client is announced on the change feed
/// ([`crate::foundation::store::changes::ChangeKind::ClientChanged`]), and every instance
/// [`ClientAuthenticator::forget`]s the client.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// More distinct credentials than any deployment has clients; past it the cache starts over.
const CACHE_CAPACITY: usize = 10_000;

/// Successful authentications: the client and when it was read. A plain map under a lock that
/// is almost only read: one hash and one comparison per request.
#[derive(Default)]
pub struct ClientAuthenticator {
    verified: RwLock<HashMap<CredentialsHash, (Arc<Client>, Instant), foldhash::fast::RandomState>>,
}

type CredentialsHash = [u8; 32];

/// The cache key of what the request presents: the SHA-256 of the exact `Authorization`
/// header, or of the posted `client_id` and `client_secret`. `None` when it presents no
/// secret, or both kinds (which [`form::client_credentials`] refuses).
fn presented_key(request: &HttpRequest, form: &Form) -> Option<CredentialsHash> {
    let mut hasher = Sha256::new();
    match (
        request.headers().get(header::AUTHORIZATION),
        form.get("client_secret"),
    ) {
        (Some(authorization), None) => {
            hasher.update(b"header\0");
            hasher.update(authorization.as_bytes());
        }
        (None, Some(secret)) => {
            hasher.update(b"post\0");
            hasher.update(form.get("client_id")?.as_bytes());
            hasher.update(b"\0");
            hasher.update(secret.as_bytes());
        }
        _ => return None,
    }
    Some(hasher.finalize().into())
}

impl ClientAuthenticator {
    /// Identifies the client of a request that public clients may make too (authorization
    /// code and refresh token grants, revocation): a public client by its `client_id` alone,
    /// a confidential one by its secret.
    pub async fn any(
        &self,
        store: &Store,
        request: &HttpRequest,
        form: &Form<'_>,
    ) -> Result<Arc<Client>, OAuthError> {
        let Presented::Public { client_id } = form::client_credentials(request, form)? else {
            return self.confidential(store, request, form).await;
        };
        let found = store.run(move |conn| clients::find(conn, &client_id)).await?;
        let client = found
            .filter(|client| client.is_enabled())
            .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
        if !client.is_public() {
            return Err(OAuthError::invalid_client("client authentication is required"));
        }
        Ok(Arc::new(client))
    }

    /// Authenticates a confidential client. Public clients and unauthenticated requests are
    /// refused with `invalid_client`.
    pub async fn confidential(
        &self,
        store: &Store,
        request: &HttpRequest,
        form: &Form<'_>,
    ) -> Result<Arc<Client>, OAuthError> {
        let key = presented_key(request, form);
        if let Some(client) = key.and_then(|key| self.cached(&key))
            && form
                .get("client_id")
                .is_none_or(|posted| posted == client.client_id)
        {
            return Ok(client);
        }
        let (client_id, secret) = match form::client_credentials(request, form)? {
            Presented::Secret { client_id, secret } => (client_id, secret),
            Presented::Public { .. } | Presented::Nothing => {
                return Err(OAuthError::invalid_client("client authentication is required"));
            }
        };
        let lookup_id = client_id.clone();
        let found = store.run(move |conn| clients::find(conn, &lookup_id)).await?;
        let client = found
            .filter(|client| client.is_enabled())
            .filter(|client| {
                client
                    .secret_hash
                    .as_deref()
                    .is_some_and(|hash| secret_matches(&secret, hash))
            })
            .ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
        let client = Arc::new(client);
        if let Some(key) = key
            && is_canonical(request, &client_id, &secret)
        {
            self.remember(key, Arc::clone(&client));
        }
        Ok(client)
    }

    /// Drops every cached authentication of `client_id`: its secret changed or it was
    /// disabled, so its next request reads it again.
    pub fn forget(&self, client_id: &str) {
        let mut verified = self.verified.write().unwrap_or_else(PoisonError::into_inner);
        verified.retain(|_, (client, _)| client.client_id != client_id);
    }

    fn remember(&self, key: CredentialsHash, client: Arc<Client>) {
        let mut verified = self.verified.write().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= CACHE_CAPACITY {
            verified.retain(|_, (_, read_at)| read_at.elapsed() < CACHE_TTL);
        }
        if verified.len() < CACHE_CAPACITY {
            verified.insert(key, (client, Instant::now()));
        }
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Arc<Client>> {
        let verified = self.verified.read().unwrap_or_else(PoisonError::into_inner);
        verified
            .get(key)
            .filter(|(_, read_at)| read_at.elapsed() < CACHE_TTL)
            .map(|(client, _)| Arc::clone(client))
    }
}

/// Whether the credentials came in their one canonical form, so each client has one cache
/// entry however it spells its header (case of `Basic`, spaces, needless `%`-escapes).
/// Posted credentials are keyed after form decoding and always are.
fn is_canonical(request: &HttpRequest, client_id: &str, secret: &str) -> bool {
    let Some(header) = request.headers().get(header::AUTHORIZATION) else {
        return true;
    };
    let plain = |text: &str| {
        text.bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte))
    };
    plain(client_id)
        && plain(secret)
        && header
            .as_bytes()
            .strip_prefix(b"Basic ")
            .is_some_and(|encoded| encoded == STANDARD.encode(format!("{client_id}:{secret}")).as_bytes())
}
