//! Where each client wants its events: at most one endpoint per client, with the HMAC secret
//! sealed by the master key, so a database dump alone cannot forge a delivery.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::foundation::crypto::keys::{KeyError, MasterKey};
use crate::foundation::crypto::random;
use crate::foundation::store::schema::{webhook_deliveries, webhook_endpoints};
use crate::foundation::store::{DbConnection, StoreError, clients};

/// Longest accepted endpoint URL.
const MAX_URL_LEN: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A field is missing or wrong: 422 naming the field.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(error))
    }
}

/// The name a client's secret is sealed under: a sealed secret copied to another client's
/// row does not open.
pub(super) fn secret_kid(client_id: &str) -> String {
    format!("webhook:{client_id}")
}

/// An absolute `http(s)` URL without credentials or fragment, as it will be stored.
/// Credentials are refused because the URL is stored and shown in the clear: the signature,
/// not the URL, authenticates Usher to the receiver.
pub fn check_url(url: &str) -> Result<String, WebhookError> {
    let invalid = |message: &str| WebhookError::Invalid {
        field: "url",
        message: message.to_owned(),
    };
    if url.len() > MAX_URL_LEN {
        return Err(invalid("must be at most 2000 characters"));
    }
    let parsed =
        url::Url::parse(url.trim()).map_err(|error| invalid(&format!("not an absolute URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid("must be an http:// or https:// URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not contain a fragment"));
    }
    Ok(parsed.to_string())
}

/// Sets or replaces the client's endpoint with a fresh 256-bit secret, which is returned: it
/// is stored only sealed, so this is the one moment it can be shown. Deliveries still waiting
/// move to the new URL and are signed with the new secret when sent.
pub fn register(
    conn: &mut DbConnection,
    master_key: &MasterKey,
    client_id: &str,
    url: &str,
    now: i64,
) -> Result<String, WebhookError> {
    let url = check_url(url)?;
    if clients::find(conn, client_id)?.is_none() {
        return Err(WebhookError::NotFound("client"));
    }
    let secret = random::token::<32>();
    let sealed = master_key.seal(&secret_kid(client_id), secret.as_bytes())?;
    conn.transaction(|conn| {
        // MultiConnection has no upsert builder; both databases accept this SQL.
        diesel::sql_query(
            "INSERT INTO webhook_endpoints (client_id, url, sealed_secret, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET url = excluded.url, \
             sealed_secret = excluded.sealed_secret, created_at = excluded.created_at",
        )
        .bind::<Text, _>(client_id)
        .bind::<Text, _>(&url)
        .bind::<Text, _>(&sealed)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::client_id.eq(client_id))
            .filter(webhook_deliveries::delivered_at.is_null())
            .filter(webhook_deliveries::next_attempt_at.is_not_null())
            .set(webhook_deliveries::url.eq(&url))
            .execute(conn)?;
        Ok::<_, WebhookError>(())
    })?;
    Ok(secret)
}

/// Deletes the client's endpoint and gives up its deliveries still waiting: nothing could sign
/// them. `false` when the client had no endpoint.
pub fn remove(conn: &mut DbConnection, client_id: &str) -> Result<bool, WebhookError> {
    conn.transaction(|conn| {
        let deleted = diesel::delete(webhook_endpoints::table.find(client_id)).execute(conn)? > 0;
        if deleted {
            diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::client_id.eq(client_id))
                .filter(webhook_deliveries::delivered_at.is_null())
                .filter(webhook_deliveries::next_attempt_at.is_not_null())
                .set((
                    webhook_deliveries::next_attempt_at.eq(None::<i64>),
                    webhook_deliveries::last_error.eq("endpoint removed"),
                ))
                .execute(conn)?;
        }
        Ok::<_, WebhookError>(deleted)
    })
}

/// The client's current secret, `None` when it has no endpoint any more.
pub(crate) fn secret_of(
    conn: &mut DbConnection,
    master_key: &MasterKey,
    client_id: &str,
) -> Result<Option<Vec<u8>>, WebhookError> {
    let sealed: Option<String> = webhook_endpoints::table
        .find(client_id)
        .select(webhook_endpoints::sealed_secret)
        .first(conn)
        .optional()?;
    sealed
        .map(|sealed| master_key.unseal(&secret_kid(client_id), &sealed))
        .transpose()
        .map_err(WebhookError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_without_credentials_are_accepted() {
        assert_eq!(
            check_url("https://hooks.example.com/usher?x=1").ok().as_deref(),
            Some("https://hooks.example.com/usher?x=1")
        );
        assert_eq!(
            check_url("http://127.0.0.1:9000").ok().as_deref(),
            Some("http://127.0.0.1:9000/")
        );
        for refused in [
            "",
            "/relative/path",
            "hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "mailto:ops@example.com",
            "https://user:pass@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
        ] {
            assert!(
                matches!(
                    check_url(refused),
                    Err(WebhookError::Invalid { field: "url", .. })
                ),
                "{refused:?} accepted"
            );
        }
    }
}
