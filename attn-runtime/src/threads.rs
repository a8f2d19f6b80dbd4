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
        .ok()
        .and_then(|()| NonZeroUsize::new(rayon::current_num_threads()))
}
