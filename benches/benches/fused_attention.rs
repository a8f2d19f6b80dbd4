//! Criterion benchmarks of the fused CPU attention kernel against dfdx's composite ops, through
//! the same seam (`try_scaled_dot_product_attention` with `AttentionKernel::Fused` or
//! `AttentionKernel::Composite`, weights skipped), forward and forward+backward, at the shapes
//! `docs/PERFORMANCE.md` reports (B=32, S=64, D=128, H=4 and B=16, S=256, D=256, H=8; head dim 32),
//! plus a long sequence (B=1, S=4096, H=8, head dim 64) that only the fused kernel runs: its
//! composite twin would materialise 8 × 4096² weights.
//!
//! f32, CPU, dfdx's allocation cache on. The PyTorch side is `tools/bench_attention_torch.py`.

use attn_runtime::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

type Dev = Cpu;
type T4 = Tensor<(usize, usize, usize, usize), f32, Dev>;

fn device() -> Dev {
    let dev = Dev::seed_from_u64(0);
    dev.enable_cache();
    dev
}

fn inputs(dev: &Dev, b: usize, h: usize, s: usize, hd: usize) -> [T4; 3] {
    [
        dev.sample_normal_like(&(b, h, s, hd)),
        dev.sample_normal_like(&(b, h, s, hd)),
        dev.sample_normal_like(&(b, h, s, hd)),
    ]
}

fn bench_kernel(
    c: &mut Criterion,
    group: &str,
    label: &str,
    [q, k, v]: &[T4; 3],
    opts: &AttentionOptions,
    samples: usize,
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(samples);
    g.bench_function(BenchmarkId::new("forward", label), |bench| {
        bench.iter(|| {
            try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), opts)
                .unwrap()
                .context
        })
    });
    g.bench_function(BenchmarkId::new("forward_backward", label), |bench| {
        bench.iter(|| {
            let out = try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), opts)
                .unwrap();
            out.context.sum().backward()
        })
    });
    g.finish();
}

/// Fused and composite at one shape: `D` model width split into `H` heads.
fn compare<const D: usize, const H: usize>(c: &mut Criterion, b: usize, s: usize) {
    let dev = device();
    let x = inputs(&dev, b, H, s, D / H);
    let label = format!("B{b}_S{s}_D{D}_H{H}");
    let samples = if s > 128 { 10 } else { 30 };
    let opts = AttentionOptions::default().skip_weights();
    for (group, kernel) in [
        ("sdpa_fused", AttentionKernel::Fused),
        ("sdpa_composite", AttentionKernel::Composite),
    ] {
        bench_kernel(c, group, &label, &x, &opts.clone().kernel(kernel), samples);
    }
}

fn long_sequence(c: &mut Criterion) {
    let dev = device();
    let (b, h, s, hd) = (1, 8, 4096, 64);
    let x = inputs(&dev, b, h, s, hd);
    let opts = AttentionOptions::default()
        .skip_weights()
        .kernel(AttentionKernel::Fused);
    let label = format!("B{b}_S{s}_H{h}_hd{hd}");
    bench_kernel(c, "sdpa_fused_long", &label, &x, &opts, 10);
    let causal = opts.mask(AttentionMask::none().causal());
    bench_kernel(c, "sdpa_fused_long_causal", &label, &x, &causal, 10);
}

fn fused_attention(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    compare::<128, 4>(c, 32, 64);
    compare::<256, 8>(c, 16, 256);
    long_sequence(c);
}

criterion_group!(benches, fused_attention);
criterion_main!(benches);
