//! The threads attn's CPU kernels run on.
//!
//! The kernels split their work with rayon. Called from a thread outside rayon's pool, every
//! parallel call is handed to a pool thread and the caller sleeps until it is done: a futex
//! wake-up and a sleep per matrix product, which on a small model costs more than the product
//! (a quarter of a Fashion-MNIST ViT epoch on a 2-core machine). [`join_worker_pool`] makes the
//! calling thread one of the pool's workers instead, so a parallel call starts on the caller
//! and only the other halves go to the other threads.
//!
//! **PyTorch equivalent**: `torch.set_num_threads(n)` at the start of a script: PyTorch's
//! OpenMP intra-op pool counts the calling thread as its thread 0 in the same way.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Makes the calling thread worker 0 of rayon's global pool, which gets as many threads as
/// `RAYON_NUM_THREADS` says or one per core, this one included. Call it once, first thing in
/// `main`, before anything runs in parallel; attn's binaries do. Returns the pool's thread
/// count, or `None` when the global pool already existed (then nothing changes: parallel
/// calls from this thread keep the hand-off, and results are the same either way).
///
/// A thread that joins the pool does not pick up work spawned into it while it runs its own
/// code, so call it from the thread that drives the computation (a program's main thread), not
/// from a thread that should serve as a background worker.
pub fn join_worker_pool() -> Option<NonZeroUsize> {
    rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global()
        .ok()?;
    DRIVER.set(std::thread::current().id()).ok()?;
    NonZeroUsize::new(rayon::current_num_threads())
}

/// The thread that joined the global pool as its worker 0 ([`join_worker_pool`]).
static DRIVER: OnceLock<ThreadId> = OnceLock::new();

/// Keeps the global pool's other workers awake for `budget` after the last work they ran,
/// looking for more, so that the next parallel call starts on them at once. Only the thread that
/// joined the pool ([`join_worker_pool`], as attn's binaries do) keeps workers awake; a call from
/// any other thread, or with a zero budget, does nothing.
///
/// A rayon worker that finds no work yields a few dozen times, then sleeps on a futex; waking it
/// again takes an inter-processor interrupt, which under a hypervisor costs 30–40 µs (measured
/// on the 2-core Xeon of docs/PERFORMANCE.md, "Waking the pool"). A training step makes hundreds
/// of parallel calls with a little serial work between them, and the second core's share of a
/// 128-wide projection is a 100 µs job: each wake-up cost a third of it. PyTorch's OpenMP
/// threads spin between parallel regions in the same way (libgomp's `GOMP_SPINCOUNT`, Intel's
/// `KMP_BLOCKTIME`).
///
/// The kernels call this before each pass; while the workers are awake it costs one atomic
/// operation. Otherwise it sends each worker but the caller one job that runs whatever the pool
/// is given (`rayon::yield_now`) until `budget` passes without any, then ends, and the worker
/// goes back to sleep. Those jobs never land on the caller, and nothing else is waiting on the
/// workers they occupy: the caller's own parallel calls have all returned when it makes the
/// next one. (That holds as long as it is not called from inside a parallel job, which attn's
/// kernels never are: they start parallel work, they do not run within it.)
///
/// **PyTorch equivalent**: `OMP_WAIT_POLICY=active` / `GOMP_SPINCOUNT` for the intra-op pool.
pub fn keep_workers_awake(budget: Duration) {
    let Some(&driver) = DRIVER.get() else {
        return;
    };
    let me = rayon::current_thread_index();
    if budget.is_zero() || std::thread::current().id() != driver || me.is_none() {
        return;
    }
    let others = rayon::current_num_threads() - 1;
    // one set of keepers at a time: the count goes back to 0 when the last of them ends
    if others == 0
        || AWAKE
            .compare_exchange(0, others, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    rayon::spawn_broadcast(move |worker| {
        if Some(worker.index()) == me {
            return;
        }
        let mut last_work = Instant::now();
        loop {
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                last_work = Instant::now();
            } else if last_work.elapsed() >= budget {
                break;
            } else {
                std::hint::spin_loop();
            }
        }
        AWAKE.fetch_sub(1, Ordering::AcqRel);
    });
}

/// How many workers [`keep_workers_awake`] keeps awake now (those it has sent a job that has
/// not ended yet), over all pools.
pub fn workers_kept_awake() -> usize {
    AWAKE.load(Ordering::Acquire)
}

/// See [`workers_kept_awake`].
static AWAKE: AtomicUsize = AtomicUsize::new(0);
