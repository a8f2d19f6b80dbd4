//! Invariants of the attention layers that hold for any input: weight rows sum to 1 over visible
//! keys, masked keys get zero weight, causal outputs ignore the future, padding changes nothing
//! it should not, local attention is full attention with a window mask, dropout only in training.

mod common;

use attn_runtime::prelude::*;
use common::*;

type Hd = Const<4>;

fn qkv(
    dev: &TestDevice,
    b: usize,
    h: usize,
    sq: usize,
    sk: usize,
) -> [Tensor<(usize, usize, usize, Hd), f32, TestDevice>; 3] {
    [
        dev.sample_normal_like(&(b, h, sq, Hd::default())),
        dev.sample_normal_like(&(b, h, sk, Hd::default())),
        dev.sample_normal_like(&(b, h, sk, Hd::default())),
    ]
}

#[test]
fn rows_sum_to_one_over_visible_keys_and_masked_keys_get_zero() {
    let dev = TestDevice::seed_from_u64(1);
    let (b, h, s) = (3, 2, 7);
    let masks = [
        AttentionMask::none(),
        AttentionMask::none().causal(),
        AttentionMask::none().key_lengths(vec![7, 3, 1]),
        AttentionMask::none().window(2),
        AttentionMask::none()
            .causal()
            .window(1)
            .key_lengths(vec![2, 7, 5]),
        AttentionMask::none().allowed(BoolMask::from_fn(s, s, |i, j| (i + j) % 3 != 0)),
    ];
    for mask in masks {
        let [q, k, v] = qkv(&dev, b, h, s, s);
        let opts = AttentionOptions::default().mask(mask.clone());
        let out = try_scaled_dot_product_attention(q, k, v, &opts).unwrap();
        let w = out.weights.unwrap().as_vec();
        for bi in 0..b {
            for hi in 0..h {
                for i in 0..s {
                    let row = &w[((bi * h + hi) * s + i) * s..][..s];
                    let visible = (0..s).filter(|&j| mask.allows(bi, i, j)).count();
                    let sum: f32 = row.iter().sum();
                    let want = if visible == 0 { 0.0 } else { 1.0 };
                    assert!(
                        (sum - want).abs() < 1e-5,
                        "{mask:?}: row ({bi},{hi},{i}) sums to {sum}"
                    );
                    for (j, &x) in row.iter().enumerate() {
                        if !mask.allows(bi, i, j) {
                            assert_eq!(
                                x, 0.0,
                                "{mask:?}: masked key ({bi},{hi},{i},{j}) has weight {x}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn causal_outputs_ignore_later_inputs() {
    let dev = TestDevice::seed_from_u64(2);
    let mha = dev.build_module::<builder::MultiHeadAttention<8, 2>, f32>();
    let s = 6;
    let x: Tensor<(usize, usize, Const<8>), f32, _> = dev.sample_normal_like(&(2, s, Const));
    let mut changed = x.as_vec();
    // rewrite positions 4 and 5 of every sequence
    for b in 0..2 {
        for t in 4..s {
            for d in 0..8 {
                changed[(b * s + t) * 8 + d] += 3.0 + d as f32;
            }
        }
    }
    let changed = dev.tensor_from_vec(changed, (2, s, Const::<8>));
    let opts = AttentionOptions::default().mask(AttentionMask::none().causal());
    let a = mha.try_self_attend(x, &opts).unwrap().context.as_vec();
    let c = mha
        .try_self_attend(changed, &opts)
        .unwrap()
        .context
        .as_vec();
    for b in 0..2 {
        for t in 0..s {
            let (ra, rc) = (&a[(b * s + t) * 8..][..8], &c[(b * s + t) * 8..][..8]);
            if t < 4 {
                assert_close(&format!("position {t}"), ra, rc, 1e-6);
            } else {
                assert!(
                    ra.iter().zip(rc).any(|(x, y)| (x - y).abs() > 1e-3),
                    "position {t} should change"
                );
            }
        }
    }
}

#[test]
fn padding_does_not_change_unpadded_outputs() {
    let dev = TestDevice::seed_from_u64(3);
    let mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 6, 5>, f32>();
    let q: Tensor<(usize, usize, Const<8>), f32, _> = dev.sample_normal_like(&(1, 3, Const));
    let k: Tensor<(usize, usize, Const<6>), f32, _> = dev.sample_normal_like(&(1, 4, Const));
    let v: Tensor<(usize, usize, Const<5>), f32, _> = dev.sample_normal_like(&(1, 4, Const));
    let unpadded = mha
        .try_attend(
            q.clone(),
            k.clone(),
            v.clone(),
            &AttentionOptions::default(),
        )
        .unwrap();

    // the same sequence right-padded with garbage to 7 keys, with its length given
    let pad = |t: Vec<f32>, width: usize| {
        let mut t = t;
        t.extend((0..3 * width).map(|i| 100.0 + i as f32));
        t
    };
    let kp = dev.tensor_from_vec(pad(k.as_vec(), 6), (1, 7, Const::<6>));
    let vp = dev.tensor_from_vec(pad(v.as_vec(), 5), (1, 7, Const::<5>));
    let opts = AttentionOptions::default().mask(AttentionMask::none().key_lengths(vec![4]));
    let padded = mha.try_attend(q, kp, vp, &opts).unwrap();
    assert_close(
        "context",
        &padded.context.as_vec(),
        &unpadded.context.as_vec(),
        1e-6,
    );
    let wp = padded.weights.unwrap().as_vec();
    let wu = unpadded.weights.unwrap().as_vec();
    for row in 0..2 * 3 {
        assert_close(
            "weights",
            &wp[row * 7..row * 7 + 4],
            &wu[row * 4..row * 4 + 4],
            1e-6,
        );
        assert_eq!(&wp[row * 7 + 4..row * 7 + 7], &[0.0; 3]);
    }
}

#[test]
fn local_attention_equals_full_attention_with_the_window_as_a_bool_mask() {
    let dev = TestDevice::seed_from_u64(4);
    let (sq, sk, w) = (6, 8, 2);
    let [q, k, v] = qkv(&dev, 2, 3, sq, sk);
    let local = AttentionOptions::default().mask(AttentionMask::none().window(w));
    let as_bool = BoolMask::from_fn(sq, sk, |i, j| i.abs_diff(j) <= w);
    let full = AttentionOptions::default().mask(AttentionMask::none().allowed(as_bool));
    let a = try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &local).unwrap();
    let b = try_scaled_dot_product_attention(q, k, v, &full).unwrap();
    assert_eq!(a.context.as_vec(), b.context.as_vec());
    assert_eq!(a.weights.unwrap().as_vec(), b.weights.unwrap().as_vec());
}

#[test]
fn self_attend_is_attend_with_the_same_tensor_three_times() {
    let dev = TestDevice::seed_from_u64(5);
    let mha = dev.build_module::<builder::MultiHeadAttention<8, 4>, f32>();
    let x: Tensor<Rank3<2, 5, 8>, f32, _> = dev.sample_normal();
    let opts = AttentionOptions::default();
    let a = mha.try_self_attend(x.clone(), &opts).unwrap().context;
    let b = mha
        .try_attend(x.clone(), x.clone(), x.clone(), &opts)
        .unwrap()
        .context;
    assert_eq!(a.array(), b.array());
    // and dfdx's Module form gives the same context (it skips the weights, so on the CPU the
    // fused kernel computes it: equal up to rounding)
    let c = mha.forward(x);
    assert_close("module form", &c.as_vec(), &a.as_vec(), 1e-6);
}

#[test]
fn mean_weights_average_the_heads() {
    let dev = TestDevice::seed_from_u64(6);
    let mha = dev.build_module::<builder::MultiHeadAttention<8, 2>, f32>();
    let x: Tensor<Rank3<1, 3, 8>, f32, _> = dev.sample_normal();
    let out = mha
        .try_self_attend(x, &AttentionOptions::default())
        .unwrap();
    let w = out.weights.as_ref().unwrap().array();
    let mean = out.mean_weights().unwrap().array();
    for i in 0..3 {
        for j in 0..3 {
            assert!((mean[0][i][j] - (w[0][0][i][j] + w[0][1][i][j]) / 2.0).abs() < 1e-7);
        }
    }
}

#[test]
fn skipping_weights_returns_none_and_the_same_context() {
    let dev = TestDevice::seed_from_u64(7);
    let [q, k, v] = qkv(&dev, 2, 2, 3, 4);
    let with = try_scaled_dot_product_attention(
        q.clone(),
        k.clone(),
        v.clone(),
        &AttentionOptions::default(),
    )
    .unwrap();
    let skip = AttentionOptions::default().skip_weights();
    let without = try_scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), &skip).unwrap();
    assert!(without.weights.is_none());
    // without weights the CPU takes the fused kernel: the same context up to rounding
    assert_close(
        "context",
        &without.context.as_vec(),
        &with.context.as_vec(),
        1e-6,
    );
    // and exactly the same with the composite kernel forced
    let composite = skip.kernel(AttentionKernel::Composite);
    let without = try_scaled_dot_product_attention(q, k, v, &composite).unwrap();
    assert!(without.weights.is_none());
    assert_eq!(with.context.as_vec(), without.context.as_vec());
}

#[test]
fn dropout_applies_in_training_mode_only() {
    let dev = TestDevice::seed_from_u64(8);
    let (b, h, s) = (4, 4, 32);
    let q: Tensor<_, f32, _> = dev.zeros_like(&(b, h, s, Hd::default()));
    let k: Tensor<_, f32, _> = dev.zeros_like(&(b, h, s, Hd::default()));
    let v: Tensor<_, f32, _> = dev.ones_like(&(b, h, s, Hd::default()));
    // zero scores: uniform weights 1/s, so every context entry is 1 without dropout
    let eval = AttentionOptions::default().eval();
    let e1 = try_scaled_dot_product_attention(
        q.clone(),
        k.clone(),
        v.clone(),
        &AttentionOptions {
            dropout: 0.5,
            ..eval
        },
    )
    .unwrap();
    assert!(
        e1.context.as_vec().iter().all(|&x| (x - 1.0).abs() < 1e-5),
        "eval mode must not drop"
    );

    let p = 0.25;
    let train = AttentionOptions::default().train(p);
    let t = try_scaled_dot_product_attention(q, k, v, &train).unwrap();
    // weights are returned before dropout: still uniform
    assert!(t
        .weights
        .unwrap()
        .as_vec()
        .iter()
        .all(|&x| (x - 1.0 / s as f32).abs() < 1e-6));
    // each context entry is (kept count) / (s (1 - p)); its mean over many rows is ~1
    let ctx = t.context.as_vec();
    let mean: f32 = ctx.iter().sum::<f32>() / ctx.len() as f32;
    assert!((mean - 1.0).abs() < 0.05, "mean context {mean}");
    let unit = 1.0 / (s as f32 * (1.0 - p as f32));
    for x in &ctx {
        let kept = x / unit;
        assert!(
            (kept - kept.round()).abs() < 1e-3,
            "{x} is not a multiple of {unit}"
        );
    }
    assert!(
        ctx.iter().any(|&x| (x - 1.0).abs() > 1e-3),
        "training mode must drop some weights"
    );
}

#[test]
fn impossible_dropout_is_an_error() {
    let dev = TestDevice::default();
    let [q, k, v] = qkv(&dev, 1, 1, 2, 2);
    let err = try_scaled_dot_product_attention(q, k, v, &AttentionOptions::default().train(1.0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("dropout") && err.contains("[0, 1)"), "{err}");
}

#[test]
fn gradients_flow_into_every_parameter() {
    let dev = TestDevice::seed_from_u64(9);
    let mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 6, 4>, f32>();
    let q: Tensor<Rank3<2, 3, 8>, f32, _> = dev.sample_normal();
    let k: Tensor<Rank3<2, 5, 6>, f32, _> = dev.sample_normal();
    let v: Tensor<Rank3<2, 5, 4>, f32, _> = dev.sample_normal();
    let out = mha
        .try_attend(
            q.trace(mha.alloc_grads()),
            k,
            v,
            &AttentionOptions::default(),
        )
        .unwrap();
    let grads = out.context.square().sum().backward();
    for (name, g) in [
        ("q_proj.weight", grads.get(&mha.q_proj.weight).as_vec()),
        ("k_proj.weight", grads.get(&mha.k_proj.weight).as_vec()),
        ("v_proj.weight", grads.get(&mha.v_proj.weight).as_vec()),
        ("out_proj.weight", grads.get(&mha.out_proj.weight).as_vec()),
    ] {
        assert!(g.iter().any(|&x| x != 0.0), "{name} got no gradient");
    }
}
