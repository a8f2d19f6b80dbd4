//! The fused CPU attention kernel on a long sequence (S = 4096, B = 1, H = 8, head dim 64):
//! forward and backward run without any allocation of `S × S` values, and the output matches a
//! direct computation on sampled rows.
//!
//! A counting global allocator records the largest single allocation and the peak of live bytes
//! during the call; this file holds one test so no other test allocates meanwhile.
#![cfg(not(feature = "cuda"))]

use attn_runtime::experiment::{
    largest_allocation_bytes, live_heap_bytes, peak_heap_bytes, reset_peak_heap, PeakAlloc,
};
use attn_runtime::prelude::*;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

#[test]
fn long_sequence_forward_and_backward_never_allocate_a_square_matrix() {
    let (b, h, s, d) = (1usize, 8usize, 4096usize, 64usize);
    let dev = Cpu::seed_from_u64(0);
    let shape = (b, h, s, d);
    let q: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let k: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let v: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let opts = AttentionOptions::default()
        .mask(AttentionMask::none().causal())
        .skip_weights()
        .kernel(AttentionKernel::Fused);

    let before = live_heap_bytes().expect("PeakAlloc is installed");
    reset_peak_heap();
    let out = try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts)
        .unwrap()
        .context;
    let context = out.as_vec();
    let grads = out.sum().backward();
    let dq = grads.get(&q).as_vec();
    let dk = grads.get(&k).as_vec();
    let dv = grads.get(&v).as_vec();
    let peak = (peak_heap_bytes().unwrap() - before) as usize;
    let largest = largest_allocation_bytes().unwrap() as usize;

    let square = s * s * std::mem::size_of::<f32>();
    let io = b * h * s * d * std::mem::size_of::<f32>();
    assert!(
        largest <= io,
        "largest allocation {largest} B is more than one [B, H, S, D] tensor ({io} B)"
    );
    // live memory stays a small multiple of the inputs (saved inputs and output, gradients,
    // packed keys), far below the composite path's [B, H, S, S] weights
    assert!(
        peak <= 20 * io,
        "peak {peak} B during the call is more than 20 [B, H, S, D] tensors ({io} B each)"
    );
    assert!(
        peak * 4 < b * h * square,
        "peak {peak} B is not far below the [B, H, S, S] weights ({} B)",
        b * h * square
    );
    for g in [&dq, &dk, &dv] {
        assert!(g.iter().all(|x| x.is_finite()));
        assert!(g.iter().any(|&x| x != 0.0));
    }

    // sampled rows against a direct float64 computation
    let (qv, kv, vv) = (q.as_vec(), k.as_vec(), v.as_vec());
    let scale = 1.0 / (d as f64).sqrt();
    for (head, i) in [(0, 0), (3, 1000), (7, s - 1)] {
        let row = |x: &[f32], j: usize| x[(head * s + j) * d..][..d].to_vec();
        let qi = row(&qv, i);
        let scores: Vec<f64> = (0..=i)
            .map(|j| {
                let kj = row(&kv, j);
                qi.iter()
                    .zip(&kj)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
                    * scale
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = scores.iter().map(|x| (x - max).exp()).sum();
        for c in 0..d {
            let want: f64 = scores
                .iter()
                .enumerate()
                .map(|(j, x)| (x - max).exp() / total * vv[(head * s + j) * d + c] as f64)
                .sum();
            let got = context[(head * s + i) * d + c] as f64;
            assert!(
                (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                "head {head} row {i} col {c}: {got} vs {want}"
            );
        }
    }
}
