//! Concurrent playback ("streams"): a content server starts a stream for a viewer's access
//! token and a device, keeps it alive with heartbeats and stops it; the account's tier says
//! how many may play at once (`max_streams`) and what a start at the limit does.
//!
//! A start first writes the account's row in `stream_accounts`, so starts for one account on
//! any instance follow one another and never let more than `max_streams` live. Starts that
//! arrive together are written in one short transaction, each in a savepoint of its own
//! ([`queue`]). Heartbeats are answered from memory ([`live`]) and
//! written in batches. A stream that ends before its lease is announced on the change feed,
//! so every instance refuses its next heartbeat within a second.

pub(crate) mod live;
pub(crate) mod queue;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::domain::core::Core;
use crate::domain::entitlements::manage::Actor;
use crate::domain::entitlements::{Entitlements, LimitPolicy};
use crate::domain::webhooks::{self, Notice};
use crate::foundation::crypto::random;
use crate::foundation::store::changes::{self, ChangeKind};
use crate::foundation::store::entitlements::{NewAuditEntry, audit};
use crate::foundation::store::streams::{self as store, Slot, Stream};
use crate::foundation::store::transaction;
use crate::foundation::store::{DbConnection, StoreError};
use crate::foundation::text;

pub(crate) use live::LiveStreams;
pub(crate) use queue::{Queued, StartQueue};

/// Longest `device_id` and `content` label accepted.
const MAX_LABEL_CHARS: usize = 200;

/// Why a start's input was refused, naming the field.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidInput(pub String);

/// What a content server asks to start.
pub(crate) struct StartRequest {
    /// The person watching, from the access token.
    pub viewer_id: String,
    /// The content server starting it.
    pub client_id: String,
    pub device_id: String,
    pub content: Option<String>,
}

impl StartRequest {
    /// Checks the labels a content server sent: `device_id` required, both short and plain.
    pub(crate) fn new(
        viewer_id: &str,
        client_id: &str,
        device_id: Option<&str>,
        content: Option<&str>,
    ) -> Result<Self, InvalidInput> {
        let device_id = device_id
            .map(str::trim)
            .filter(|device_id| !device_id.is_empty())
            .ok_or_else(|| InvalidInput("device_id is required: a stable identifier of the player".into()))?;
        let content = content.map(str::trim).filter(|content| !content.is_empty());
        for (field, label) in [("device_id", Some(device_id)), ("content", content)] {
            let Some(label) = label else { continue };
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(InvalidInput(format!(
                    "{field} must be at most {MAX_LABEL_CHARS} characters"
                )));
            }
            if !text::is_plain_name(label) {
                return Err(InvalidInput(format!("{field} {}", text::HIDDEN_CHARACTERS)));
            }
        }
        Ok(Self {
            viewer_id: viewer_id.to_owned(),
            client_id: client_id.to_owned(),
            device_id: device_id.to_owned(),
            content: content.map(str::to_owned),
        })
    }
}

/// How a start ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StartOutcome {
    Started {
        stream: Stream,
        /// Live streams of the account, this one included.
        active_streams: usize,
        max_streams: i32,
    },
    /// The account plays `max_streams` streams already (listed, oldest first).
    Refused { max_streams: i32, streams: Vec<Stream> },
}

/// The limits a start applies, from the account's entitlements as they are now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_streams: i32,
    pub policy: LimitPolicy,
}

impl From<&Entitlements> for Limits {
    fn from(entitlements: &Entitlements) -> Self {
        Self {
            max_streams: entitlements.max_streams,
            policy: entitlements.stream_limit_policy,
        }
    }
}

/// Starts a stream for `request` against `account_id`'s limits at `now`, in one transaction
/// of its own. Streams it ends are forgotten by `live` at once and announced.
fn start_alone(
    conn: &mut DbConnection,
    live: &LiveStreams,
    account_id: &str,
    request: &StartRequest,
    limits: Limits,
    lease_secs: i64,
    now: i64,
) -> Result<StartOutcome, StoreError> {
    let (outcome, ended) = transaction(conn, |conn| {
        start_in(conn, live, account_id, request, limits, lease_secs, now)
    })?;
    settle(live, &outcome, &ended);
    Ok(outcome)
}

/// Starts every one of `starts` at `now` in one transaction, each in a savepoint of its own so
/// that one failing undoes only itself; the outcomes in the order of `starts`. Accounts are
/// taken in the order of their ids (a start's own order among its account's kept): two
/// instances' batches on PostgreSQL then wait for each other's accounts, never deadlock. When
/// the batch does not commit, each start is tried again in a transaction of its own, so each
/// gets its own answer.
pub(crate) fn start_all(
    conn: &mut DbConnection,
    live: &LiveStreams,
    starts: &[Queued],
    lease_secs: i64,
    now: i64,
) -> Vec<Result<StartOutcome, StoreError>> {
    let mut order: Vec<usize> = (0..starts.len()).collect();
    order.sort_by(|&a, &b| starts[a].account_id.cmp(&starts[b].account_id));
    let written = transaction(conn, |conn| {
        let written: Vec<_> = order
            .iter()
            .map(|&index| {
                let Queued {
                    account_id,
                    request,
                    limits,
                } = &starts[index];
                let written = transaction(conn, |conn| {
                    start_in(conn, live, account_id, request, *limits, lease_secs, now)
                });
                (index, written)
            })
            .collect();
        Ok::<_, StoreError>(written)
    });
    let mut outcomes = match written {
        Ok(written) => written
            .into_iter()
            .map(|(index, written)| {
                // In the order they were written: a device's second start in one batch ends
                // the stream its first one began.
                let outcome = written.map(|(outcome, ended)| {
                    settle(live, &outcome, &ended);
                    outcome
                });
                (index, outcome)
            })
            .collect::<Vec<_>>(),
        Err(error) => {
            tracing::warn!(%error, starts = starts.len(), "a batch of stream starts did not commit; each is tried alone");
            order
                .into_iter()
                .map(|index| {
                    let Queued {
                        account_id,
                        request,
                        limits,
                    } = &starts[index];
                    (
                        index,
                        start_alone(conn, live, account_id, request, *limits, lease_secs, now),
                    )
                })
                .collect()
        }
    };
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// The start's work inside the caller's transaction: its outcome, and the streams it ended.
/// The account's row is written first, so starts for one account on any instance follow one
/// another.
fn start_in(
    conn: &mut DbConnection,
    live: &LiveStreams,
    account_id: &str,
    request: &StartRequest,
    limits: Limits,
    lease_secs: i64,
    now: i64,
) -> Result<(StartOutcome, Vec<String>), StoreError> {
    store::lock_account(conn, account_id, now)?;
    // A lease this instance extended and has not written yet counts as extended; memory is
    // asked only about the leases the database has as over.
    let is_over = |slot: &Slot| {
        slot.expires_at <= now && live.get(&slot.id).is_none_or(|lease| lease.expires_at() <= now)
    };
    let (expired, live_slots): (Vec<Slot>, Vec<Slot>) = store::slots_of_account(conn, account_id)?
        .into_iter()
        .partition(is_over);
    let mut ended: Vec<String> = expired.into_iter().map(|slot| slot.id).collect();
    let (replaced, mut others): (Vec<Slot>, Vec<Slot>) = live_slots
        .into_iter()
        .partition(|slot| slot.device_id == request.device_id && slot.viewer_id == request.viewer_id);
    let max_streams = usize::try_from(limits.max_streams).unwrap_or(0);
    let over = (others.len() + 1).saturating_sub(max_streams);
    if over > 0 && (limits.policy == LimitPolicy::Refuse || max_streams == 0) {
        end(conn, &ended)?;
        // At the limit the streams in use are few, and listed whole.
        let in_use: HashSet<String> = others.into_iter().map(|slot| slot.id).collect();
        let in_use: Vec<Stream> = store::of_account(conn, account_id)?
            .into_iter()
            .filter(|stream| in_use.contains(&stream.id))
            .collect();
        announce_refusal(conn, account_id, request, limits.max_streams, &in_use, now)?;
        let refused = StartOutcome::Refused {
            max_streams: limits.max_streams,
            streams: in_use,
        };
        return Ok((refused, ended));
    }
    ended.extend(replaced.into_iter().map(|slot| slot.id));
    ended.extend(others.drain(..over).map(|slot| slot.id));
    end(conn, &ended)?;
    let stream = Stream {
        id: random::token::<16>(),
        account_id: account_id.to_owned(),
        viewer_id: request.viewer_id.clone(),
        client_id: request.client_id.clone(),
        device_id: request.device_id.clone(),
        content: request.content.clone(),
        started_at: now,
        expires_at: now + lease_secs,
    };
    store::insert(conn, &stream)?;
    let started = StartOutcome::Started {
        active_streams: others.len() + 1,
        max_streams: limits.max_streams,
        stream,
    };
    Ok((started, ended))
}

/// Once a start committed: the streams it ended are forgotten, the one it began is held.
fn settle(live: &LiveStreams, outcome: &StartOutcome, ended: &[String]) {
    live.forget(ended);
    if let StartOutcome::Started { stream, .. } = outcome {
        live.hold(stream);
    }
}

/// Deletes streams and announces their end to every instance.
fn end(conn: &mut DbConnection, stream_ids: &[String]) -> Result<(), StoreError> {
    store::delete(conn, stream_ids)?;
    for stream_id in stream_ids {
        changes::record(conn, ChangeKind::StreamEnded, stream_id, None)?;
    }
    Ok(())
}

fn announce_refusal(
    conn: &mut DbConnection,
    account_id: &str,
    request: &StartRequest,
    max_streams: i32,
    in_use: &[Stream],
    now: i64,
) -> Result<(), StoreError> {
    let streams: Vec<_> = in_use
        .iter()
        .map(|stream| json!({"device_id": stream.device_id, "content": stream.content, "started_at": stream.started_at}))
        .collect();
    webhooks::enqueue(
        conn,
        &Notice {
            event: "stream.refused",
            user_id: Some(account_id),
            target: account_id,
            affected: &[],
            data: json!({
                "viewer_id": request.viewer_id,
                "device_id": request.device_id,
                "content": request.content,
                "max_streams": max_streams,
                "streams": streams,
            }),
            ent_ver: None,
        },
        now,
    )
}

/// Keeps `stream_id` alive for `client_id` at `now`: the new lease length, or `None` when the
/// stream is over (stopped, expired, ended by a sign-out) or not this client's.
pub(crate) async fn heartbeat(
    core: &Arc<Core>,
    client_id: &str,
    stream_id: &str,
) -> Result<Option<i64>, StoreError> {
    let now = core.clock.now();
    let lease_secs = core.config.stream_lease_secs;
    let lease = match core.streams.get(stream_id) {
        Some(lease) if lease.expires_at() > now => lease,
        // Not held, or over as far as this instance knows: another instance may have kept it
        // alive since.
        _ => {
            let lookup = stream_id.to_owned();
            let stored = core.store.run(move |conn| store::find(conn, &lookup)).await?;
            match stored {
                Some(stream) if stream.expires_at > now => core.streams.hold(&stream),
                _ => {
                    core.streams.forget([&stream_id.to_owned()]);
                    return Ok(None);
                }
            }
        }
    };
    if lease.client_id != client_id {
        return Ok(None);
    }
    core.streams.extend(stream_id, &lease, now + lease_secs);
    Ok(Some(lease_secs))
}

/// Who stops a stream.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StopBy<'a> {
    /// A content server of the platform (holding `usher:streams`): a player may ask its own
    /// server to stop one playing on another device.
    AnyContentServer,
    /// The person watching, or the account holder the stream counts against, on their
    /// account page.
    Viewer(&'a str),
    /// An administrator or an admin API client acting for the person `user_id`; audited.
    Admin { actor: &'a Actor, user_id: &'a str },
}

/// Stops a stream at `now`; false when there is no such stream the caller may stop.
pub(crate) fn stop(
    conn: &mut DbConnection,
    live: &LiveStreams,
    by: StopBy<'_>,
    stream_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let stopped = transaction(conn, |conn| {
        let Some(stream) = store::find(conn, stream_id)? else {
            return Ok::<_, StoreError>(false);
        };
        let owned_by = |user_id: &str| stream.viewer_id == user_id || stream.account_id == user_id;
        let allowed = match by {
            StopBy::AnyContentServer => true,
            StopBy::Viewer(user_id) | StopBy::Admin { user_id, .. } => owned_by(user_id),
        };
        if !allowed {
            return Ok(false);
        }
        end(conn, std::slice::from_ref(&stream.id))?;
        if let StopBy::Admin { actor, user_id } = by {
            audit(
                conn,
                &NewAuditEntry {
                    at: now,
                    actor: &actor.0,
                    action: "stream.stop",
                    user_id: Some(user_id),
                    target: &format!("stream:{}", stream.id),
                    before: Some(
                        json!({"device_id": stream.device_id, "content": stream.content}).to_string(),
                    ),
                    after: None,
                },
            )?;
        }
        Ok(true)
    })?;
    if stopped {
        live.forget([&stream_id.to_owned()]);
    }
    Ok(stopped)
}

/// Ends every stream the person watches: they signed out everywhere, changed their password
/// or were disabled. Runs in the caller's transaction.
pub(crate) fn end_all_of(
    conn: &mut DbConnection,
    live: &LiveStreams,
    viewer_id: &str,
) -> Result<(), StoreError> {
    let ended = store::ids_of_viewer(conn, viewer_id)?;
    end(conn, &ended)?;
    live.forget(&ended);
    Ok(())
}

/// The streams playing on the person's account now, oldest first.
pub(crate) fn playing(
    conn: &mut DbConnection,
    account_id: &str,
    now: i64,
) -> Result<Vec<Stream>, StoreError> {
    store::live_of_account(conn, account_id, now)
}

/// Writes the lease extensions answered from memory since the last write, and forgets the
/// streams that turned out to be gone. On failure the batch is kept for the next write.
pub(crate) async fn write_leases(core: &Arc<Core>) -> Result<usize, StoreError> {
    let batch = core.streams.take_unwritten();
    if batch.is_empty() {
        return Ok(0);
    }
    let written = batch.len();
    let leases = batch.clone();
    match core
        .store
        .run(move |conn| transaction(conn, |conn| store::extend_leases(conn, &leases)))
        .await
    {
        Ok(gone) => {
            core.streams.forget(&gone);
            Ok(written)
        }
        Err(error) => {
            core.streams.restore_unwritten(batch);
            Err(error)
        }
    }
}

/// Once a minute: deletes streams whose lease ended (with a margin for heartbeats not yet
/// written), records how many are live for the dashboard's chart, and forgets samples older
/// than a week.
pub(crate) fn sweep(conn: &mut DbConnection, now: i64, write_margin_secs: i64) -> Result<(), StoreError> {
    store::delete_expired(conn, now - write_margin_secs)?;
    let live = store::count_live(conn, now)?;
    store::record_sample(conn, now - now.rem_euclid(60), live)?;
    store::prune_samples(conn, now - 7 * 24 * 3600)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identity::users::{self, NewUser};
    use crate::foundation::store::Store;

    const NOW: i64 = 1_900_000_000;
    const LEASE: i64 = 90;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 1).unwrap();
        (dir, store)
    }

    fn person(conn: &mut DbConnection, email: &str) -> String {
        let new = NewUser {
            email: email.into(),
            name: None,
            password: None,
            admin: false,
        };
        users::create(conn, new, NOW).unwrap().id
    }

    fn queued(account_id: &str, device_id: &str, max_streams: i32) -> Queued {
        Queued {
            account_id: account_id.into(),
            request: StartRequest::new(account_id, "cdn", Some(device_id), None).unwrap(),
            limits: Limits {
                max_streams,
                policy: LimitPolicy::Refuse,
            },
        }
    }

    fn started(outcome: &Result<StartOutcome, StoreError>) -> Option<&Stream> {
        match outcome {
            Ok(StartOutcome::Started { stream, .. }) => Some(stream),
            _ => None,
        }
    }

    #[test]
    fn starts_written_together_for_one_account_let_no_more_than_its_limit_play() {
        let (_dir, store) = store();
        store
            .run_blocking(|conn| {
                let live = LiveStreams::new(10);
                let account = person(conn, "a@example.com");
                let starts: Vec<_> = ["tv", "phone", "tablet", "laptop", "car"]
                    .iter()
                    .map(|device| queued(&account, device, 3))
                    .collect();
                let outcomes = start_all(conn, &live, &starts, LEASE, NOW);
                let devices: Vec<bool> = outcomes
                    .iter()
                    .map(|outcome| started(outcome).is_some())
                    .collect();
                assert_eq!(
                    devices,
                    [true, true, true, false, false],
                    "in the order they came"
                );
                assert_eq!(store::live_of_account(conn, &account, NOW)?.len(), 3);
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_start_that_fails_in_a_batch_undoes_only_itself() {
        let (_dir, store) = store();
        store
            .run_blocking(|conn| {
                let live = LiveStreams::new(10);
                let (first, second) = (person(conn, "a@example.com"), person(conn, "b@example.com"));
                // No such person: the account's row breaks its foreign key.
                let starts = [
                    queued(&first, "tv", 3),
                    queued("nobody", "tv", 3),
                    queued(&second, "tv", 3),
                ];
                let outcomes = start_all(conn, &live, &starts, LEASE, NOW);
                assert!(outcomes[1].is_err(), "{:?}", outcomes[1]);
                for (index, account) in [(0, &first), (2, &second)] {
                    let stream = started(&outcomes[index]).expect("started");
                    assert_eq!(
                        store::live_of_account(conn, account, NOW)?,
                        std::slice::from_ref(stream)
                    );
                    assert!(live.get(&stream.id).is_some(), "held in memory once committed");
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn when_a_batch_does_not_commit_each_start_is_answered_on_its_own() {
        let (_dir, store) = store();
        store
            .run_blocking(|conn| {
                let live = LiveStreams::new(10);
                let account = person(conn, "a@example.com");
                // Foreign keys checked only at the commit (until it ends): the start for no
                // such person breaks the batch's commit instead of its own savepoint.
                diesel::connection::SimpleConnection::batch_execute(conn, "PRAGMA defer_foreign_keys = ON")?;
                let starts = [queued(&account, "tv", 3), queued("nobody", "tv", 3)];
                let outcomes = start_all(conn, &live, &starts, LEASE, NOW);
                let stream = started(&outcomes[0]).expect("started alone");
                assert!(outcomes[1].is_err(), "{:?}", outcomes[1]);
                assert_eq!(
                    store::live_of_account(conn, &account, NOW)?,
                    std::slice::from_ref(stream)
                );
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_device_starting_twice_in_one_batch_plays_its_second_stream_only() {
        let (_dir, store) = store();
        store
            .run_blocking(|conn| {
                let live = LiveStreams::new(10);
                let account = person(conn, "a@example.com");
                let starts = [queued(&account, "tv", 1), queued(&account, "tv", 1)];
                let outcomes = start_all(conn, &live, &starts, LEASE, NOW);
                let (first, second) = (
                    started(&outcomes[0]).expect("first"),
                    started(&outcomes[1]).expect("second"),
                );
                assert_eq!(
                    store::live_of_account(conn, &account, NOW)?,
                    std::slice::from_ref(second)
                );
                assert!(live.get(&first.id).is_none(), "the replaced stream is forgotten");
                assert!(live.get(&second.id).is_some());
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
