//! Entitlement change events delivered to the clients that asked for them: each change is
//! queued, in the transaction that makes it, as one delivery per registered endpoint; a
//! background worker sends them signed and retries with backoff.
//!
//! A client registers one endpoint (`usher client webhook --client-id ID --url URL`, or
//! [`register`]) and receives a secret in the Standard Webhooks form (`whsec_` and the base64
//! of 256 random bits), shown once and stored sealed with the master key. Every delivery is
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! webhook-id: <event id, the body's "id"; the same on every retry>
//! webhook-timestamp: <Unix seconds when this attempt was signed>
//! webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,<…previous secret>]
//! Usher-Webhook-Id, Usher-Webhook-Timestamp, Usher-Webhook-Signature: the same, in the
//!   deprecated format of earlier releases (removed in the next release)
//!
//! {"id":"…","event":"subscription.put","created_at":…,"user_id":"…","target":"…",
//!  "affected_users":["…"],"data":{…}}
//! ```
//!
//! This is the Standard Webhooks scheme (<https://www.standardwebhooks.com/>), so receivers
//! verify with its libraries: the key is what follows `whsec_`, base64-decoded, and the body
//! is signed byte for byte as sent. Registering again replaces the secret; the replaced one
//! keeps signing beside it (a second signature in `webhook-signature`) for
//! `webhook_secret_overlap_secs`, so the receiver can switch without refusing a delivery. A
//! receiver compares in constant time, rejects timestamps more than five minutes from its own
//! clock (a captured request cannot be replayed later) and ignores ids it has seen (delivery
//! is at least once). A 2xx answer within `webhook_timeout_secs` counts as delivered;
//! anything else is retried after 5 s, 10 s, 20 s, … (at most an hour apart) until
//! `webhook_max_attempts` sends have failed. Redirects are not followed.

pub(crate) mod endpoints;
pub(crate) mod signing;

pub use endpoints::{Registered, WebhookError, check_url, register, remove};
pub use signing::{ID_HEADER, SECRET_PREFIX, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::foundation::crypto::random;
use crate::foundation::store::schema::{webhook_deliveries, webhook_endpoints};
use crate::foundation::store::{DbConnection, StoreError};

/// A change as its webhook tells it.
pub(crate) struct Notice<'a> {
    /// What happened, e.g. `grant.create`, `subscription.put`, `tier.update`.
    pub event: &'a str,
    /// The person it concerns, for changes to one person.
    pub user_id: Option<&'a str>,
    /// The slug or user id the change is about.
    pub target: &'a str,
    /// Everyone whose entitlements changed.
    pub affected: &'a [String],
    /// The state after the change (`null` after a deletion).
    pub data: Value,
    /// The person's entitlement version after the change, for changes to one person: a
    /// content service holding a decision made at a lower version drops it.
    pub ent_ver: Option<i64>,
}

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    event: &'a str,
    created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    target: &'a str,
    affected_users: &'a [String],
    data: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    ent_ver: Option<i64>,
}

/// Queues the notice for every registered endpoint; due at once.
pub(crate) fn enqueue(conn: &mut DbConnection, notice: &Notice<'_>, now: i64) -> Result<(), StoreError> {
    let endpoints: Vec<(String, String)> = webhook_endpoints::table
        .select((webhook_endpoints::client_id, webhook_endpoints::url))
        .load(conn)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = random::token::<16>();
    let body = serde_json::to_string(&Body {
        id: &event_id,
        event: notice.event,
        created_at: now,
        user_id: notice.user_id,
        target: notice.target,
        affected_users: notice.affected,
        data: &notice.data,
        ent_ver: notice.ent_ver,
    })
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    for (client_id, url) in endpoints {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::client_id.eq(client_id),
                webhook_deliveries::url.eq(url),
                webhook_deliveries::event_id.eq(&event_id),
                webhook_deliveries::body.eq(&body),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(now)),
                webhook_deliveries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes deliveries that finished (delivered or given up) before `before`.
pub(crate) fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(
                webhook_deliveries::delivered_at
                    .is_not_null()
                    .or(webhook_deliveries::next_attempt_at.is_null()),
            ),
    )
    .execute(conn)?)
}
