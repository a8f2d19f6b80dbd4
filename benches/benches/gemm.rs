//! Matrix products through dfdx (as every linear layer of attn runs them) at 2048², and the
//! machine's FMA peak (`attn_benches::peak`). The PyTorch twin is `tools/bench_gemm_torch.py`;
//! `tools/bench_side_by_side.py` turns both into GFLOP/s and a share of the peak.

use attn_benches::peak::{fma_burst, FMAS_PER_BURST};
use attn_runtime::prelude::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn gemm(c: &mut Criterion) {
    // measure as attn's binaries run: the calling thread is a worker of the kernels' pool
    attn_runtime::threads::join_worker_pool();
    let dev = Cpu::seed_from_u64(0);
    dev.enable_cache();
    let mut group = c.benchmark_group("gemm");
    group.sample_size(10);
    for n in [2048usize] {
        let a: Tensor<(usize, usize), f32, _> = dev.sample_normal_like(&(n, n));
        let b: Tensor<(usize, usize), f32, _> = dev.sample_normal_like(&(n, n));
        group.bench_function(
            BenchmarkId::new("matmul", format!("{n}x{n}x{n}")),
            |bench| bench.iter(|| a.clone().matmul(b.clone())),
        );
    }
    group.finish();

    let threads = rayon::current_num_threads();
    let mut group = c.benchmark_group("peak");
    group.bench_function(
        BenchmarkId::new("fma", format!("threads{threads}_fmas{FMAS_PER_BURST}")),
        |bench| bench.iter(|| fma_burst(threads)),
    );
    group.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
