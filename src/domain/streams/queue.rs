//! Group commit of starts: the starts that arrive while one batch is being written wait
//! together and are written in the next, one transaction for all of them. A transaction's
//! fixed cost (on SQLite its commit and the page cache every other connection then reloads,
//! on PostgreSQL a round trip and a WAL flush) is paid once per batch instead of once per
//! start, and on SQLite the starts no longer queue for the single write lock one by one.
//!
//! Nothing waits on a timer: the first start to find no batch under way writes at once, and
//! whatever came meanwhile forms the next batch, so a lone start is not delayed.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::domain::core::Core;
use crate::domain::streams::{self, Limits, StartOutcome, StartRequest};
use crate::foundation::store::StoreError;

/// The most starts one transaction writes: on PostgreSQL a batch holds its accounts' locks
/// until it commits, so it stays short; the rest go into the next batch.
const MAX_BATCH: usize = 128;

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
    /// A writer is under way and will take what waits here.
    writing: bool,
}

/// The starts waiting for the next batch of this instance.
#[derive(Default)]
pub struct StartQueue {
    waiting: Mutex<Waiting>,
}

impl StartQueue {
    /// Queues `start`; true when no writer is under way and the caller must start one.
    fn push(&self, start: Queued, reply: Reply) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.starts.push((start, reply));
        !std::mem::replace(&mut waiting.writing, true)
    }

    /// The next batch; empty when nothing waits, and then the writer is done.
    fn next_batch(&self) -> Vec<(Queued, Reply)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let take = waiting.starts.len().min(MAX_BATCH);
        if take == 0 {
            waiting.writing = false;
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
