//! Peak heap memory per run: a counting global allocator whose high-water mark can be reset.
//!
//! The operating system's peak resident size (`VmHWM`) cannot tell the runs of one process
//! apart: memory freed by one run stays mapped by the allocator, so the mark only grows. Counting
//! the live heap bytes ourselves gives each run its own peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live heap bytes and their high-water mark.
///
/// Install it in a binary to have sweeps record each run's peak heap memory:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: attn_runtime::experiment::PeakAlloc = attn_runtime::experiment::PeakAlloc;
/// ```
///
/// It costs three relaxed atomic operations per allocation. Without it, [`peak_heap_bytes`] is
/// `None`.
///
/// **PyTorch equivalent**: `torch.cuda.reset_peak_memory_stats()` and
/// `torch.cuda.max_memory_allocated()`, for the CPU heap.
pub struct PeakAlloc;

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

/// A new block of `bytes`: counted as growth, and as a candidate for the largest block.
fn allocated(bytes: usize) {
    grew(bytes);
    LARGEST.fetch_max(bytes, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            allocated(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            allocated(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Starts a new high-water mark at the heap bytes live now (and forgets the largest block).
pub fn reset_peak_heap() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
}

/// The largest single block allocated since the last [`reset_peak_heap`], or `None` without
/// [`PeakAlloc`].
pub fn largest_allocation_bytes() -> Option<u64> {
    live_heap_bytes().map(|_| LARGEST.load(Ordering::Relaxed) as u64)
}

/// The most heap bytes live at once since the last [`reset_peak_heap`] (or the start), or `None`
/// when [`PeakAlloc`] is not the program's global allocator.
pub fn peak_heap_bytes() -> Option<u64> {
    // a running program always holds some heap, so zero means nothing was counted
    let peak = PEAK.load(Ordering::Relaxed);
    (LIVE.load(Ordering::Relaxed) > 0 || peak > 0).then_some(peak as u64)
}

/// Heap bytes live now, or `None` without [`PeakAlloc`].
pub fn live_heap_bytes() -> Option<u64> {
    let live = LIVE.load(Ordering::Relaxed);
    (live > 0).then_some(live as u64)
}
