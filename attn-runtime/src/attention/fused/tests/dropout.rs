//! Dropout inside the fused kernel: the same weights dropped in the backward pass as in the
//! forward (checked against the reference and by finite differences), the expected fraction
//! kept and scaled, an unbiased output on average, and no change at `p = 0`.

use dfdx::prelude::*;

use super::reference::{assert_close, reference, values};
use crate::attention::fused::{backward, forward, AttnDims, FusedParams, KernelDropout};
use crate::attention::{try_scaled_dot_product_attention, AttentionMask, AttentionOptions};
use crate::kernels::attention::dropout::RowDropout;

fn dims(q_len: usize, k_len: usize, hd: usize, vd: usize) -> AttnDims {
    AttnDims {
        batch: 2,
        heads: 2,
        q_len,
        k_len,
        head_dim: hd,
        value_dim: vd,
    }
}

fn fwd(params: &FusedParams<'_>, q: &[f32], k: &[f32], v: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (_, _, _, no, nl) = params.dims.lens();
    let (mut out, mut lse) = (vec![0.0; no], vec![0.0; nl]);
    forward(params, q, k, v, &mut out, &mut lse).unwrap();
    (out, lse)
}

#[test]
fn dropout_forward_and_backward_match_the_reference_with_the_same_keep_mask() {
    let d = dims(45, 70, 8, 6);
    let mask = AttentionMask::none().causal().key_lengths(vec![70, 30]);
    let drop = KernelDropout { p: 0.3, seed: 77 };
    let params = FusedParams {
        dims: d,
        scale: 0.4,
        mask: mask.kernel_view(),
        dropout: Some(drop),
    };
    let (nq, nk, nv, no, _) = d.lens();
    let (q, k, v, dout) = (values(nq, 1), values(nk, 2), values(nv, 3), values(no, 4));
    let keep = |bh, i, j| {
        let r = RowDropout::new(&drop, bh, i);
        if r.keeps(j) {
            r.keep_scale as f64
        } else {
            0.0
        }
    };
    let want = reference(&params, &q, &k, &v, &dout, &keep);
    let (out, lse) = fwd(&params, &q, &k, &v);
    assert_close("out", &out, &want.out, 1e-5);
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nv]);
    backward(
        &params, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
    )
    .unwrap();
    assert_close("dq", &dq, &want.dq, 1e-5);
    assert_close("dk", &dk, &want.dk, 1e-5);
    assert_close("dv", &dv, &want.dv, 1e-5);
}

#[test]
fn dropout_gradients_agree_with_finite_differences_at_a_fixed_seed() {
    let d = dims(9, 13, 4, 3);
    let params = FusedParams {
        dims: d,
        scale: 0.5,
        mask: Default::default(),
        dropout: Some(KernelDropout { p: 0.4, seed: 5 }),
    };
    let (nq, nk, nv, no, _) = d.lens();
    let (q, k, v, up) = (
        values(nq, 11),
        values(nk, 12),
        values(nv, 13),
        values(no, 14),
    );
    let loss = |q: &[f32], k: &[f32], v: &[f32]| -> f64 {
        let (out, _) = fwd(&params, q, k, v);
        out.iter()
            .zip(&up)
            .map(|(&o, &u)| o as f64 * u as f64)
            .sum()
    };
    let (out, lse) = fwd(&params, &q, &k, &v);
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nv]);
    backward(
        &params, &q, &k, &v, &out, &lse, &up, &mut dq, &mut dk, &mut dv,
    )
    .unwrap();
    let eps = 1e-2f32;
    for idx in [0, 7, 31, 100, nq - 1] {
        let (mut a, mut b) = (q.clone(), q.clone());
        a[idx] += eps;
        b[idx] -= eps;
        let fd = (loss(&a, &k, &v) - loss(&b, &k, &v)) / (2.0 * eps as f64);
        assert!(
            (fd - dq[idx] as f64).abs() < 1e-2 * (1.0 + fd.abs()),
            "dq[{idx}]: {fd} vs {}",
            dq[idx]
        );
    }
    for idx in [0, 5, 60, nk - 1] {
        let (mut a, mut b) = (k.clone(), k.clone());
        a[idx] += eps;
        b[idx] -= eps;
        let fd = (loss(&q, &a, &v) - loss(&q, &b, &v)) / (2.0 * eps as f64);
        assert!(
            (fd - dk[idx] as f64).abs() < 1e-2 * (1.0 + fd.abs()),
            "dk[{idx}]: {fd} vs {}",
            dk[idx]
        );
    }
    for idx in [0, 3, 77, nv - 1] {
        let (mut a, mut b) = (v.clone(), v.clone());
        a[idx] += eps;
        b[idx] -= eps;
        let fd = (loss(&q, &k, &a) - loss(&q, &k, &b)) / (2.0 * eps as f64);
        assert!(
            (fd - dv[idx] as f64).abs() < 1e-2 * (1.0 + fd.abs()),
            "dv[{idx}]: {fd} vs {}",
            dv[idx]
        );
    }
    // the dropout actually dropped something: without it the gradient differs
    let plain = FusedParams {
        dropout: None,
        ..params
    };
    let (out0, _) = fwd(&plain, &q, &k, &v);
    assert!(out0.iter().zip(&out).any(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn dropout_keeps_the_expected_fraction_scaled_by_one_over_keep() {
    // zero queries: uniform weights 1/Sk; identity values: out[i, j] is weight (i, j) itself
    let sk = 96;
    let d = dims(50, sk, 4, sk);
    let p = 0.25f32;
    let params = FusedParams {
        dims: d,
        scale: 1.0,
        mask: Default::default(),
        dropout: Some(KernelDropout { p, seed: 1234 }),
    };
    let (nq, nk, _, _, _) = d.lens();
    let mut v = vec![0.0f32; d.problems() * sk * sk];
    for bh in 0..d.problems() {
        for j in 0..sk {
            v[(bh * sk + j) * sk + j] = 1.0;
        }
    }
    let (out, _) = fwd(&params, &vec![0.0; nq], &values(nk, 3), &v);
    let unit = 1.0 / (sk as f32 * (1.0 - p));
    let kept = out.iter().filter(|&&x| x != 0.0).count();
    for &x in &out {
        assert!(
            x == 0.0 || (x - unit).abs() < 1e-6 * unit.max(1.0),
            "{x} vs {unit}"
        );
    }
    let frac = kept as f64 / out.len() as f64;
    assert!((frac - 0.75).abs() < 0.02, "kept fraction {frac}");
}

#[test]
fn dropout_output_is_unbiased_on_average_over_seeds() {
    let d = dims(6, 40, 8, 4);
    let (nq, nk, nv, no, _) = d.lens();
    let (q, k, v) = (values(nq, 21), values(nk, 22), values(nv, 23));
    let plain = FusedParams {
        dims: d,
        scale: 0.35,
        mask: Default::default(),
        dropout: None,
    };
    let (want, _) = fwd(&plain, &q, &k, &v);
    let seeds = 400;
    let mut mean = vec![0.0f64; no];
    for seed in 0..seeds {
        let params = FusedParams {
            dropout: Some(KernelDropout { p: 0.5, seed }),
            ..plain
        };
        let (out, _) = fwd(&params, &q, &k, &v);
        for (m, o) in mean.iter_mut().zip(&out) {
            *m += *o as f64 / seeds as f64;
        }
    }
    // each output is a sum of 40 independent terms of spread ~|v|/40; 400 seeds → ~0.02
    let worst = mean
        .iter()
        .zip(&want)
        .map(|(m, w)| (m - *w as f64).abs())
        .fold(0.0, f64::max);
    assert!(worst < 0.12, "largest deviation of the mean {worst}");
}

#[test]
fn zero_dropout_is_exactly_no_dropout() {
    let d = dims(20, 30, 8, 8);
    let (nq, nk, nv, _, _) = d.lens();
    let (q, k, v) = (values(nq, 31), values(nk, 32), values(nv, 33));
    let none = FusedParams {
        dims: d,
        scale: 0.3,
        mask: Default::default(),
        dropout: None,
    };
    let zero = FusedParams {
        dropout: Some(KernelDropout { p: 0.0, seed: 3 }),
        ..none
    };
    assert_eq!(fwd(&none, &q, &k, &v), fwd(&zero, &q, &k, &v));

    // through the op: training with p = 0 is evaluation
    let dev = Cpu::default();
    let t = |x: Vec<f32>, s: usize| dev.tensor_from_vec(x, (2usize, 2usize, s, 8usize));
    let (q, k, v) = (t(q, 20), t(k, 30), t(v, 30));
    let ctx = |opts: AttentionOptions| {
        try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &opts.skip_weights())
            .unwrap()
            .context
            .as_vec()
    };
    assert_eq!(
        ctx(AttentionOptions::default().train(0.0)),
        ctx(AttentionOptions::default())
    );
}

#[test]
fn op_dropout_gradient_of_values_is_consistent_with_its_forward() {
    // the output is linear in v for a fixed dropout mask, so Σ out ∘ up = Σ dv ∘ v exactly when
    // the backward pass drops the same weights as the forward
    let dev = Cpu::seed_from_u64(4);
    let shape = (2usize, 3usize, 30usize, 8usize);
    let q: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let k: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let v: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let up: Tensor<_, f32, _> = dev.sample_normal_like(&shape);
    let opts = AttentionOptions::default()
        .mask(AttentionMask::none().causal())
        .train(0.5)
        .skip_weights();
    let out = try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts)
        .unwrap()
        .context;
    let loss = (out * up).sum();
    let value = loss.array();
    let grads = loss.backward();
    let dv = grads.get(&v).as_vec();
    let dot: f32 = dv.iter().zip(v.as_vec()).map(|(g, x)| g * x).sum();
    assert!(
        (value - dot).abs() < 1e-4 * (1.0 + value.abs()),
        "{value} vs {dot}"
    );
    // and two calls draw different masks
    let a = try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &opts).unwrap();
    let b = try_scaled_dot_product_attention(q, k, v, &opts).unwrap();
    assert_ne!(a.context.as_vec(), b.context.as_vec());
}
