//! Writes the stream heartbeats an instance answered from memory to the database in batches,
//! and once a minute deletes streams whose lease ran out and counts the live ones.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::core::Core;
use crate::domain::streams;

const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub(crate) fn spawn(core: Arc<Core>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(core.config.stream_write_interval_ms);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep: Option<tokio::time::Instant> = None;
        loop {
            ticker.tick().await;
            write_leases(&core).await;
            if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                last_sweep = Some(tokio::time::Instant::now());
                sweep(&core, interval).await;
            }
        }
    })
}

/// Writes what is pending; the batch stays for the next try when the database is away.
pub(crate) async fn write_leases(core: &Arc<Core>) {
    if let Err(error) = streams::write_leases(core).await {
        tracing::warn!(%error, "writing stream heartbeats failed; they are kept for the next write");
    }
}

async fn sweep(core: &Arc<Core>, write_interval: Duration) {
    let now = core.clock.now();
    // A heartbeat answered elsewhere reaches the database one write interval later at most.
    let margin = i64::try_from(write_interval.as_secs()).unwrap_or(0) + 1;
    let swept = core
        .store
        .run(move |conn| streams::sweep(conn, now, margin))
        .await;
    if let Err(error) = swept {
        tracing::warn!(%error, "sweeping expired streams failed");
    }
}
