//! Misuse that compile-time shapes cannot catch returns a clear error, never a panic.

mod common;

use attn_runtime::prelude::*;
use common::*;

type Hd = Const<4>;

fn t4(
    dev: &TestDevice,
    b: usize,
    h: usize,
    s: usize,
) -> Tensor<(usize, usize, usize, Hd), f32, TestDevice> {
    dev.sample_normal_like(&(b, h, s, Hd::default()))
}

#[test]
fn keys_and_values_of_different_lengths() {
    let dev = TestDevice::default();
    let err = try_scaled_dot_product_attention(
        t4(&dev, 1, 2, 3),
        t4(&dev, 1, 2, 5),
        t4(&dev, 1, 2, 6),
        &AttentionOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, AttnError::ShapeMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "shape mismatch in attention.value.seq_len: expected 5, got 6"
    );
}

#[test]
fn batch_sizes_that_disagree() {
    let dev = TestDevice::default();
    let err = try_scaled_dot_product_attention(
        t4(&dev, 2, 2, 3),
        t4(&dev, 3, 2, 5),
        t4(&dev, 3, 2, 5),
        &AttentionOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in attention.key.batch: expected 2, got 3"
    );

    let mha = dev.build_module::<builder::MultiHeadAttention<8, 2>, f32>();
    let q: Tensor<(usize, usize, Const<8>), f32, _> = dev.sample_normal_like(&(2, 3, Const));
    let k: Tensor<(usize, usize, Const<8>), f32, _> = dev.sample_normal_like(&(2, 4, Const));
    let v: Tensor<(usize, usize, Const<8>), f32, _> = dev.sample_normal_like(&(2, 5, Const));
    let err = mha
        .try_attend(q, k, v, &AttentionOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in multi_head_attention.value.seq_len: expected 4, got 5"
    );
}

#[test]
fn padding_length_larger_than_the_sequence() {
    let dev = TestDevice::default();
    let opts = AttentionOptions::default().mask(AttentionMask::none().key_lengths(vec![3, 9]));
    let err = try_scaled_dot_product_attention(
        t4(&dev, 2, 1, 4),
        t4(&dev, 2, 1, 5),
        t4(&dev, 2, 1, 5),
        &opts,
    )
    .unwrap_err();
    assert!(matches!(err, AttnError::InvalidMask { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("sequence 1 has length 9, longer than the 5 keys"),
        "{err}"
    );
}

#[test]
fn a_window_of_zero() {
    let dev = TestDevice::default();
    let opts = AttentionOptions::default().mask(AttentionMask::none().window(0));
    let err = try_scaled_dot_product_attention(
        t4(&dev, 1, 1, 4),
        t4(&dev, 1, 1, 4),
        t4(&dev, 1, 1, 4),
        &opts,
    )
    .unwrap_err();
    assert!(err.to_string().contains("use a window >= 1"), "{err}");
}

#[test]
fn a_boolean_mask_for_other_sizes() {
    let dev = TestDevice::default();
    let mask = BoolMask::shared(4, 4, vec![true; 16]).unwrap();
    let opts = AttentionOptions::default().mask(AttentionMask::none().allowed(mask));
    let err = try_scaled_dot_product_attention(
        t4(&dev, 1, 1, 4),
        t4(&dev, 1, 1, 5),
        t4(&dev, 1, 1, 5),
        &opts,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("[4, 4]") && err.to_string().contains("[1, 4, 5]"),
        "{err}"
    );
}

#[test]
fn additive_attention_with_mismatched_values() {
    let dev = TestDevice::default();
    let att = dev.build_module::<AdditiveAttentionBuilder<4, 4, 8>, f32>();
    let q: Tensor<(usize, Const<4>), f32, _> = dev.sample_normal_like(&(2, Const));
    let k: Tensor<(usize, usize, Const<4>), f32, _> = dev.sample_normal_like(&(2, 5, Const));
    let v: Tensor<(usize, usize, Const<3>), f32, _> = dev.sample_normal_like(&(2, 6, Const));
    let err = att
        .try_attend_step(q, k, v, &AttentionOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch in additive_attention.values.seq_len: expected 5, got 6"
    );
}
