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
use std::time::{Duration, Instant};

/// The number of threads to use by default: every core this process may run on.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How long an idle worker spins for the next job before it sleeps: long
/// enough to bridge the optimizer step between two phases (tens of
/// microseconds), short enough not to hold a core that others could use.
const IDLE_SPIN: Duration = Duration::from_micros(200);

/// A job as the workers see it: its lifetime erased, see [`Team::run`].
type Job = *const (dyn Fn(usize) + Sync + 'static);

/// `state`'s layout: the job's generation above bit 32, whether it may
/// still be joined in bit 31, and how many workers are in it below.
const OPEN: u64 = 1 << 31;
const GENERATION: u64 = 1 << 32;
const IN_JOB: u64 = OPEN - 1;

struct Shared {
    /// The current job; written only while no worker is in one.
    job: UnsafeCell<Option<Job>>,
    /// Generation, open bit and workers in the job (see [`OPEN`]).
    state: AtomicU64,
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
// worker is in a job (`run` closes each job and waits until none is in it
// before it returns), and read by a worker only after it has joined an open
// job, which was published (with release ordering) after the write. The job
// it points to is `Sync`, so workers may call it concurrently.
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
        state: AtomicU64::new(0),
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
                self.0.state.fetch_add(GENERATION, Ordering::SeqCst);
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

    /// Calls `job(i)` on the caller's thread (`i` = 0) and on every worker
    /// `i` that joins in time, and returns when all those calls have
    /// returned. A job must therefore get all its work done whichever
    /// threads run it, the caller's alone included: it claims its work as it
    /// goes ([`Claims`]) rather than dividing it by thread. A worker that the
    /// operating system has not run by the time the caller has finished
    /// everything skips the job, so a busy machine slows the team down to one
    /// thread at worst, never to the pace of a thread that is not running. A
    /// panic in any call is re-raised here, after all calls have ended.
    pub fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 {
            job(0);
            return;
        }
        let shared = self.shared;
        // SAFETY: the lifetime is erased only for the workers' copy, which a
        // worker uses only between joining the job and leaving it; this
        // function closes the job and waits until no worker is in it before
        // it returns, so `job` outlives every use.
        let erased: Job = unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), Job>(job) };
        // SAFETY: no worker is in a job (the last `run` waited for that), so none reads `job`.
        unsafe { *shared.job.get() = Some(erased) };
        let generation = shared.state.load(Ordering::SeqCst) & !(OPEN | IN_JOB);
        shared.state.store(generation + GENERATION + OPEN, Ordering::SeqCst);
        if shared.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            shared.wake.notify_all();
        }
        let own = catch_unwind(AssertUnwindSafe(|| job(0)));
        // Closed: workers not in it by now stay out. Then wait for those in it.
        shared.state.fetch_and(!OPEN, Ordering::SeqCst);
        let start = Instant::now();
        while shared.state.load(Ordering::Acquire) & IN_JOB != 0 {
            if start.elapsed() < IDLE_SPIN {
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

/// A worker: joins each new job while it is open, runs it, leaves it.
fn work(shared: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        let state = wait_for_job(shared, seen);
        seen = state & !(OPEN | IN_JOB);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if !join(shared, seen) {
            continue;
        }
        // SAFETY: the job was written before it was opened, and stays valid
        // until this worker leaves it (see `run`).
        let job = unsafe { (*shared.job.get()).map(|job| &*job) };
        if let Some(job) = job
            && let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(index)))
        {
            shared.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
        }
        shared.state.fetch_sub(1, Ordering::Release);
    }
}

/// Enters job `generation` if it is still open.
fn join(shared: &Shared, generation: u64) -> bool {
    let mut state = shared.state.load(Ordering::Acquire);
    loop {
        if state & !(OPEN | IN_JOB) != generation || state & OPEN == 0 {
            return false;
        }
        match shared.state.compare_exchange_weak(state, state + 1, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => state = now,
        }
    }
}

/// Spins, then sleeps, until a job newer than generation `seen` is
/// published (or the team is dismissed); returns the state then.
fn wait_for_job(shared: &Shared, seen: u64) -> u64 {
    let newer = |state: u64| state & !(OPEN | IN_JOB) != seen;
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let state = shared.state.load(Ordering::Acquire);
        if newer(state) {
            return state;
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) && start.elapsed() > IDLE_SPIN {
            break;
        }
    }
    let mut guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
    // Counted before the last look at `state` (both sequentially consistent,
    // as are `run`'s publication then look at `sleepers`): either `run` sees
    // this sleeper and wakes it, or this look sees the new job.
    shared.sleepers.fetch_add(1, Ordering::SeqCst);
    let state = loop {
        let state = shared.state.load(Ordering::SeqCst);
        if newer(state) {
            break state;
        }
        guard = shared.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
    };
    shared.sleepers.fetch_sub(1, Ordering::SeqCst);
    state
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
                    // The caller always runs it; workers that are late may skip it.
                    assert!((1..=threads).contains(&ran.into_inner()));
                }
                assert!(data.iter().all(|&v| v == 50));
            });
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_and_the_team_still_ends() {
        let result = std::panic::catch_unwind(|| {
            with_team(3, |team| {
                let joined = AtomicUsize::new(0);
                team.run(&|i| {
                    joined.fetch_add(1, Ordering::SeqCst);
                    // The caller's thread holds the job open until every worker is in it.
                    let start = Instant::now();
                    while i == 0 && joined.load(Ordering::SeqCst) < 3 && start.elapsed() < Duration::from_secs(10) {
                        std::thread::yield_now();
                    }
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
            let mut data = vec![0u8; 64];
            for _ in 0..2 {
                let claims = Claims::new(&mut data, 1);
                let workers = AtomicUsize::new(0);
                team.run(&|i| {
                    while let Some((_, chunk)) = claims.claim() {
                        chunk[0] += 1;
                        if i == 1 {
                            workers.fetch_add(1, Ordering::Relaxed);
                            // Slow enough that the caller's thread finishes
                            // its share first and waits for this one.
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                });
                // Long enough for the worker to stop spinning and sleep.
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            assert!(data.iter().all(|&v| v == 2), "every chunk done once per job");
        });
    }
}
