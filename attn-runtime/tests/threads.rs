//! A program's main thread joins rayon's pool as worker 0 (its own test binary: the global pool
//! is built once per process).

use attn_runtime::threads::join_worker_pool;
use rayon::prelude::*;

#[test]
fn the_calling_thread_becomes_worker_zero_once() {
    assert_eq!(rayon::current_thread_index(), None);
    let threads = join_worker_pool().expect("no global pool yet in this process");
    assert_eq!(threads.get(), rayon::current_num_threads());
    assert_eq!(rayon::current_thread_index(), Some(0));
    // parallel work started here runs (and sums) as before
    let sum: u64 = (1..=10_000u64).into_par_iter().sum();
    assert_eq!(sum, 50_005_000);
    // the pool exists now: a second call changes nothing
    assert_eq!(join_worker_pool(), None);
    assert_eq!(rayon::current_thread_index(), Some(0));
}
