//! Where each client wants its events: at most one endpoint per client, with its HMAC secret
//! (and, for a while after a replacement, the one before) sealed by the master key, so a
//! database dump alone cannot forge a delivery.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::signing::{self, SigningSecrets};

use crate::foundation::crypto::keys::{KeyError, MasterKey};
use crate::foundation::store::schema::{self, webhook_deliveries, webhook_endpoints};
use crate::foundation::store::transaction;
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

/// A registration's outcome: the secret to give the receiver, and until when the secret it
/// replaced keeps signing beside it.
#[derive(Debug)]
pub struct Registered {
    pub secret: String,
    pub previous_secret_until: Option<i64>,
}

/// Sets or replaces the client's endpoint with a fresh secret, which is returned: it is
/// stored only sealed, so this is the one moment it can be shown. Replacing an endpoint keeps
/// its secret signing beside the new one for `overlap_secs` (when positive), so its receiver
/// can move to the new secret without refusing a delivery. Deliveries still waiting move to
/// the new URL and are signed with the new secret when sent.
pub fn register(
    conn: &mut DbConnection,
    master_key: &MasterKey,
    client_id: &str,
    url: &str,
    overlap_secs: i64,
    now: i64,
) -> Result<Registered, WebhookError> {
    let url = check_url(url)?;
    if clients::find(conn, client_id)?.is_none() {
        return Err(WebhookError::NotFound("client"));
    }
    let secret = signing::new_secret();
    let sealed = master_key.seal(&secret_kid(client_id), secret.as_bytes())?;
    let overlap_until = (overlap_secs > 0).then(|| now.saturating_add(overlap_secs));
    let previous_secret_until = transaction(conn, |conn| {
        // The client's row, locked first: two registrations for one client run one after
        // the other, and the second sees the endpoint the first wrote.
        diesel::update(schema::clients::table.find(client_id))
            .set(schema::clients::client_id.eq(schema::clients::client_id))
            .execute(conn)?;
        let replaced = webhook_endpoints::table
            .find(client_id)
            .select(webhook_endpoints::client_id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        let previous_secret_until = overlap_until.filter(|_| replaced);
        // MultiConnection has no upsert builder; both databases accept this SQL. The row's
        // current secret becomes its previous one (sealed under the same name).
        diesel::sql_query(
            "INSERT INTO webhook_endpoints (client_id, url, sealed_secret, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET url = excluded.url, \
             previous_sealed_secret = CASE WHEN $5 IS NULL THEN NULL \
             ELSE webhook_endpoints.sealed_secret END, previous_secret_until = $5, \
             sealed_secret = excluded.sealed_secret, created_at = excluded.created_at",
        )
        .bind::<Text, _>(client_id)
        .bind::<Text, _>(&url)
        .bind::<Text, _>(&sealed)
        .bind::<BigInt, _>(now)
        .bind::<Nullable<BigInt>, _>(previous_secret_until)
        .execute(conn)?;
        diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::client_id.eq(client_id))
            .filter(webhook_deliveries::delivered_at.is_null())
            .filter(webhook_deliveries::next_attempt_at.is_not_null())
            .set(webhook_deliveries::url.eq(&url))
            .execute(conn)?;
        Ok::<_, WebhookError>(previous_secret_until)
    })?;
    Ok(Registered {
        secret,
        previous_secret_until,
    })
}

/// Deletes the client's endpoint and gives up its deliveries still waiting: nothing could sign
/// them. `false` when the client had no endpoint.
pub fn remove(conn: &mut DbConnection, client_id: &str) -> Result<bool, WebhookError> {
    transaction(conn, |conn| {
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

/// The secrets that sign the client's deliveries at `now`, `None` when it has no endpoint any
/// more: its current one and, until its overlap ends, the one it replaced.
pub(crate) fn secrets_of(
    conn: &mut DbConnection,
    master_key: &MasterKey,
    client_id: &str,
    now: i64,
) -> Result<Option<SigningSecrets>, WebhookError> {
    let sealed: Option<(String, Option<String>, Option<i64>)> = webhook_endpoints::table
        .find(client_id)
        .select((
            webhook_endpoints::sealed_secret,
            webhook_endpoints::previous_sealed_secret,
            webhook_endpoints::previous_secret_until,
        ))
        .first(conn)
        .optional()?;
    let Some((current, previous, previous_until)) = sealed else {
        return Ok(None);
    };
    let kid = secret_kid(client_id);
    let previous = previous
        .filter(|_| previous_until.is_some_and(|until| now < until))
        .map(|sealed| master_key.unseal(&kid, &sealed))
        .transpose()?;
    Ok(Some(SigningSecrets {
        current: master_key.unseal(&kid, &current)?,
        previous,
    }))
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
