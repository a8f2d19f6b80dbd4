//! The recurrent encoder-decoder's training step (forward with teacher forcing, cross-entropy,
//! backward, Adam) for `dates-gru-bahdanau`, `dates-lstm-luong` and `dates-transformer` at batch 32
//! (the transformer also at 64, its recipe's batch, as `dates-transformer-b64`) with full-length
//! sequences (32 source, 12 target tokens). The PyTorch twin is `tools/bench_seq2seq_torch.py`.

use attn_runtime::zoo::{Batch, Inputs, StepSettings};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn seq2seq(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let mut group = c.benchmark_group("seq2seq");
    group.sample_size(10);
    // the default model also at its recipe's batch of 64 (`train` runs 250 such steps an epoch)
    for (label, name, batch_size) in [
        ("dates-gru-bahdanau", "dates-gru-bahdanau", 32),
        ("dates-lstm-luong", "dates-lstm-luong", 32),
        ("dates-transformer", "dates-transformer", 32),
        ("dates-transformer-b64", "dates-transformer", 64),
    ] {
        let entry = attn_models::find(name).expect("zoo model");
        let mut batch = Batch::random(entry.meta(), batch_size, 0);
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
        group.bench_function(BenchmarkId::new("train_step", label), |b| {
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
