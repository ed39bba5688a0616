//! Scheduling priority of the server's threads. When content servers have a listener of their
//! own (`content_bind`), its worker must get the core as soon as a request arrives, also while
//! a burst of sign-ins, token requests and writes keeps the core busy: the rest of the work
//! runs a few `nice` levels below it and password hashing further below, so a burst lengthens
//! its own answers rather than introspection's. Linux applies `nice` to each thread.
//!
//! `nice` sets a thread's share of a busy core, not how soon it runs once woken: the kernel's
//! scheduler (EEVDF, Linux 6.6 and later) lets the running thread finish its slice, 0.7–3 ms,
//! whatever its `nice`. The content servers' worker therefore also asks for short slices,
//! which since Linux 6.12 let a woken thread take the core from one running a longer slice.
//! Where the operator allows it (`content_realtime_priority`), the worker runs in the kernel's
//! real-time class instead, and takes the core from every other thread as soon as it wakes.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
/// The slice the content servers' worker asks for: the shortest Linux grants. An answer takes
/// tens of microseconds of it, and a burst of them is cut into slices this long, so the
/// worker's share of the core stays what `nice` gives it (`benches/run --spike`,
/// docs/benchmarks.md).
pub const CONTENT_WORKER_SLICE: Duration = Duration::from_micros(100);

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

/// Asks the scheduler to run the calling thread in slices of [`CONTENT_WORKER_SLICE`], keeping
/// its `nice`. Kernels before 6.12 accept and ignore the request; a refusal changes nothing
/// but latency, so it is not an error.
pub fn ask_for_short_slices() {
    let _ = set_attributes(&SchedAttr::normal(CONTENT_WORKER_SLICE, current_nice()));
}

/// Moves the calling thread into the real-time class `SCHED_FIFO` at `priority` (1–99): once
/// woken, it runs ahead of every thread of the normal class, whatever their `nice` or slice,
/// until it waits again. By default the kernel keeps 5% of each core for the normal class
/// (`kernel.sched_rt_runtime_us`), so a real-time thread that never waits slows the rest of
/// its core without stopping it. Threads it starts run in the normal class again.
/// Refused without `CAP_SYS_NICE` or a large enough `RLIMIT_RTPRIO`.
pub fn run_in_real_time(priority: u8) -> std::io::Result<()> {
    set_attributes(&SchedAttr::real_time(priority))
}

/// Whether this process may run a thread in the real-time class at `priority`: asked on a
/// thread started for the question, which ends with it.
pub fn may_run_in_real_time(priority: u8) -> std::io::Result<()> {
    std::thread::spawn(move || run_in_real_time(priority))
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the thread asking for real time panicked")))
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

/// `struct sched_attr` of `<linux/sched/types.h>`, its first version (48 bytes): what
/// `sched_setattr(2)` sets for a thread.
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    /// Normal class only; the call sets it too, so callers pass the thread's own.
    nice: i32,
    /// Real-time class only, 1–99.
    priority: u32,
    /// Normal class only: the slice asked for, in nanoseconds (Linux 6.12 and later).
    runtime: u64,
    deadline: u64,
    period: u64,
}

impl SchedAttr {
    const SCHED_NORMAL: u32 = 0;
    const SCHED_FIFO: u32 = 1;
    /// Threads the thread starts get the normal class and a `nice` of at least 0.
    const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;

    fn normal(slice: Duration, nice: i32) -> Self {
        Self {
            policy: Self::SCHED_NORMAL,
            nice,
            runtime: u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX),
            ..Self::empty()
        }
    }

    fn real_time(priority: u8) -> Self {
        Self {
            policy: Self::SCHED_FIFO,
            flags: Self::SCHED_FLAG_RESET_ON_FORK,
            priority: u32::from(priority),
            ..Self::empty()
        }
    }

    fn empty() -> Self {
        Self {
            size: std::mem::size_of::<Self>() as u32,
            policy: Self::SCHED_NORMAL,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: 0,
            deadline: 0,
            period: 0,
        }
    }
}

/// `sched_setattr(2)` for the calling thread. No safe wrapper of this system call exists
/// (rustix and nix have none), so this is the one place the crate allows `unsafe`
/// (`tests/layers` keeps it so).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_attributes(attr: &SchedAttr) -> std::io::Result<()> {
    // SAFETY: the kernel reads `attr.size` bytes from the pointer, and `attr` is an
    // initialised `#[repr(C)]` value of exactly that size that outlives the call; pid 0 is
    // the calling thread and flags must be 0.
    let result = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, std::ptr::from_ref(attr), 0) };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_attributes(attr: &SchedAttr) -> std::io::Result<()> {
    if attr.policy == SchedAttr::SCHED_FIFO {
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    Ok(())
}

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

    /// A field of this thread's `/proc/thread-self/sched` (Linux 6.6 and later): `se.slice`,
    /// the slice it runs in; `policy`, its class (0 normal, 1 `SCHED_FIFO`).
    #[cfg(target_os = "linux")]
    fn this_threads<T: std::str::FromStr>(field: &str) -> Option<T> {
        let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
        let line = sched
            .lines()
            .find(|line| line.split_whitespace().next() == Some(field))?;
        line.rsplit(':').next()?.trim().parse().ok()
    }

    #[cfg(target_os = "linux")]
    fn this_threads_slice() -> Option<u64> {
        this_threads("se.slice")
    }

    #[cfg(target_os = "linux")]
    fn this_threads_policy() -> Option<u32> {
        this_threads("policy")
    }

    /// Slices of a thread's choosing came with Linux 6.12.
    #[cfg(target_os = "linux")]
    fn kernel_grants_chosen_slices() -> bool {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut numbers = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (6, 12)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_asking_for_short_slices_gets_them_and_others_keep_theirs() {
        let asked = std::thread::spawn(|| {
            ask_for_short_slices();
            this_threads_slice()
        })
        .join();
        if kernel_grants_chosen_slices() {
            let expected = u64::try_from(CONTENT_WORKER_SLICE.as_nanos()).ok();
            assert_eq!(asked.ok().flatten(), expected);
            assert_ne!(this_threads_slice(), expected);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn asking_for_short_slices_keeps_the_threads_priority() {
        let base = current_nice();
        let after = std::thread::spawn(move || {
            set_this_thread(Some((base + 3).min(LOWEST)));
            ask_for_short_slices();
            current_nice()
        })
        .join();
        assert_eq!(after.ok(), Some((base + 3).min(LOWEST)));
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

    // The test command runs as root: the kernel grants real time.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_moved_to_real_time_runs_in_sched_fifo_and_others_keep_the_normal_class() {
        let moved = std::thread::spawn(|| run_in_real_time(1).map(|()| this_threads_policy())).join();
        assert_eq!(moved.ok().and_then(Result::ok), Some(Some(1)));
        assert_eq!(this_threads_policy(), Some(0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn threads_started_by_a_real_time_thread_run_in_the_normal_class() {
        let started = std::thread::spawn(|| {
            run_in_real_time(1)?;
            std::thread::spawn(this_threads_policy)
                .join()
                .map_err(|_| std::io::Error::other("panicked"))
        })
        .join();
        assert_eq!(started.ok().and_then(Result::ok), Some(Some(0)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn asking_whether_real_time_is_allowed_leaves_the_asking_thread_in_the_normal_class() {
        assert!(may_run_in_real_time(1).is_ok());
        assert_eq!(this_threads_policy(), Some(0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_real_time_priority_outside_1_to_99_is_refused_by_the_kernel() {
        let refused = std::thread::spawn(|| run_in_real_time(100).map_err(|error| error.kind())).join();
        assert_eq!(refused.ok(), Some(Err(std::io::ErrorKind::InvalidInput)));
    }
}
