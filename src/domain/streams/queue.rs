//! Group commit of starts: the starts that arrive while one batch is being written wait
//! together and are written in the next, one transaction for all of them. A transaction's
//! fixed cost (on SQLite its commit and the page cache every other connection then reloads,
//! on PostgreSQL a round trip and a WAL flush) is paid once per batch instead of once per
//! start, and on SQLite the starts no longer queue for the single write lock one by one.
//!
//! Nothing waits on a timer: the first start to find no batch under way writes at once, and
//! whatever came meanwhile forms the next batch, so a lone start is not delayed. SQLite has
//! one writer, so one batch is written at a time; on PostgreSQL a batch's statements are
//! round trips one after another, so a few batches are written at once on connections of
//! their own (each takes its accounts' locks in the order of their ids, so they never
//! deadlock).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::domain::core::Core;
use crate::domain::streams::{self, Limits, StartOutcome, StartRequest};
use crate::foundation::store::StoreError;

/// The most starts one transaction writes: on PostgreSQL a batch holds its accounts' locks
/// until it commits, so it stays short; the rest go into the next batch.
const MAX_BATCH: usize = 128;

/// The most batches written at once on PostgreSQL, each on a connection of the pool: at most
/// half of it, so other requests still find connections.
const MAX_POSTGRES_WRITERS: u32 = 4;

/// A start waiting for its batch.
pub(crate) struct Queued {
    pub account_id: String,
    pub request: StartRequest,
    pub limits: Limits,
}

type Reply = oneshot::Sender<Result<StartOutcome, StoreError>>;

#[derive(Default)]
struct Waiting {
    starts: Vec<(Queued, Reply)>,
    /// Writers under way; each takes what waits here when its batch is written.
    writers: usize,
}

/// The starts waiting for the next batch of this instance.
pub struct StartQueue {
    waiting: Mutex<Waiting>,
    max_writers: usize,
}

impl StartQueue {
    /// One writer at a time on SQLite; on PostgreSQL up to [`MAX_POSTGRES_WRITERS`], at most
    /// half of a pool of `pool_size`.
    pub(crate) fn new(sqlite: bool, pool_size: u32) -> Self {
        let max_writers = if sqlite {
            1
        } else {
            MAX_POSTGRES_WRITERS.min(pool_size / 2).max(1)
        };
        Self {
            waiting: Mutex::default(),
            max_writers: usize::try_from(max_writers).unwrap_or(1),
        }
    }

    /// Queues `start`; true when the caller must start a writer: none is under way, or on
    /// PostgreSQL every one is busy and there is room for another.
    fn push(&self, start: Queued, reply: Reply) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.starts.push((start, reply));
        let another = waiting.writers < self.max_writers;
        if another {
            waiting.writers += 1;
        }
        another
    }

    /// The next batch; empty when nothing waits, and then the writer is done.
    fn next_batch(&self) -> Vec<(Queued, Reply)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let take = waiting.starts.len().min(MAX_BATCH);
        if take == 0 {
            waiting.writers -= 1;
        }
        waiting.starts.drain(..take).collect()
    }
}

/// Starts `start` in the next batch and answers once that batch committed.
pub(crate) async fn start(core: &Arc<Core>, start: Queued) -> Result<StartOutcome, StoreError> {
    let (reply, answer) = oneshot::channel();
    if core.stream_starts.push(start, reply) {
        tokio::spawn(write_batches(Arc::clone(core)));
    }
    answer.await.map_err(|_| StoreError::TaskCancelled)?
}

/// Writes batches until nothing waits.
async fn write_batches(core: Arc<Core>) {
    loop {
        let batch = core.stream_starts.next_batch();
        if batch.is_empty() {
            return;
        }
        let (starts, replies): (Vec<Queued>, Vec<Reply>) = batch.into_iter().unzip();
        let writer = Arc::clone(&core);
        let written = core
            .store
            .run(move |conn| {
                let now = writer.clock.now();
                let lease_secs = writer.config.stream_lease_secs;
                Ok::<_, StoreError>(streams::start_all(
                    conn,
                    &writer.streams,
                    &starts,
                    lease_secs,
                    now,
                ))
            })
            .await;
        match written {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A start whose caller went away was written all the same.
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(for_each_start(&error)));
                }
            }
        }
    }
}

/// The batch's failure as each of its starts answers it. The batch's work never fails as a
/// whole (each start carries its own outcome), so only getting to run it can: no connection,
/// no answer in time, or the work cancelled.
fn for_each_start(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(cause) => StoreError::Unavailable(cause.clone()),
        _ => StoreError::TaskCancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_writes_one_batch_at_a_time_and_postgresql_a_few_with_half_the_pool_at_most() {
        let writers = |sqlite, pool_size| StartQueue::new(sqlite, pool_size).max_writers;
        assert_eq!(writers(true, 8), 1);
        assert_eq!(writers(false, 8), 4);
        assert_eq!(writers(false, 4), 2);
        assert_eq!(writers(false, 1), 1);
    }
}
