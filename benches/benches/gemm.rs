//! Matrix products: through dfdx at 2048³, and at the shapes a training step of our models makes
//! through [`attn_runtime::gemm::matmul_into`], the product attn's projection kernel runs (into
//! a buffer allocated once, so only the product is timed; the pool's workers kept awake as the
//! kernels keep them); and the machine's FMA peak and the peak of the tiles' instruction mix
//! (`attn_benches::peak`). The PyTorch twin is `tools/bench_gemm_torch.py`;
//! `tools/bench_side_by_side.py` turns both into GFLOP/s and a share of the peak.

use attn_benches::peak::{fma_burst, tile_mix_burst, FMAS_PER_BURST};
use attn_runtime::gemm::{matmul_into, MatRef, Start};
use attn_runtime::prelude::*;
use attn_runtime::threads::keep_workers_awake;
use attn_runtime::tuning::KernelConfig;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// The side of the square product (`matmul/2048x2048x2048`), through dfdx's `matmul`.
const SQUARE: usize = 2048;

/// The products of a training step, `(rows, inner, cols)`, as the layers lay them out.
///
/// * `proj`: a projection's forward, `x · Wᵀ` with `x: [B·S, I]` and `W: [O, I]` (its input
///   gradient `dy · W` has the same sizes). B·S = 2048 (B=32, S=64) or 4096 (B=16, S=256):
///   model width 64 to 512, and the feed-forward's 4× widening and narrowing.
/// * `weight_grad`: a projection's weight gradient, `dyᵀ · x` over the B·S = 2048 rows.
const PROJ: [(usize, usize, usize); 6] = [
    (2048, 64, 64),
    (2048, 128, 128),
    (2048, 128, 512),
    (2048, 512, 128),
    (4096, 256, 256),
    (2048, 512, 512),
];
const WEIGHT_GRAD: [(usize, usize, usize); 2] = [(128, 2048, 128), (512, 2048, 128)];

fn gemm(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    // and as attn's kernels call a product: with the pool's other workers kept awake
    // (`kernels::op::apply` does this before each pass; `ATTN_KERNEL=spin_us=0` turns it off)
    let spin = KernelConfig::current().expect("ATTN_KERNEL").spin;
    let dev = Cpu::seed_from_u64(0);
    dev.enable_cache();
    let mut group = c.benchmark_group("gemm");
    group.sample_size(10);
    let a: Tensor<(usize, usize), f32, _> = dev.sample_normal_like(&(SQUARE, SQUARE));
    let b: Tensor<(usize, usize), f32, _> = dev.sample_normal_like(&(SQUARE, SQUARE));
    group.bench_function(
        BenchmarkId::new("matmul", format!("{SQUARE}x{SQUARE}x{SQUARE}")),
        |bench| bench.iter(|| a.clone().matmul(b.clone())),
    );
    let values = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 31 + seed * 17) % 97) as f32 / 97.0 - 0.5)
            .collect()
    };
    for (m, k, n) in PROJ {
        let (x, w, mut y) = (values(m * k, 1), values(n * k, 2), vec![0.0; m * n]);
        group.bench_function(BenchmarkId::new("proj", format!("{m}x{k}x{n}")), |bench| {
            bench.iter(|| {
                keep_workers_awake(spin);
                let w_t = MatRef::row_major(&w, n, k).t();
                matmul_into(&mut y, Start::Zeros, MatRef::row_major(&x, m, k), w_t)
            })
        });
    }
    for (m, k, n) in WEIGHT_GRAD {
        let (dy, x, mut dw) = (values(k * m, 3), values(k * n, 4), vec![0.0; m * n]);
        group.bench_function(
            BenchmarkId::new("weight_grad", format!("{m}x{k}x{n}")),
            |bench| {
                bench.iter(|| {
                    keep_workers_awake(spin);
                    let dy_t = MatRef::row_major(&dy, k, m).t();
                    matmul_into(&mut dw, Start::Dst, dy_t, MatRef::row_major(&x, k, n))
                })
            },
        );
    }
    group.finish();

    let threads = rayon::current_num_threads();
    let mut group = c.benchmark_group("peak");
    group.bench_function(
        BenchmarkId::new("fma", format!("threads{threads}_fmas{FMAS_PER_BURST}")),
        |bench| bench.iter(|| fma_burst(threads)),
    );
    group.bench_function(
        BenchmarkId::new("tile_mix", format!("threads{threads}_fmas{FMAS_PER_BURST}")),
        |bench| bench.iter(|| tile_mix_burst(threads)),
    );
    group.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
