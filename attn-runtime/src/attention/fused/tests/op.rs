//! The fused dfdx op against the composite path: forward, gradients from `.backward()`,
//! accumulation into existing gradients, inference without a tape, multi-head attention, and the
//! kernel choice.

use dfdx::prelude::*;

use super::reference::{assert_close, values};
use crate::attention::{
    builder, try_scaled_dot_product_attention, AttentionKernel, AttentionMask, AttentionOptions,
    BoolMask,
};
use crate::AttnError;

type T4 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

fn tensor(dev: &Cpu, shape: (usize, usize, usize, usize), seed: u64) -> T4 {
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    dev.tensor_from_vec(values(n, seed), shape)
}

/// Context and the gradients of q, k, v of `Σ context ∘ upstream`.
fn run(
    kernel: AttentionKernel,
    mask: &AttentionMask,
    (q, k, v, up): (&T4, &T4, &T4, &T4),
) -> [Vec<f32>; 4] {
    let opts = AttentionOptions::default()
        .mask(mask.clone())
        .skip_weights()
        .kernel(kernel);
    // q and k each bring their own tape, v none
    let out = try_scaled_dot_product_attention(q.leaky_trace(), k.leaky_trace(), v.clone(), &opts)
        .unwrap();
    let context = out.context.as_vec();
    let grads = (out.context * up.clone()).sum().backward();
    [
        context,
        grads.get(q).as_vec(),
        grads.get(k).as_vec(),
        grads.get(v).as_vec(),
    ]
}

#[test]
fn fused_op_matches_the_composite_path_with_every_mask() {
    let dev = Cpu::default();
    let (b, h, sq, sk, hd, vd) = (2, 3, 37, 70, 8, 5);
    let q = tensor(&dev, (b, h, sq, hd), 1);
    let k = tensor(&dev, (b, h, sk, hd), 2);
    let v = tensor(&dev, (b, h, sk, vd), 3);
    let up = tensor(&dev, (b, h, sq, vd), 4);
    // recycled buffers of NaN the size of q, k and v: a first gradient the op writes but leaves
    // a value of shows
    let lens = [b * h * sq * hd, b * h * sk * hd, b * h * sk * vd];
    crate::kernels::op::fill_cache_with_nan(&dev, &lens, 8);
    let allowed = BoolMask::from_fn(sq, sk, |i, j| (i * 7 + j * 3) % 5 != 0);
    let masks = [
        AttentionMask::none(),
        AttentionMask::none().causal(),
        AttentionMask::none().key_lengths(vec![70, 9]),
        AttentionMask::none().window(4),
        AttentionMask::none().allowed(allowed.clone()),
        AttentionMask::none()
            .causal()
            .window(20)
            .key_lengths(vec![0, 50])
            .allowed(allowed),
    ];
    for mask in &masks {
        let want = run(AttentionKernel::Composite, mask, (&q, &k, &v, &up));
        let got = run(AttentionKernel::Fused, mask, (&q, &k, &v, &up));
        for (name, (g, w)) in ["context", "dq", "dk", "dv"]
            .iter()
            .zip(got.iter().zip(&want))
        {
            assert_close(&format!("{mask:?} {name}"), g, w, 1e-5);
        }
    }
}

#[test]
fn fused_gradients_add_to_gradients_from_other_uses() {
    // x is query, key and value at once, and also used outside the attention
    let dev = Cpu::default();
    let x = tensor(&dev, (2, 2, 9, 4), 5);
    let grads_of = |kernel| {
        let opts = AttentionOptions::default()
            .mask(AttentionMask::none().causal())
            .skip_weights()
            .kernel(kernel);
        let out = try_scaled_dot_product_attention(x.leaky_trace(), x.clone(), x.clone(), &opts)
            .unwrap()
            .context;
        let other = (x.leaky_trace() * 3.0).sum();
        let grads = (out.sum() + other).backward();
        grads.get(&x).as_vec()
    };
    let want = grads_of(AttentionKernel::Composite);
    let got = grads_of(AttentionKernel::Fused);
    assert_close("dx", &got, &want, 1e-5);
}

#[test]
fn permuted_inputs_get_their_gradients_in_their_own_layout() {
    // q, k, v as heads split from [B, S, H, D] by a permute: not contiguous, so the op reads a
    // contiguous copy and the gradient must reach the original through it
    let dev = Cpu::default();
    let x = tensor(&dev, (2, 11, 3, 4), 9);
    let up = tensor(&dev, (2, 3, 11, 4), 10);
    let grads_of = |kernel| {
        let opts = AttentionOptions::default()
            .mask(AttentionMask::none().causal())
            .skip_weights()
            .kernel(kernel);
        let heads = |t: Tensor<(usize, usize, usize, usize), f32, Cpu, _>| {
            t.permute::<_, Axes4<0, 2, 1, 3>>()
        };
        let q = heads(x.leaky_trace());
        let (k, v) = (heads(x.leaky_trace()), heads(x.leaky_trace()));
        let out = try_scaled_dot_product_attention(q, k, v, &opts)
            .unwrap()
            .context;
        let grads = (out * up.clone()).sum().backward();
        grads.get(&x).as_vec()
    };
    let want = grads_of(AttentionKernel::Composite);
    let got = grads_of(AttentionKernel::Fused);
    assert_close("dx", &got, &want, 1e-5);
}

#[test]
fn inference_without_a_tape_matches_and_auto_picks_fused_without_weights() {
    let dev = Cpu::default();
    let q = tensor(&dev, (3, 2, 20, 16), 6);
    let k = tensor(&dev, (3, 2, 33, 16), 7);
    let v = tensor(&dev, (3, 2, 33, 8), 8);
    let opts = AttentionOptions::default()
        .mask(AttentionMask::none().key_lengths(vec![33, 1, 20]))
        .skip_weights();
    let ctx = |opts: &AttentionOptions| {
        try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), opts)
            .unwrap()
            .context
            .as_vec()
    };
    let composite = ctx(&opts.clone().kernel(AttentionKernel::Composite));
    let fused = ctx(&opts.clone().kernel(AttentionKernel::Fused));
    assert_close("context", &fused, &composite, 1e-5);
    assert_eq!(
        ctx(&opts),
        fused,
        "Auto without weights runs the fused kernel"
    );
    // asking for weights keeps the composite path under Auto
    let with_weights = AttentionOptions {
        need_weights: true,
        ..opts.clone()
    };
    let out =
        try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &with_weights).unwrap();
    assert!(out.weights.is_some());
    assert_eq!(out.context.as_vec(), composite);
}

#[test]
fn forcing_the_fused_kernel_where_it_cannot_run_is_an_error() {
    let dev = Cpu::default();
    let q = tensor(&dev, (1, 1, 2, 2), 1);
    let fused = AttentionOptions::default().kernel(AttentionKernel::Fused);
    // weights requested
    let err =
        try_scaled_dot_product_attention(q.clone(), q.clone(), q.clone(), &fused).unwrap_err();
    assert!(err.to_string().contains("skip_weights"), "{err}");
    // f64
    let q64: Tensor<_, f64, _> = dev.sample_normal_like(&(1, 1, 2, 2));
    let err = try_scaled_dot_product_attention(
        q64.clone(),
        q64.clone(),
        q64,
        &fused.clone().skip_weights(),
    )
    .unwrap_err();
    assert!(matches!(err, AttnError::InvalidInput { .. }), "{err}");
}

#[test]
fn multi_head_attention_through_the_fused_kernel_matches_composite() {
    let dev = Cpu::seed_from_u64(3);
    let mha = dev.build_module::<builder::MultiHeadAttention<16, 4, 16, 16>, f32>();
    let x: Tensor<(usize, usize, Const<16>), f32, _> = dev.sample_normal_like(&(2, 11, Const));
    // recycled buffers of NaN the size of the projected queries, keys and values (merged
    // heads), whose first gradients the op writes
    crate::kernels::op::fill_cache_with_nan(&dev, &[2 * 11 * 16], 16);
    let grads_of = |kernel| {
        let opts = AttentionOptions::default()
            .mask(AttentionMask::none().causal().key_lengths(vec![11, 6]))
            .skip_weights()
            .kernel(kernel);
        let ctx = mha.try_self_attend(x.leaky_trace(), &opts).unwrap().context;
        let c = ctx.as_vec();
        let grads = ctx.square().sum().backward();
        (
            c,
            grads.get(&x).as_vec(),
            grads.get(&mha.q_proj.weight).as_vec(),
            grads.get(&mha.v_proj.weight).as_vec(),
        )
    };
    let want = grads_of(AttentionKernel::Composite);
    let got = grads_of(AttentionKernel::Fused);
    assert_close("context", &got.0, &want.0, 1e-5);
    assert_close("dx", &got.1, &want.1, 1e-5);
    assert_close("d q_proj", &got.2, &want.2, 1e-5);
    assert_close("d v_proj", &got.3, &want.3, 1e-5);
}
