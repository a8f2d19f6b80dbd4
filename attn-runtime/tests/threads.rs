//! A program's main thread joins rayon's pool as worker 0 (its own test binary: the global pool
//! is built once per process), and idle workers are kept awake between parallel passes for as
//! long as asked, then let go.

use std::time::{Duration, Instant};

use attn_runtime::threads::{join_worker_pool, keep_workers_awake, workers_kept_awake};
use rayon::prelude::*;

#[test]
fn the_calling_thread_becomes_worker_zero_once_and_keeps_the_others_awake() {
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

    // (in the same test: only this thread may keep the pool's workers awake)
    let others = threads.get() - 1;
    // the other workers are kept awake, once however often it is called
    keep_workers_awake(Duration::from_millis(50));
    assert_eq!(workers_kept_awake(), others);
    keep_workers_awake(Duration::from_millis(50));
    assert_eq!(workers_kept_awake(), others);
    // they run parallel work, with the same result as ever
    for _ in 0..100 {
        let sum: u64 = (1..=10_000u64).into_par_iter().map(|x| x * x).sum();
        assert_eq!(sum, 333_383_335_000);
    }
    // with nothing more to do they go back to sleep, and can be kept awake again
    assert_eq!(until_all_sleep(), 0);
    keep_workers_awake(Duration::from_millis(1));
    assert_eq!(until_all_sleep(), 0);
    // a zero budget keeps nobody awake, and neither does a call from another thread
    keep_workers_awake(Duration::ZERO);
    assert_eq!(workers_kept_awake(), 0);
    std::thread::spawn(|| keep_workers_awake(Duration::from_secs(1)))
        .join()
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| keep_workers_awake(Duration::from_secs(1)));
    assert_eq!(workers_kept_awake(), 0);
}

/// Waits (up to a generous minute: this is liveness, not speed) until no worker is kept awake.
fn until_all_sleep() -> usize {
    let start = Instant::now();
    while workers_kept_awake() != 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    workers_kept_awake()
}
