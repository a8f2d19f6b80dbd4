//! The cost of one generated token of `bible-lm` (context 64, 4 blocks of width 128) after prompts
//! of 1 to 63 tokens: with the key/value cache (one position through every block, attending to
//! the cached ones) and without it (the whole window again). The cached cost should stay flat in
//! the prompt length and far below the uncached one; see docs/PERFORMANCE.md.

use attn_runtime::loss::IGNORE;
use attn_runtime::zoo::{Batch, Inputs};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

fn generate(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let entry = attn_models::find("bible-lm").expect("zoo model");
    let model = entry.instantiate(0).expect("builds");
    let context = 64;
    let text: Vec<usize> = (0..context).map(|i| 4 + (i * 7) % 60).collect();
    let mut group = c.benchmark_group("generate");
    group.sample_size(30);
    for prompt in [1usize, 16, 32, 48, 63] {
        group.bench_function(BenchmarkId::new("cached_token", prompt), |b| {
            b.iter_batched(
                || {
                    let mut session = model.generator().expect("a language model");
                    session.try_feed(&text[..prompt]).expect("prefill");
                    session
                },
                |mut session| session.try_feed(&text[prompt..=prompt]).expect("step"),
                BatchSize::SmallInput,
            )
        });
        let mut ids = text[..=prompt].to_vec();
        ids.resize(context, 0);
        let batch = Batch {
            size: 1,
            inputs: Inputs::Tokens {
                ids,
                lengths: vec![prompt + 1],
            },
            targets: vec![IGNORE; context],
        };
        group.bench_function(BenchmarkId::new("uncached_token", prompt), |b| {
            b.iter(|| model.forward(&batch, false).expect("forward"))
        });
    }
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
