//! Training one model after another in a process (a sweep) must not pile up memory: dfdx 0.13's
//! allocation cache frees nothing when its device is dropped, so zoo models empty it themselves.
//! One test in this binary, so no other test allocates while it counts.

use attn_runtime::experiment::{live_heap_bytes, PeakAlloc};
use attn_runtime::prelude::*;
use attn_runtime::zoo::{Batch, Entry, ZooEntry};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

attention_model! {
    /// A small tagger.
    #[name = "memory-probe", data = "sort"]
    pub struct MemoryProbe {
        arch: Transformer,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 32, heads: 2, ff: 64, layers: 1,
    }
}

#[test]
fn models_trained_one_after_another_give_their_memory_back() {
    let batch = Batch::random(&MemoryProbe::META, 64, 0);
    let mut after_drop = Vec::new();
    let mut in_use = 0;
    for seed in 0..4 {
        {
            let mut model = Entry::<MemoryProbe>::NEW.instantiate(seed).unwrap();
            for _ in 0..10 {
                model.train_step(&batch).unwrap();
            }
            model.reseed(seed + 10).unwrap();
            model.train_step(&batch).unwrap();
            in_use = live_heap_bytes().unwrap();
        }
        after_drop.push(live_heap_bytes().unwrap());
    }
    // each model's cache held megabytes (this is what leaked before)
    assert!(
        in_use > after_drop[0] + (1 << 20),
        "{in_use} {after_drop:?}"
    );
    // and nothing accumulates from one model to the next
    for later in &after_drop[1..] {
        assert!(
            later.abs_diff(after_drop[0]) < 64 << 10,
            "heap after each model: {after_drop:?}"
        );
    }
}
