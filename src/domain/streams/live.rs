//! The stream leases an instance holds in memory, so a heartbeat costs no database round
//! trip, and the lease extensions it has answered and not yet written.
//!
//! Memory is a cache of the database, never the other way round: a lease that is missing,
//! or that memory believes over, is read again from the database before a heartbeat is
//! refused; a stream ended anywhere is dropped from memory (here at once, elsewhere through
//! the change feed), and a write that finds a stream gone drops it too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use quick_cache::UnitWeighter;
use quick_cache::sync::Cache;

use crate::foundation::store::streams::Stream;

/// What a heartbeat needs to know about a stream.
pub(crate) struct Lease {
    pub client_id: String,
    expires_at: AtomicI64,
}

impl Lease {
    pub(crate) fn expires_at(&self) -> i64 {
        self.expires_at.load(Ordering::Relaxed)
    }

    /// Moves the lease to `expires_at` unless it already ends later.
    fn extend(&self, expires_at: i64) {
        self.expires_at.fetch_max(expires_at, Ordering::Relaxed);
    }
}

type Leases = Cache<String, Arc<Lease>, UnitWeighter, foldhash::fast::RandomState>;

pub struct LiveStreams {
    leases: Leases,
    /// Lease ends answered since the last write, by stream id.
    unwritten: Mutex<HashMap<String, i64, foldhash::fast::RandomState>>,
}

impl LiveStreams {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            leases: Cache::with(
                capacity,
                u64::try_from(capacity).unwrap_or(u64::MAX),
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                Default::default(),
            ),
            unwritten: Mutex::default(),
        }
    }

    pub(crate) fn get(&self, stream_id: &str) -> Option<Arc<Lease>> {
        self.leases.get(stream_id)
    }

    /// Holds `stream` as the database has it.
    pub(crate) fn hold(&self, stream: &Stream) -> Arc<Lease> {
        let lease = Arc::new(Lease {
            client_id: stream.client_id.clone(),
            expires_at: AtomicI64::new(stream.expires_at),
        });
        self.leases.insert(stream.id.clone(), Arc::clone(&lease));
        lease
    }

    /// Extends a held lease to `expires_at`, to be written with the next batch.
    pub(crate) fn extend(&self, stream_id: &str, lease: &Lease, expires_at: i64) {
        lease.extend(expires_at);
        let mut unwritten = self.unwritten.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = unwritten.entry(stream_id.to_owned()).or_insert(expires_at);
        *pending = (*pending).max(expires_at);
    }

    /// Forgets streams that ended.
    pub(crate) fn forget<'a>(&self, stream_ids: impl IntoIterator<Item = &'a String>) {
        let mut unwritten = self.unwritten.lock().unwrap_or_else(PoisonError::into_inner);
        for stream_id in stream_ids {
            self.leases.remove(stream_id);
            unwritten.remove(stream_id);
        }
    }

    /// Takes the lease extensions not written yet.
    pub(crate) fn take_unwritten(&self) -> Vec<(String, i64)> {
        let mut unwritten = self.unwritten.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *unwritten).into_iter().collect()
    }

    /// Puts back extensions whose write failed, unless newer ones came meanwhile.
    pub(crate) fn restore_unwritten(&self, leases: Vec<(String, i64)>) {
        let mut unwritten = self.unwritten.lock().unwrap_or_else(PoisonError::into_inner);
        for (stream_id, expires_at) in leases {
            let pending = unwritten.entry(stream_id).or_insert(expires_at);
            *pending = (*pending).max(expires_at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(id: &str, expires_at: i64) -> Stream {
        Stream {
            id: id.into(),
            account_id: "account".into(),
            viewer_id: "account".into(),
            client_id: "cdn".into(),
            device_id: "tv".into(),
            content: None,
            started_at: 0,
            expires_at,
        }
    }

    #[test]
    fn an_extension_is_written_once_with_its_latest_end() {
        let live = LiveStreams::new(10);
        let lease = live.hold(&stream("s", 100));
        live.extend("s", &lease, 150);
        live.extend("s", &lease, 140);
        assert_eq!(lease.expires_at(), 150);
        assert_eq!(live.take_unwritten(), vec![("s".to_owned(), 150)]);
        assert!(live.take_unwritten().is_empty());
    }

    #[test]
    fn a_forgotten_stream_is_neither_held_nor_written() {
        let live = LiveStreams::new(10);
        let lease = live.hold(&stream("s", 100));
        live.extend("s", &lease, 150);
        live.forget([&"s".to_owned()]);
        assert!(live.get("s").is_none());
        assert!(live.take_unwritten().is_empty());
    }

    #[test]
    fn a_failed_write_is_retried_with_the_newest_end() {
        let live = LiveStreams::new(10);
        let lease = live.hold(&stream("s", 100));
        live.extend("s", &lease, 150);
        let batch = live.take_unwritten();
        live.extend("s", &lease, 180);
        live.restore_unwritten(batch);
        assert_eq!(live.take_unwritten(), vec![("s".to_owned(), 180)]);
    }
}
