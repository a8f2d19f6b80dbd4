//! Transformer benchmarks at the issue-1 shapes (B=32, S=64, D=128, H=4, FF=512): one post-norm
//! ReLU encoder block forward+backward, and a 2-layer encoder training step (token embedding of a
//! 1000-word vocabulary, sinusoidal positions, a per-token 1000-way head, cross-entropy, Adam).
//! The PyTorch twin is `tools/bench_transformer_torch.py`.

use attn_runtime::prelude::*;
use attn_runtime::transformer::{EncoderBlock, FeedForward, Relu};
use attn_runtime::zoo::{Batch, Entry, Inputs, ZooEntry};
use criterion::{criterion_group, criterion_main, Criterion};

attention_model! {
    /// The benchmark's 2-layer encoder: per-token predictions over a 1000-token vocabulary.
    #[name = "bench-encoder"]
    pub struct BenchEncoder {
        arch: Transformer,
        task: Tag { vocab: 1000, max_len: 64, tags: 1000 },
        d_model: 128, heads: 4, ff: 512, layers: 2,
        activation: Relu, norm: Post, positional: Sinusoidal,
    }
}

type Block = EncoderBlock<128, 4, FeedForward<128, 512, Relu, f32, Cpu>, false, f32, Cpu>;

fn transformer(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let mut group = c.benchmark_group("transformer");
    group.sample_size(10);

    let dev = Cpu::seed_from_u64(0);
    dev.enable_cache();
    let block = Block::build(&dev);
    let x: Tensor<(usize, usize, Const<128>), f32, _> = dev.sample_normal_like(&(32, 64, Const));
    let opts = AttentionOptions::default().skip_weights();
    let mut grads = Some(block.alloc_grads());
    group.bench_function(
        "encoder_block_forward_backward/B32_S64_D128_H4_FF512",
        |b| {
            b.iter(|| {
                let mut g = grads
                    .take()
                    .expect("gradients are put back every iteration");
                block.zero_grads(&mut g);
                let y = block
                    .try_block(x.trace(g), &opts, String::new(), &mut Vec::new())
                    .unwrap();
                grads = Some(y.sum().backward());
            })
        },
    );

    let mut model = Entry::<BenchEncoder>::NEW.instantiate(0).unwrap();
    let mut batch = Batch::random(&BenchEncoder::META, 32, 0);
    if let Inputs::Tokens { lengths, ids } = &mut batch.inputs {
        lengths.iter_mut().for_each(|l| *l = 64);
        ids.iter_mut().for_each(|i| *i = (*i * 7 + 1) % 1000);
    }
    batch.targets.iter_mut().for_each(|t| *t %= 1000);
    group.bench_function(
        "encoder_2_layers_train_step/B32_S64_D128_H4_FF512_V1000",
        |b| b.iter(|| model.train_step(&batch).unwrap()),
    );
    group.finish();
}

criterion_group!(benches, transformer);
criterion_main!(benches);
