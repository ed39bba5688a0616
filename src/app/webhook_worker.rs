//! The background task that sends queued deliveries: polls for due ones, claims each with a
//! lease so that of several instances sharing the database exactly one sends a given attempt,
//! sends a few at a time, and records the outcome with the next attempt's time.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::task::{JoinHandle, JoinSet};

use crate::domain::core::Core;
use crate::domain::webhooks::endpoints::{self, WebhookError};
use crate::domain::webhooks::signing::{self, SigningSecrets};
use crate::foundation::crypto::random;
use crate::foundation::store::schema::webhook_deliveries;

/// Sends in flight at once per instance.
const CONCURRENCY: usize = 8;
/// How long after its timeout a claimed attempt stays claimed: time to record the outcome. An
/// instance that dies mid-send leaves the lease to expire, and the attempt is made again.
const LEASE_MARGIN_SECS: i64 = 5;
const FIRST_RETRY_SECS: i64 = 5;
const LONGEST_RETRY_SECS: i64 = 3600;
/// `last_error` is for people reading it, not a dump of whatever went wrong.
const LAST_ERROR_MAX_CHARS: usize = 500;

/// Starts the worker. It runs until its handle is aborted; sends in flight are dropped with it
/// and made again by whichever instance claims them once their lease has expired.
pub(crate) fn spawn(state: Arc<Core>) -> Result<JoinHandle<()>, WebhookError> {
    let http = http_client(state.config.webhook_timeout_secs)?;
    Ok(tokio::spawn(run(state, http)))
}

fn http_client(timeout_secs: u64) -> Result<reqwest::Client, WebhookError> {
    let timeout = Duration::from_secs(timeout_secs);
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A redirect is a misconfigured endpoint to show in last_status, not a reason to post
        // signed events to an address nobody registered.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Usher-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| WebhookError::Client(error.to_string()))
}

async fn run(state: Arc<Core>, http: reqwest::Client) {
    let mut ticker = tokio::time::interval(Duration::from_millis(
        state.config.webhook_poll_interval_ms.max(10),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Owned here so aborting the worker cancels its sends too.
    let mut sending = JoinSet::new();
    loop {
        ticker.tick().await;
        loop {
            while sending.try_join_next().is_some() {}
            let free = CONCURRENCY.saturating_sub(sending.len());
            if free == 0 {
                break;
            }
            let claimed = match claim(&state, free).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "claiming due webhook deliveries failed");
                    break;
                }
            };
            let more_may_be_due = claimed.len() == free;
            for delivery in claimed {
                sending.spawn(deliver(Arc::clone(&state), http.clone(), delivery));
            }
            if !more_may_be_due {
                break;
            }
            // A backlog (an endpoint back after an outage) drains as fast as sends finish,
            // not one batch per tick.
            sending.join_next().await;
        }
    }
}

#[derive(Queryable)]
struct Due {
    id: i64,
    client_id: String,
    url: String,
    event_id: String,
    body: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
}

/// One attempt this instance holds the lease of.
struct Claimed {
    id: i64,
    client_id: String,
    url: String,
    event_id: String,
    body: String,
    /// Sends made before this one.
    attempts: i32,
    lease: i64,
    secret: Secret,
}

enum Secret {
    Ready(SigningSecrets),
    /// The endpoint was removed after the delivery was queued.
    Removed,
    /// The sealed secret does not open: a master key differing between instances.
    Unusable(String),
}

/// Claims up to `limit` due deliveries. Each is claimed by its own conditional UPDATE that
/// moves its due time to the end of a lease, and only while it still has the attempt count and
/// due time read a moment before: of two instances reading the same row, the second's UPDATE
/// matches nothing, so it never sends an attempt the first holds.
async fn claim(state: &Arc<Core>, limit: usize) -> Result<Vec<Claimed>, WebhookError> {
    let now = state.clock.now();
    let timeout_secs = i64::try_from(state.config.webhook_timeout_secs).unwrap_or(i64::MAX);
    let lease = now.saturating_add(timeout_secs).saturating_add(LEASE_MARGIN_SECS);
    let worker_state = Arc::clone(state);
    state
        .store
        .run(move |conn| {
            use webhook_deliveries::dsl as d;
            let due: Vec<Due> = d::webhook_deliveries
                .filter(d::delivered_at.is_null())
                .filter(d::next_attempt_at.le(now))
                .order((d::next_attempt_at.asc(), d::id.asc()))
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .select((
                    d::id,
                    d::client_id,
                    d::url,
                    d::event_id,
                    d::body,
                    d::attempts,
                    d::next_attempt_at,
                ))
                .load(conn)?;
            let mut claimed = Vec::with_capacity(due.len());
            for row in due {
                let Some(due_at) = row.next_attempt_at else {
                    continue;
                };
                let won = diesel::update(d::webhook_deliveries)
                    .filter(d::id.eq(row.id))
                    .filter(d::attempts.eq(row.attempts))
                    .filter(d::next_attempt_at.eq(due_at))
                    .filter(d::delivered_at.is_null())
                    .set(d::next_attempt_at.eq(lease))
                    .execute(conn)?
                    == 1;
                if !won {
                    continue;
                }
                let secret = match endpoints::secrets_of(conn, &worker_state.master_key, &row.client_id, now)
                {
                    Ok(Some(secret)) => Secret::Ready(secret),
                    Ok(None) => Secret::Removed,
                    Err(WebhookError::Key(error)) => Secret::Unusable(error.to_string()),
                    Err(error) => return Err(error),
                };
                claimed.push(Claimed {
                    id: row.id,
                    client_id: row.client_id,
                    url: row.url,
                    event_id: row.event_id,
                    body: row.body,
                    attempts: row.attempts,
                    lease,
                    secret,
                });
            }
            Ok(claimed)
        })
        .await
}

enum Outcome {
    Delivered {
        status: i32,
    },
    Failed {
        status: Option<i32>,
        error: Option<String>,
    },
    /// Nothing can sign it any more.
    Abandoned {
        error: &'static str,
    },
}

async fn deliver(state: Arc<Core>, http: reqwest::Client, delivery: Claimed) {
    let outcome = match &delivery.secret {
        Secret::Ready(secrets) => send(&http, &delivery, secrets, state.clock.now()).await,
        Secret::Removed => Outcome::Abandoned {
            error: "endpoint removed",
        },
        Secret::Unusable(error) => Outcome::Failed {
            status: None,
            error: Some(error.clone()),
        },
    };
    if let Err(error) = record(&state, &delivery, outcome).await {
        tracing::warn!(
            %error,
            event_id = %delivery.event_id,
            client_id = %delivery.client_id,
            "recording a webhook delivery failed; it will be sent again when its lease ends"
        );
    }
}

async fn send(
    http: &reqwest::Client,
    delivery: &Claimed,
    secrets: &SigningSecrets,
    timestamp: i64,
) -> Outcome {
    let mut request = http
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in signing::headers(secrets, &delivery.event_id, timestamp, &delivery.body) {
        request = request.header(name, value);
    }
    let sent = request.body(delivery.body.clone()).send().await;
    match sent {
        Ok(response) => {
            let status = i32::from(response.status().as_u16());
            if response.status().is_success() {
                Outcome::Delivered { status }
            } else {
                Outcome::Failed {
                    status: Some(status),
                    error: None,
                }
            }
        }
        Err(error) => Outcome::Failed {
            status: None,
            error: Some(describe(&error)),
        },
    }
}

/// The error and its causes on one line ("error sending request …: connection refused"):
/// reqwest's own message alone rarely says what went wrong.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text.chars().take(LAST_ERROR_MAX_CHARS).collect()
}

async fn record(state: &Arc<Core>, delivery: &Claimed, outcome: Outcome) -> Result<(), WebhookError> {
    use webhook_deliveries::dsl as d;
    let now = state.clock.now();
    let id = delivery.id;
    let attempts = delivery.attempts.saturating_add(1);
    let (event_id, client_id) = (delivery.event_id.as_str(), delivery.client_id.as_str());
    match outcome {
        Outcome::Delivered { status } => {
            // Recorded even if the lease ran out meanwhile: it was delivered, whoever else
            // may be sending it again.
            state
                .store
                .run(move |conn| {
                    diesel::update(d::webhook_deliveries)
                        .filter(d::id.eq(id))
                        .filter(d::delivered_at.is_null())
                        .set((
                            d::delivered_at.eq(now),
                            d::next_attempt_at.eq(None::<i64>),
                            d::attempts.eq(d::attempts + 1),
                            d::last_status.eq(status),
                            d::last_error.eq(None::<String>),
                        ))
                        .execute(conn)
                        .map_err(WebhookError::from)
                })
                .await?;
            tracing::info!(event_id, client_id, status, attempts, "webhook delivered");
        }
        Outcome::Failed { status, error } => {
            let max_attempts = i32::try_from(state.config.webhook_max_attempts).unwrap_or(i32::MAX);
            let next = (attempts < max_attempts).then(|| now.saturating_add(retry_delay(attempts)));
            let (lease, previous_attempts) = (delivery.lease, delivery.attempts);
            let last_error = error.clone();
            let updated = state
                .store
                .run(move |conn| {
                    // Only while this instance still holds the lease: once it has run out,
                    // another instance owns the attempt and its outcome.
                    diesel::update(d::webhook_deliveries)
                        .filter(d::id.eq(id))
                        .filter(d::attempts.eq(previous_attempts))
                        .filter(d::next_attempt_at.eq(lease))
                        .filter(d::delivered_at.is_null())
                        .set((
                            d::attempts.eq(attempts),
                            d::next_attempt_at.eq(next),
                            d::last_status.eq(status),
                            d::last_error.eq(last_error),
                        ))
                        .execute(conn)
                        .map_err(WebhookError::from)
                })
                .await?;
            let error = error.as_deref().unwrap_or_default();
            match (updated, next) {
                (0, _) => tracing::info!(event_id, client_id, "webhook attempt outlived its lease"),
                (_, Some(next)) => tracing::warn!(
                    event_id,
                    client_id,
                    status,
                    error,
                    attempts,
                    retry_in_secs = next - now,
                    "webhook delivery failed; will retry"
                ),
                (_, None) => tracing::warn!(
                    event_id,
                    client_id,
                    status,
                    error,
                    attempts,
                    "webhook delivery failed; giving up"
                ),
            }
        }
        Outcome::Abandoned { error } => {
            state
                .store
                .run(move |conn| {
                    diesel::update(d::webhook_deliveries)
                        .filter(d::id.eq(id))
                        .filter(d::delivered_at.is_null())
                        .set((d::next_attempt_at.eq(None::<i64>), d::last_error.eq(error)))
                        .execute(conn)
                        .map_err(WebhookError::from)
                })
                .await?;
            tracing::warn!(event_id, client_id, error, "webhook delivery given up");
        }
    }
    Ok(())
}

/// Seconds before the attempt after `attempts` failed sends: 5, 10, 20, … at most an hour,
/// plus up to a tenth more so deliveries that failed together (an endpoint down) do not all
/// come back at the same second.
fn retry_delay(attempts: i32) -> i64 {
    let base = base_retry_delay(attempts);
    let spread = u64::try_from(base / 10).unwrap_or(0);
    let jitter = u64::from(u32::from_le_bytes(random::bytes::<4>())) % (spread + 1);
    base + i64::try_from(jitter).unwrap_or(0)
}

fn base_retry_delay(attempts: i32) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    FIRST_RETRY_SECS
        .saturating_mul(1 << doublings)
        .min(LONGEST_RETRY_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let delays: Vec<i64> = (1..=12).map(base_retry_delay).collect();
        assert_eq!(
            delays,
            vec![5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(base_retry_delay(i32::MAX), 3600);
        assert_eq!(base_retry_delay(0), 5);
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        assert_eq!(retry_delay(1), 5, "under ten seconds there is no jitter");
        for _ in 0..100 {
            let delay = retry_delay(12);
            assert!((3600..=3960).contains(&delay), "{delay}");
        }
    }
}
