//! The recurrent encoder-decoder's training step (forward with teacher forcing, cross-entropy,
//! backward, Adam) for `dates-gru-bahdanau` and `dates-lstm-luong` at batch 32 with full-length
//! sequences (32 source, 12 target tokens). The PyTorch twin is `tools/bench_seq2seq_torch.py`.

use attn_runtime::zoo::{Batch, Inputs, StepSettings};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn seq2seq(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let mut group = c.benchmark_group("seq2seq");
    group.sample_size(10);
    for name in [
        "dates-gru-bahdanau",
        "dates-lstm-luong",
        "dates-transformer",
    ] {
        let entry = attn_models::find(name).expect("zoo model");
        let mut batch = Batch::random(entry.meta(), 32, 0);
        // full-length sequences, as the PyTorch twin runs them
        if let Inputs::Tokens { lengths, .. } = &mut batch.inputs {
            lengths.iter_mut().for_each(|l| *l = 32);
        }
        batch.targets.iter_mut().for_each(|t| *t %= 16);
        let mut model = entry.instantiate(0).expect("builds");
        // as `train` runs: gradients clipped at norm 1
        let settings = StepSettings {
            clip_norm: Some(1.0),
            ..StepSettings::default()
        };
        group.bench_function(BenchmarkId::new("train_step", name), |b| {
            b.iter(|| {
                model
                    .train_step_with(&batch, &settings)
                    .expect("train step")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seq2seq);
criterion_main!(benches);
