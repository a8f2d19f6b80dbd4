//! Every zoo model's forward pass and training step, through the registry: a new declaration is
//! benchmarked with no new bench code. Batches are random, of the declared shapes, 16 examples.

use attn_runtime::zoo::Batch;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const BATCH: usize = 16;

fn zoo(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let mut group = c.benchmark_group("zoo");
    group.sample_size(20);
    for entry in attn_models::MODELS {
        let meta = entry.meta();
        let batch = Batch::random(meta, BATCH, 0);
        let mut model = entry.instantiate(0).expect("zoo models build");
        group.bench_function(BenchmarkId::new("forward", meta.name), |b| {
            b.iter(|| model.forward(&batch, false).expect("forward"))
        });
        group.bench_function(BenchmarkId::new("train_step", meta.name), |b| {
            b.iter(|| model.train_step(&batch).expect("train step"))
        });
    }
    group.finish();
}

criterion_group!(benches, zoo);
criterion_main!(benches);
