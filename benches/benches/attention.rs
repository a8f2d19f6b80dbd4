//! Criterion benchmarks of the attention core: scaled dot-product attention and multi-head
//! self-attention, forward and forward+backward, at the two shapes `docs/PERFORMANCE.md` reports:
//! B=32, S=64, D=128, H=4 and B=16, S=256, D=256, H=8 (f32, CPU, dfdx's allocation cache on).
//!
//! The PyTorch side of the comparison is `tools/bench_attention_torch.py`, run on the same
//! machine with the same thread count.

use attn_runtime::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

type Dev = Cpu;

fn device() -> Dev {
    let dev = Dev::seed_from_u64(0);
    dev.enable_cache();
    dev
}

fn sdpa<const D: usize, const H: usize>(c: &mut Criterion, b: usize, s: usize) {
    let dev = device();
    let hd = D / H;
    let q: Tensor<(usize, usize, usize, usize), f32, _> = dev.sample_normal_like(&(b, H, s, hd));
    let k: Tensor<(usize, usize, usize, usize), f32, _> = dev.sample_normal_like(&(b, H, s, hd));
    let v: Tensor<(usize, usize, usize, usize), f32, _> = dev.sample_normal_like(&(b, H, s, hd));
    let opts = AttentionOptions::default().skip_weights();
    let label = format!("B{b}_S{s}_D{D}_H{H}");
    let mut group = c.benchmark_group("sdpa");
    group.sample_size(if s > 128 { 10 } else { 30 });
    group.bench_function(BenchmarkId::new("forward", &label), |bench| {
        bench.iter(|| {
            let out =
                try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &opts).unwrap();
            out.context
        })
    });
    group.bench_function(BenchmarkId::new("forward_backward", &label), |bench| {
        bench.iter(|| {
            let out =
                try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts)
                    .unwrap();
            out.context.sum().backward()
        })
    });
    group.finish();
}

fn mha<const D: usize, const H: usize>(c: &mut Criterion, b: usize, s: usize)
where
    builder::MultiHeadAttention<D, H>:
        BuildOnDevice<Dev, f32, Built = MultiHeadAttention<D, H, D, D, f32, Dev>>,
    MultiHeadAttention<D, H, D, D, f32, Dev>: TensorCollection<f32, Dev>,
{
    let dev = device();
    let mha = dev.build_module::<builder::MultiHeadAttention<D, H>, f32>();
    let x: Tensor<(usize, usize, Const<D>), f32, _> = dev.sample_normal_like(&(b, s, Const));
    let opts = AttentionOptions::default().skip_weights();
    let label = format!("B{b}_S{s}_D{D}_H{H}");
    let mut group = c.benchmark_group("mha");
    group.sample_size(if s > 128 { 10 } else { 30 });
    group.bench_function(BenchmarkId::new("forward", &label), |bench| {
        bench.iter(|| mha.try_self_attend(x.clone(), &opts).unwrap().context)
    });
    let mut grads = Some(mha.alloc_grads());
    group.bench_function(BenchmarkId::new("forward_backward", &label), |bench| {
        bench.iter(|| {
            let mut g = grads
                .take()
                .expect("gradients are put back every iteration");
            mha.zero_grads(&mut g);
            let out = mha.try_self_attend(x.trace(g), &opts).unwrap();
            grads = Some(out.context.sum().backward());
        })
    });
    group.finish();
}

fn attention(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    sdpa::<128, 4>(c, 32, 64);
    sdpa::<256, 8>(c, 16, 256);
    mha::<128, 4>(c, 32, 64);
    mha::<256, 8>(c, 16, 256);
}

criterion_group!(benches, attention);
criterion_main!(benches);
