//! Every kernel configuration this CPU can run ([`KernelConfig::candidates`]: each available
//! instruction set with each query-block height, fixed or cache-sized) against dfdx's composite
//! attention, values and gradients, so that the configuration the selector picks on a machine we
//! never measured computes the same function; with dropout, each against the detected one (the
//! dropout mask hashes positions, so it does not depend on the blocking). Every run is repeated
//! from heads side by side in each row, which the kernel reads in place, to the same bits.

use dfdx::prelude::*;

use super::reference::{assert_close, values};
use crate::attention::{
    try_scaled_dot_product_attention, AttentionKernel, AttentionMask, AttentionOptions, BoolMask,
};
use crate::kernels::attention::{
    backward_with, forward_with, AttnDims, FusedParams, HeadLayout, HeadRows, KernelDropout,
};
use crate::kernels::tuning::KernelConfig;

type T4 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

/// Batch, heads, query and key lengths, key and value widths.
type Shape6 = (usize, usize, usize, usize, usize, usize);

/// Query lengths around the block heights (8 … 64), keys across two key blocks, odd widths.
const SHAPES: [Shape6; 3] = [
    (2, 3, 37, 70, 8, 5),
    (1, 2, 65, 64, 32, 32),
    (2, 1, 9, 130, 16, 24),
];

fn dims_of((batch, heads, q_len, k_len, head_dim, value_dim): Shape6) -> AttnDims {
    AttnDims {
        batch,
        heads,
        q_len,
        k_len,
        head_dim,
        value_dim,
    }
}

/// The output and gradients of q, k, v of `Σ out ∘ up` through dfdx's composite path.
fn composite(mask: &AttentionMask, q: &T4, k: &T4, v: &T4, up: &T4) -> [Vec<f32>; 4] {
    let opts = AttentionOptions::default()
        .mask(mask.clone())
        .skip_weights()
        .kernel(AttentionKernel::Composite);
    let out = try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts)
        .unwrap()
        .context;
    let values = out.as_vec();
    let grads = (out * up.clone()).sum().backward();
    [
        values,
        grads.get(q).as_vec(),
        grads.get(k).as_vec(),
        grads.get(v).as_vec(),
    ]
}

/// The same through the kernel run with `config`, from inputs in the kernel's own layout; and
/// the same bits again from the heads side by side in each row (`HeadLayout::Merged`), which
/// the kernel reads in place.
fn fused(config: &KernelConfig, params: &FusedParams<'_>, inputs: [&[f32]; 4]) -> [Vec<f32>; 4] {
    let split = fused_in(config, params, HeadLayout::Split, inputs);
    let rows = HeadRows::of(&params.dims);
    let merge = |i: usize| {
        let mut m = vec![f32::NAN; inputs[i].len()];
        rows[i].scatter(HeadLayout::Merged, inputs[i], &mut m);
        m
    };
    let merged = [merge(0), merge(1), merge(2), merge(3)];
    let merged = [&merged[0][..], &merged[1], &merged[2], &merged[3]];
    let got = fused_in(config, params, HeadLayout::Merged, merged);
    for (name, (g, w)) in ["out", "dq", "dk", "dv"].iter().zip(got.iter().zip(&split)) {
        let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(g), bits(w), "{config} merged heads, {name}");
    }
    split
}

/// The output and gradients of the kernel run with `config` on `q`, `k`, `v` and the output's
/// gradient `up`, all laid out as `layout`; the results in the kernel's order.
fn fused_in(
    config: &KernelConfig,
    params: &FusedParams<'_>,
    layout: HeadLayout,
    [q, k, v, up]: [&[f32]; 4],
) -> [Vec<f32>; 4] {
    let (nq, nk, nv, no, nl) = params.dims.lens();
    let (mut out, mut lse) = (vec![0.0; no], vec![0.0; nl]);
    forward_with(config, params, layout, q, k, v, &mut out, &mut lse).unwrap();
    // the backward pass reads the output in the inputs' layout
    let mut out_in = vec![f32::NAN; no];
    HeadRows::of(&params.dims)[3].scatter(layout, &out, &mut out_in);
    // NaN where the kernel must write every value
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nv]);
    backward_with(
        config, params, layout, q, k, v, &out_in, &lse, up, &mut dq, &mut dk, &mut dv,
    )
    .unwrap();
    [out, dq, dk, dv]
}

#[test]
fn every_configuration_matches_the_composite_path_values_and_gradients() {
    let dev = Cpu::default();
    let configs = KernelConfig::candidates();
    for (b, h, sq, sk, hd, vd) in SHAPES {
        let dims = dims_of((b, h, sq, sk, hd, vd));
        let (nq, nk, nv, no, _) = dims.lens();
        let (qv, kv, vv, upv) = (values(nq, 1), values(nk, 2), values(nv, 3), values(no, 4));
        let q: T4 = dev.tensor_from_vec(qv.clone(), (b, h, sq, hd));
        let k: T4 = dev.tensor_from_vec(kv.clone(), (b, h, sk, hd));
        let v: T4 = dev.tensor_from_vec(vv.clone(), (b, h, sk, vd));
        let up: T4 = dev.tensor_from_vec(upv.clone(), (b, h, sq, vd));
        let allowed = BoolMask::from_fn(sq, sk, |i, j| (i * 7 + j * 3) % 5 != 0);
        let lengths = (0..b).map(|i| sk - 13 * i).collect();
        for mask in [
            AttentionMask::none(),
            AttentionMask::none().causal().key_lengths(lengths),
            AttentionMask::none().window(5).allowed(allowed),
        ] {
            let want = composite(&mask, &q, &k, &v, &up);
            let opts = AttentionOptions::default().mask(mask.clone());
            let params = FusedParams {
                dims,
                scale: opts.scale.factor(hd) as f32,
                mask: mask.kernel_view(),
                dropout: None,
            };
            for config in &configs {
                let got = fused(config, &params, [&qv, &kv, &vv, &upv]);
                for (name, (g, w)) in ["out", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
                    let what = format!("{config} {b}x{h}x{sq}x{sk}x{hd}x{vd} {mask:?} {name}");
                    assert_close(&what, g, w, 2e-5);
                }
            }
        }
    }
}

#[test]
fn every_configuration_drops_the_same_weights() {
    let configs = KernelConfig::candidates();
    let dims = dims_of(SHAPES[0]);
    let (nq, nk, nv, no, _) = dims.lens();
    let inputs = [values(nq, 5), values(nk, 6), values(nv, 7), values(no, 8)];
    let mask = AttentionMask::none().causal();
    let params = FusedParams {
        dims,
        scale: 0.3,
        mask: mask.kernel_view(),
        dropout: Some(KernelDropout { p: 0.3, seed: 11 }),
    };
    let slices = [&inputs[0][..], &inputs[1], &inputs[2], &inputs[3]];
    let want = fused(&KernelConfig::detected(), &params, slices);
    for config in &configs {
        let got = fused(config, &params, slices);
        for (name, (g, w)) in ["out", "dq", "dk", "dv"].iter().zip(got.iter().zip(&want)) {
            assert_close(&format!("{config} dropout {name}"), g, w, 2e-5);
        }
    }
}
