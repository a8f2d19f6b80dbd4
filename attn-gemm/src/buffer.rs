//! Per-thread scratch buffers kept between calls: a kernel that needs a few kilobytes to a few
//! megabytes of scratch per call takes them from its thread's buffer instead of the allocator,
//! so a call allocates (and page-faults) once per thread and size, and never zero-fills.
//!
//! Each buffer is a `thread_local!` `RefCell<Vec<f32>>` of its owner (the product's packing
//! buffer here, the fused attention kernel's in `attn_runtime`); two owners never share one, so
//! a kernel may hold one buffer while a nested call uses another.

use std::cell::RefCell;
use std::thread::LocalKey;

/// One owner's per-thread buffer: a `thread_local!` static declared as
/// `static NAME: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };`.
pub type ThreadBuffer = LocalKey<RefCell<Vec<f32>>>;

/// Runs `f` on this thread's `buffer`, holding `len` values (their contents unspecified: what an
/// earlier call left). On a fresh zeroed buffer where this thread's is already in use further up
/// its stack (a rayon worker that, waiting inside one parallel call, picked up a job that wants
/// the same buffer).
pub fn with_thread_buffer<R>(
    buffer: &'static ThreadBuffer,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    buffer.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Gives back `buffer` on this thread and on each thread of the current rayon pool (where none
/// is in use further up its stack); the next call allocates afresh.
pub fn release_thread_buffer(buffer: &'static ThreadBuffer) {
    let release = || {
        buffer.with(|cell| {
            if let Ok(mut buf) = cell.try_borrow_mut() {
                *buf = Vec::new();
            }
        })
    };
    release();
    rayon::broadcast(|_| release());
}
