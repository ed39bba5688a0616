//! Scheduling priority of the server's threads. When content servers have a listener of their
//! own (`content_bind`), its worker must get the core as soon as a request arrives, also while
//! a burst of sign-ins, token requests and writes keeps the core busy: the rest of the work
//! runs a few `nice` levels below it and password hashing further below, so a burst lengthens
//! its own answers rather than introspection's. Linux applies `nice` to each thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many `nice` levels below the content servers' worker the other threads run (measured
/// with `benches/run --spike`, docs/benchmarks.md). The database threads run closest to it:
/// they hold pooled connections, and a burst waits in line for them. The reads introspection
/// waits on run on threads of their own at the worker's priority (src/foundation/store).
const DATABASE_LEVELS: i32 = 8;
/// The public listener's workers: pages, token requests, the admin API.
const PUBLIC_LEVELS: i32 = 12;
/// argon2: in a burst, sign-ins wait longest.
const PASSWORD_LEVELS: i32 = 15;
/// argon2 when there is no content servers' listener: below the workers that answer
/// everything else, so that a sign-in storm takes at most about a quarter of a saturated core
/// from them (`benches/run --storm`), without stalling sign-ins the way 15 levels would.
const PASSWORD_LEVELS_WITHOUT_CONTENT_LISTENER: i32 = 5;
/// The lowest priority Linux has.
const LOWEST: i32 = 19;

/// `nice` values for the threads that are not the content servers' worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadPriorities {
    /// The public listener's workers.
    pub public: i32,
    /// The threads running database work.
    pub database: i32,
    /// The threads running argon2.
    pub password: i32,
}

impl ThreadPriorities {
    /// Below the calling thread's priority, which the content servers' worker keeps.
    pub fn below_this_thread() -> Self {
        let base = current_nice();
        Self {
            public: (base + PUBLIC_LEVELS).min(LOWEST),
            database: (base + DATABASE_LEVELS).min(LOWEST),
            password: (base + PASSWORD_LEVELS).min(LOWEST),
        }
    }

    /// Without a content servers' listener: every worker at the calling thread's priority,
    /// database work too (on threads of its own, which argon2 never lowers), argon2 below.
    pub fn argon2_below_this_thread() -> Self {
        let base = current_nice();
        Self {
            public: base,
            database: base,
            password: (base + PASSWORD_LEVELS_WITHOUT_CONTENT_LISTENER).min(LOWEST),
        }
    }
}

/// Times a thread was asked for a higher priority than it had, and kept its own.
static RAISES_REFUSED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's `nice`, once read or given here: a pooled thread pays the system calls
    /// only when its priority first falls.
    static NICE: Cell<Option<i32>> = const { Cell::new(None) };
}

/// Lowers the calling thread's priority to `nice`; `None` leaves it as it is. A thread's
/// priority only ever goes down: a process without `CAP_SYS_NICE` cannot raise it again, so
/// each kind of work runs on threads born at or above its level (the database's on
/// threads of its own, src/foundation/store), and a request to raise is counted and ignored.
pub fn set_this_thread(nice: Option<i32>) {
    let Some(nice) = nice else { return };
    NICE.with(|known| {
        let current = known.get().unwrap_or_else(current_nice);
        if nice > current {
            apply(nice);
            known.set(Some(nice));
        } else {
            if nice < current {
                RAISES_REFUSED.fetch_add(1, Ordering::Relaxed);
            }
            known.set(Some(current));
        }
    });
}

/// How many times a thread of this process was asked to raise its priority
/// ([`set_this_thread`] keeps every thread's priority falling).
pub fn raises_refused() -> u64 {
    RAISES_REFUSED.load(Ordering::Relaxed)
}

#[cfg(target_os = "linux")]
fn apply(nice: i32) {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice);
}

#[cfg(not(target_os = "linux"))]
fn apply(_nice: i32) {}

#[cfg(target_os = "linux")]
pub(crate) fn current_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn current_nice() -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_content_listener_only_argon2_runs_below() {
        let base = current_nice();
        let priorities = ThreadPriorities::argon2_below_this_thread();
        assert_eq!((priorities.public, priorities.database), (base, base));
        assert_eq!(
            priorities.password,
            (base + PASSWORD_LEVELS_WITHOUT_CONTENT_LISTENER).min(LOWEST)
        );
    }

    #[test]
    fn database_work_runs_closest_to_the_content_worker_and_passwords_lowest() {
        let base = current_nice();
        let priorities = ThreadPriorities::below_this_thread();
        assert_eq!(priorities.database, (base + DATABASE_LEVELS).min(LOWEST));
        assert_eq!(priorities.public, (base + PUBLIC_LEVELS).min(LOWEST));
        assert_eq!(priorities.password, (base + PASSWORD_LEVELS).min(LOWEST));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_given_a_lower_priority_runs_at_it_and_others_keep_theirs() {
        let base = current_nice();
        let lowered = std::thread::spawn(move || {
            set_this_thread(Some((base + 4).min(LOWEST)));
            current_nice()
        })
        .join();
        assert_eq!(lowered.ok(), Some((base + 4).min(LOWEST)));
        assert_eq!(current_nice(), base);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lowered_thread_is_not_raised_again() {
        let base = current_nice();
        let refused_before = raises_refused();
        let after = std::thread::spawn(move || {
            set_this_thread(Some((base + 6).min(LOWEST)));
            set_this_thread(Some((base + 2).min(LOWEST)));
            current_nice()
        })
        .join();
        assert_eq!(after.ok(), Some((base + 6).min(LOWEST)));
        assert!(base + 6 > LOWEST || raises_refused() > refused_before);
    }
}
