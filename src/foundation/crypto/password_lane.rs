//! Password hashing's own lane. argon2id is expensive on purpose (19 MiB and tens of
//! milliseconds of a core per call): unbounded, a sign-in storm takes every core and gigabytes
//! of memory from introspection and token issuance. At most `slots` computations run at once
//! and at most `queue` more wait; beyond that a caller hears [`LaneError::Busy`] at once, and
//! the page asks the person to try again in a moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::foundation::priority;

#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    #[error("password checks are at capacity")]
    Busy,
    #[error("the password task failed")]
    Failed,
}

pub struct PasswordLane {
    slots: Arc<Semaphore>,
    /// Callers running or waiting.
    admitted: AtomicUsize,
    capacity: usize,
    /// Password checks that ran to their end.
    completed: AtomicU64,
    /// The `nice` of the threads running them; `None`: as the process.
    thread_nice: Option<i32>,
}

impl PasswordLane {
    pub fn new(slots: usize, queue: usize) -> Self {
        let slots = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: AtomicUsize::new(0),
            capacity: slots + queue,
            completed: AtomicU64::new(0),
            thread_nice: None,
        }
    }

    /// The same lane, its checks running at the priority `nice` (src/foundation/priority.rs).
    pub fn with_thread_nice(self, nice: i32) -> Self {
        Self {
            thread_nice: Some(nice),
            ..self
        }
    }

    /// How many password checks ran to their end on this instance.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Runs `work` (argon2) on the blocking pool once a slot is free, or refuses at once when
    /// the lane is full.
    pub async fn run<T, F>(&self, work: F) -> Result<T, LaneError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _admission = Admission::enter(&self.admitted, self.capacity).ok_or(LaneError::Busy)?;
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| LaneError::Failed)?;
        // The slot goes with the work: a caller that gives up does not free it early.
        let thread_nice = self.thread_nice;
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            priority::set_this_thread(thread_nice);
            work()
        })
        .await
        .map_err(|_| LaneError::Failed)?;
        self.completed.fetch_add(1, Ordering::SeqCst);
        Ok(done)
    }
}

/// A place in the lane, given back when the caller leaves it.
struct Admission<'a>(&'a AtomicUsize);

impl<'a> Admission<'a> {
    fn enter(admitted: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        if admitted.fetch_add(1, Ordering::SeqCst) >= capacity {
            admitted.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(admitted))
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Occupies the lane's one slot until the returned sender is dropped.
    async fn hold_the_slot(lane: &Arc<PasswordLane>) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let lane = Arc::clone(lane);
        tokio::spawn(async move {
            lane.run(move || {
                let _ = started.send(());
                let _ = held.recv();
            })
            .await
        });
        let _ = running.await;
        release
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_lane_refuses_at_once() -> Result<(), LaneError> {
        let lane = Arc::new(PasswordLane::new(1, 0));
        let release = hold_the_slot(&lane).await;
        assert!(matches!(lane.run(|| ()).await, Err(LaneError::Busy)));
        drop(release);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        lane.run(|| ()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_wait_in_the_queue_for_a_slot() -> Result<(), LaneError> {
        let lane = Arc::new(PasswordLane::new(1, 1));
        let release = hold_the_slot(&lane).await;
        let waiting = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move { lane.run(|| 7).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            matches!(lane.run(|| ()).await, Err(LaneError::Busy)),
            "queue full"
        );
        drop(release);
        assert_eq!(waiting.await.map_err(|_| LaneError::Failed)??, 7);
        Ok(())
    }
}
