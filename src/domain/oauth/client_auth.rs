//! Client authentication with a cache keyed by a hash of the presented credentials, so the
//! hot endpoints authenticate a known client without decoding, a database round trip or a
//! secret comparison.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::domain::oauth::error::OAuthError;
use crate::foundation::crypto::hashing::secret_matches;
use crate::foundation::encoding::percent_decode;
use crate::foundation::store::Store;
use crate::foundation::store::clients::{self, Client};

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

/// What a request presents to identify its client: the exact `Authorization` header and the
/// posted `client_id` and `client_secret`, each when sent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClientCredentials<'a> {
    pub authorization: Option<&'a [u8]>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
}

/// How a client presented itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret {
        client_id: String,
        secret: String,
    },
    /// Only a `client_id`: a public client.
    Public {
        client_id: String,
    },
    Nothing,
}

/// Reads client credentials from the `Authorization` header or the form, refusing requests
/// that use more than one method (RFC 6749 §2.3).
pub(crate) fn presented(credentials: &ClientCredentials) -> Result<Presented, OAuthError> {
    let basic = match credentials.authorization {
        Some(value) => parse_basic(value)?,
        None => None,
    };
    let posted_secret = credentials.client_secret;
    match (basic, posted_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "client credentials were sent both in the Authorization header and in the body",
        )),
        (Some((client_id, secret)), None) => {
            if credentials.client_id.is_some_and(|posted| posted != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            Ok(Presented::Secret { client_id, secret })
        }
        (None, Some(secret)) => Ok(Presented::Secret {
            client_id: credentials
                .client_id
                .ok_or_else(|| OAuthError::invalid_request("missing client_id"))?
                .to_owned(),
            secret: secret.to_owned(),
        }),
        (None, None) => Ok(credentials
            .client_id
            .map_or(Presented::Nothing, |client_id| Presented::Public {
                client_id: client_id.to_owned(),
            })),
    }
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))`; any other scheme is refused as
/// `invalid_client`.
fn parse_basic(value: &[u8]) -> Result<Option<(String, String)>, OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |part: &str| -> Result<String, OAuthError> {
        let plus_as_space = part.replace('+', " ");
        percent_decode(&plus_as_space).ok_or_else(bad)
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    if id.is_empty() {
        return Err(bad());
    }
    Ok(Some((id, secret)))
}

/// The cache key of what the request presents: the SHA-256 of the exact `Authorization`
/// header, or of the posted `client_id` and `client_secret`. `None` when it presents no
/// secret, or both kinds (which [`presented`] refuses).
fn presented_key(credentials: &ClientCredentials) -> Option<CredentialsHash> {
    let mut hasher = Sha256::new();
    match (credentials.authorization, credentials.client_secret) {
        (Some(authorization), None) => {
            hasher.update(b"header\0");
            hasher.update(authorization);
        }
        (None, Some(secret)) => {
            hasher.update(b"post\0");
            hasher.update(credentials.client_id?.as_bytes());
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
    pub(crate) async fn any(
        &self,
        store: &Store,
        credentials: &ClientCredentials<'_>,
    ) -> Result<Arc<Client>, OAuthError> {
        let Presented::Public { client_id } = presented(credentials)? else {
            return self.confidential(store, credentials).await;
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
    pub(crate) async fn confidential(
        &self,
        store: &Store,
        credentials: &ClientCredentials<'_>,
    ) -> Result<Arc<Client>, OAuthError> {
        let key = presented_key(credentials);
        if let Some(client) = key.and_then(|key| self.cached(&key))
            && credentials
                .client_id
                .is_none_or(|posted| posted == client.client_id)
        {
            return Ok(client);
        }
        let (client_id, secret) = match presented(credentials)? {
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
            && is_canonical(credentials, &client_id, &secret)
        {
            self.remember(key, Arc::clone(&client));
        }
        Ok(client)
    }

    /// Drops every cached authentication of `client_id`: its secret changed or it was
    /// disabled, so its next request reads it again.
    pub(crate) fn forget(&self, client_id: &str) {
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
fn is_canonical(credentials: &ClientCredentials, client_id: &str, secret: &str) -> bool {
    let Some(header) = credentials.authorization else {
        return true;
    };
    let plain = |text: &str| {
        text.bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte))
    };
    plain(client_id)
        && plain(secret)
        && header
            .strip_prefix(b"Basic ")
            .is_some_and(|encoded| encoded == STANDARD.encode(format!("{client_id}:{secret}")).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oauth::error::ErrorCode;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret+x"));
        let parsed = parse_basic(header.as_bytes()).expect("parses");
        assert_eq!(parsed, Some(("my client".to_owned(), "s:cret x".to_owned())));
    }

    #[test]
    fn bad_base64_in_basic_credentials_is_invalid_client() {
        let error = parse_basic(b"Basic !!!not-base64").expect_err("refused");
        assert_eq!(error.code, ErrorCode::InvalidClient);
    }
}
