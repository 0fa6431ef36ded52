//! A small team of threads for the phases of a batch, and a way to hand
//! the chunks of one buffer to whichever thread claims them first.
//!
//! A batch of 32 MNIST samples takes tens of microseconds, so starting
//! threads per batch (`std::thread::scope`: about 15 µs per thread) or
//! waking sleeping ones (a futex: several microseconds) would cost as much
//! as the work. A [`Team`]'s workers instead spin briefly between jobs and
//! only then sleep, and [`Team::run`] hands every thread the same job, a
//! closure that may borrow the caller's data, and returns once all have
//! finished it. Which thread does what must not change any result: jobs
//! claim disjoint pieces of work through [`Claims`], and every value is
//! computed by one thread with one fixed sequence of operations.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// The number of threads to use by default: every core this process may run on.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How long a worker spins for the next job before it sleeps: long enough
/// to bridge the optimizer step between two batches (tens of microseconds),
/// short enough not to keep a core busy when training has stopped.
const SPIN_ROUNDS: u32 = 1 << 16;

/// A job as the workers see it: its lifetime erased, see [`Team::run`].
type Job = *const (dyn Fn(usize) + Sync + 'static);

struct Shared {
    /// The current job; written only while no worker runs one.
    job: UnsafeCell<Option<Job>>,
    /// Bumped once per job; workers wait for it to change.
    generation: AtomicU64,
    /// Workers that have not finished the current job.
    remaining: AtomicUsize,
    /// Workers asleep (or about to sleep) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    /// Set when the team is dismissed.
    stop: AtomicBool,
    /// A worker's job panicked; its payload is re-raised on the caller's thread.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `job` is written by the thread that owns the team only while no
// worker reads it (between the end of one job, awaited through `remaining`,
// and the release of the next `generation`), and read by workers only after
// acquiring a `generation` published after the write. The job it points to
// is `Sync`, so workers may call it concurrently.
unsafe impl Sync for Shared {}

/// Threads that run the same job together; made by [`with_team`].
pub struct Team<'scope> {
    shared: &'scope Shared,
    threads: usize,
}

/// Runs `body` with a team of `threads` threads (the caller's thread
/// counts as one; `threads` of 0 is taken as 1), then dismisses the team.
pub fn with_team<R>(threads: usize, body: impl FnOnce(&Team<'_>) -> R) -> R {
    let threads = threads.max(1);
    let shared = Shared {
        job: UnsafeCell::new(None),
        generation: AtomicU64::new(0),
        remaining: AtomicUsize::new(0),
        sleepers: AtomicUsize::new(0),
        lock: Mutex::new(()),
        wake: Condvar::new(),
        stop: AtomicBool::new(false),
        panic: Mutex::new(None),
    };
    std::thread::scope(|scope| {
        for index in 1..threads {
            let shared = &shared;
            std::thread::Builder::new()
                .name(format!("mlp-worker-{index}"))
                .spawn_scoped(scope, move || work(shared, index))
                .expect("cannot start a worker thread");
        }
        let team = Team { shared: &shared, threads };
        // Dismissed even if `body` panics, so that the scope can join the workers.
        struct Dismiss<'a>(&'a Shared);
        impl Drop for Dismiss<'_> {
            fn drop(&mut self) {
                self.0.stop.store(true, Ordering::SeqCst);
                self.0.generation.fetch_add(1, Ordering::SeqCst);
                let _guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.0.wake.notify_all();
            }
        }
        let _dismiss = Dismiss(&shared);
        body(&team)
    })
}

impl Team<'_> {
    /// Threads in the team, the caller's included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `job(i)` once on each thread `i` of the team (0 is the
    /// caller's) and returns when every call has returned. A panic in any
    /// call is re-raised here, after all calls have ended.
    pub fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 {
            job(0);
            return;
        }
        let shared = self.shared;
        // SAFETY: the lifetime is erased only for the workers' copy, which
        // they use only until they decrement `remaining`; this function
        // does not return before `remaining` is 0, so `job` outlives every use.
        let erased: Job = unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), Job>(job) };
        // SAFETY: no worker is running a job (the last `run` waited for all of
        // them), so none reads `job` now; see `Shared`.
        unsafe { *shared.job.get() = Some(erased) };
        shared.remaining.store(self.threads - 1, Ordering::SeqCst);
        shared.generation.fetch_add(1, Ordering::SeqCst);
        if shared.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            shared.wake.notify_all();
        }
        let own = catch_unwind(AssertUnwindSafe(|| job(0)));
        let mut rounds = 0u32;
        while shared.remaining.load(Ordering::Acquire) != 0 {
            rounds = rounds.saturating_add(1);
            if rounds < SPIN_ROUNDS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if let Err(payload) = own {
            resume_unwind(payload);
        }
        if let Some(payload) = shared.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            resume_unwind(payload);
        }
    }
}

/// A worker: waits for each new job, runs its part, reports it done.
fn work(shared: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        seen = wait_for_job(shared, seen);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: the job was written before `generation` was released and
        // stays valid until this worker decrements `remaining` (see `run`).
        let job = unsafe { (*shared.job.get()).map(|job| &*job) };
        if let Some(job) = job
            && let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(index)))
        {
            shared.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
        }
        shared.remaining.fetch_sub(1, Ordering::Release);
    }
}

/// Spins, then sleeps, until `generation` moves past `seen`; returns it.
fn wait_for_job(shared: &Shared, seen: u64) -> u64 {
    for _ in 0..SPIN_ROUNDS {
        let now = shared.generation.load(Ordering::Acquire);
        if now != seen {
            return now;
        }
        std::hint::spin_loop();
    }
    let mut guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
    // Counted before the last look at `generation` (both sequentially
    // consistent, as is `run`'s bump then look at `sleepers`): either `run`
    // sees this sleeper and wakes it, or this look sees the new job.
    shared.sleepers.fetch_add(1, Ordering::SeqCst);
    let now = loop {
        let now = shared.generation.load(Ordering::SeqCst);
        if now != seen {
            break now;
        }
        guard = shared.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
    };
    shared.sleepers.fetch_sub(1, Ordering::SeqCst);
    now
}

/// The chunks of a mutable slice, each handed out once to whichever thread
/// claims it: disjoint `&mut` pieces of one buffer for threads that share
/// only `&Claims`.
pub struct Claims<'a, T> {
    ptr: *mut T,
    len: usize,
    chunk: usize,
    next: AtomicUsize,
    buffer: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Claims` is an exclusive borrow of the slice, handed out as
// disjoint `&mut` chunks: sharing it between threads shares no element.
unsafe impl<T: Send> Sync for Claims<'_, T> {}
// SAFETY: as above; it owns nothing but the borrow.
unsafe impl<T: Send> Send for Claims<'_, T> {}

impl<'a, T> Claims<'a, T> {
    /// `slice` in chunks of `chunk` elements (the last one may be shorter).
    pub fn new(slice: &'a mut [T], chunk: usize) -> Self {
        Claims {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            chunk: chunk.max(1),
            next: AtomicUsize::new(0),
            buffer: PhantomData,
        }
    }

    /// Number of chunks.
    pub fn count(&self) -> usize {
        self.len.div_ceil(self.chunk)
    }

    /// The next unclaimed chunk and its index, or `None` when all are taken.
    pub fn claim(&self) -> Option<(usize, &'a mut [T])> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let start = index.checked_mul(self.chunk).filter(|&s| s < self.len)?;
        let len = self.chunk.min(self.len - start);
        // SAFETY: `fetch_add` returns each index once, so each chunk (in
        // bounds, disjoint from every other) is handed out at most once; the
        // slice stays borrowed for `'a`, so nothing else touches it meanwhile.
        Some((index, unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_runs_every_job_and_claims_are_disjoint() {
        for threads in [1, 2, 3, 5] {
            with_team(threads, |team| {
                assert_eq!(team.threads(), threads);
                let mut data = vec![0u32; 1000];
                for round in 1..=50u32 {
                    let claims = Claims::new(&mut data, 7);
                    assert_eq!(claims.count(), 143);
                    let ran = AtomicUsize::new(0);
                    team.run(&|_| {
                        ran.fetch_add(1, Ordering::Relaxed);
                        while let Some((index, chunk)) = claims.claim() {
                            for v in chunk.iter_mut() {
                                assert_eq!(*v, round - 1, "chunk {index} claimed twice");
                                *v = round;
                            }
                        }
                    });
                    assert_eq!(ran.into_inner(), threads);
                }
                assert!(data.iter().all(|&v| v == 50));
            });
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_and_the_team_still_ends() {
        let result = std::panic::catch_unwind(|| {
            with_team(3, |team| {
                team.run(&|i| {
                    if i == 2 {
                        panic!("worker {i} failed");
                    }
                });
            })
        });
        let payload = result.unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("worker 2 failed"));
    }

    #[test]
    fn workers_asleep_wake_up_for_the_next_job() {
        with_team(2, |team| {
            let count = AtomicUsize::new(0);
            team.run(&|_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
            // Long enough for the worker to stop spinning and sleep.
            std::thread::sleep(std::time::Duration::from_millis(300));
            team.run(&|_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(count.into_inner(), 4);
        });
    }
}
