//! Golden tests of the attention layers against PyTorch (fixtures from
//! `tools/gen_attention_fixtures.py`): forward outputs, weights, and the gradients of inputs and
//! parameters, within 1e-5 in f32.

mod common;

use attn_runtime::prelude::*;
use common::*;

type Dk = Const<6>;
type Dv = Const<7>;

fn check_sdpa(name: &str) {
    check_sdpa_with(name, AttentionKernel::Composite);
}

/// Runs an SDPA fixture through `kernel`; the fused kernel returns no weights, so only the context
/// and the gradients are compared for it.
fn check_sdpa_with(name: &str, kernel: AttentionKernel) {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", name);
    let (b, h, sq, sk) = (fx.usize("b"), fx.usize("h"), fx.usize("sq"), fx.usize("sk"));
    let q = tensor(&dev, &fx, "q", (b, h, sq, Dk::default()));
    let k = tensor(&dev, &fx, "k", (b, h, sk, Dk::default()));
    let v = tensor(&dev, &fx, "v", (b, h, sk, Dv::default()));
    let upstream = tensor(&dev, &fx, "upstream", (b, h, sq, Dv::default()));
    let scale = match fx.config["scale"].as_f64() {
        Some(1.0) => Scale::Unscaled,
        Some(f) => Scale::Factor(f),
        None => Scale::InverseSqrtHeadDim,
    };
    let mut opts = AttentionOptions::default()
        .mask(fx.mask())
        .scale(scale)
        .kernel(kernel);
    if kernel == AttentionKernel::Fused {
        opts = opts.skip_weights();
    }

    let out =
        try_scaled_dot_product_attention(q.leaky_trace(), k.clone(), v.clone(), &opts).unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
    match out.weights {
        Some(w) => fx.assert_close("expected.weights", &w.as_vec()),
        None => assert_eq!(kernel, AttentionKernel::Fused, "weights were asked for"),
    }

    let grads = (out.context * upstream).sum().backward();
    fx.assert_close("grad.q", &grads.get(&q).as_vec());
    fx.assert_close("grad.k", &grads.get(&k).as_vec());
    fx.assert_close("grad.v", &grads.get(&v).as_vec());
}

#[test]
fn sdpa_plain_matches_pytorch() {
    check_sdpa("sdpa_plain");
}

#[test]
fn dot_product_unscaled_matches_pytorch() {
    check_sdpa("dot_product_unscaled");
}

#[test]
fn dot_product_function_is_unscaled() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "dot_product_unscaled");
    let q = tensor(&dev, &fx, "q", (2, 3, 4, Dk::default()));
    let k = tensor(&dev, &fx, "k", (2, 3, 5, Dk::default()));
    let v = tensor(&dev, &fx, "v", (2, 3, 5, Dv::default()));
    // whatever scale the options carry, the dot-product function does not scale
    let opts = AttentionOptions::default().scale(Scale::Factor(3.0));
    let out = try_dot_product_attention(q, k, v, &opts).unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
}

#[test]
fn sdpa_causal_matches_pytorch() {
    check_sdpa("sdpa_causal");
}

#[test]
fn sdpa_key_padding_matches_pytorch() {
    check_sdpa("sdpa_key_padding");
}

#[test]
fn sdpa_local_window_matches_pytorch() {
    check_sdpa("sdpa_window");
}

#[test]
fn sdpa_bool_mask_matches_pytorch() {
    check_sdpa("sdpa_bool_mask");
}

#[test]
fn sdpa_combined_masks_match_pytorch() {
    check_sdpa("sdpa_combined");
}

#[test]
fn sdpa_fully_masked_row_is_zero_like_pytorch() {
    check_sdpa("sdpa_fully_masked_row");
}

#[test]
fn sdpa_with_runtime_head_dims_matches_pytorch() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "sdpa_key_padding");
    let q = tensor(&dev, &fx, "q", (2, 3, 4, 6));
    let k = tensor(&dev, &fx, "k", (2, 3, 5, 6));
    let v = tensor(&dev, &fx, "v", (2, 3, 5, 7));
    let opts = AttentionOptions::default().mask(fx.mask());
    let out = try_scaled_dot_product_attention(q, k, v, &opts).unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
}

/// The same fixtures through the fused CPU kernel (skipping the weights): context and gradients.
#[cfg(not(feature = "cuda"))]
mod fused {
    use super::*;

    #[test]
    fn fused_sdpa_plain_matches_pytorch() {
        check_sdpa_with("sdpa_plain", AttentionKernel::Fused);
    }

    #[test]
    fn fused_dot_product_unscaled_matches_pytorch() {
        check_sdpa_with("dot_product_unscaled", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_causal_matches_pytorch() {
        check_sdpa_with("sdpa_causal", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_key_padding_matches_pytorch() {
        check_sdpa_with("sdpa_key_padding", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_local_window_matches_pytorch() {
        check_sdpa_with("sdpa_window", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_bool_mask_matches_pytorch() {
        check_sdpa_with("sdpa_bool_mask", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_combined_masks_match_pytorch() {
        check_sdpa_with("sdpa_combined", AttentionKernel::Fused);
    }

    #[test]
    fn fused_sdpa_fully_masked_row_is_zero_like_pytorch() {
        check_sdpa_with("sdpa_fully_masked_row", AttentionKernel::Fused);
    }
}

/// Runs a multi-head case twice, parameters from the fixture's PyTorch state dict: asking for the
/// weights (the composite path) and without them (on the `Cpu`, the fused kernel with the heads
/// split and merged inside it).
fn check_mha<const H: usize, const K: usize, const V: usize, const BIAS: bool>(name: &str)
where
    MultiHeadAttention<8, H, K, V, f32, TestDevice, BIAS>: TensorCollection<f32, TestDevice>,
    builder::MultiHeadAttention<8, H, K, V, BIAS>: BuildOnDevice<
        TestDevice,
        f32,
        Built = MultiHeadAttention<8, H, K, V, f32, TestDevice, BIAS>,
    >,
{
    check_mha_with::<H, K, V, BIAS>(name, true);
    check_mha_with::<H, K, V, BIAS>(name, false);
}

fn check_mha_with<const H: usize, const K: usize, const V: usize, const BIAS: bool>(
    name: &str,
    need_weights: bool,
) where
    MultiHeadAttention<8, H, K, V, f32, TestDevice, BIAS>: TensorCollection<f32, TestDevice>,
    builder::MultiHeadAttention<8, H, K, V, BIAS>: BuildOnDevice<
        TestDevice,
        f32,
        Built = MultiHeadAttention<8, H, K, V, f32, TestDevice, BIAS>,
    >,
{
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", name);
    let (b, sq, sk) = (fx.usize("b"), fx.usize("sq"), fx.usize("sk"));
    let mut mha = dev.build_module::<builder::MultiHeadAttention<8, H, K, V, BIAS>, f32>();
    let sd = StateDict::read(fixture_path(
        "attention",
        &format!("{name}.state_dict.safetensors"),
    ))
    .unwrap();
    mha.load_pytorch_state_dict(&sd, "").unwrap();

    let query = tensor(&dev, &fx, "query", (b, sq, Const::<8>));
    let key = tensor(&dev, &fx, "key", (b, sk, Const::<K>));
    let value = tensor(&dev, &fx, "value", (b, sk, Const::<V>));
    let upstream = tensor(&dev, &fx, "upstream", (b, sq, Const::<8>));
    let mut opts = AttentionOptions::default().mask(fx.mask());
    if !need_weights {
        opts = opts.skip_weights();
    }

    let out = mha
        .try_attend(query.leaky_trace(), key.clone(), value.clone(), &opts)
        .unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
    match out.weights {
        Some(w) => fx.assert_close("expected.weights", &w.as_vec()),
        None => assert!(!need_weights, "{name}: weights were asked for"),
    }

    let grads = (out.context * upstream).sum().backward();
    fx.assert_close("grad.query", &grads.get(&query).as_vec());
    fx.assert_close("grad.key", &grads.get(&key).as_vec());
    fx.assert_close("grad.value", &grads.get(&value).as_vec());

    let q_w = grads.get(&mha.q_proj.weight).as_vec();
    let k_w = grads.get(&mha.k_proj.weight).as_vec();
    let v_w = grads.get(&mha.v_proj.weight).as_vec();
    if fx.sd.contains("grad.in_proj_weight") {
        let fused: Vec<f32> = [q_w, k_w, v_w].concat();
        fx.assert_close("grad.in_proj_weight", &fused);
    } else {
        fx.assert_close("grad.q_proj_weight", &q_w);
        fx.assert_close("grad.k_proj_weight", &k_w);
        fx.assert_close("grad.v_proj_weight", &v_w);
    }
    fx.assert_close(
        "grad.out_proj.weight",
        &grads.get(&mha.out_proj.weight).as_vec(),
    );
    if BIAS {
        let bias =
            |t: &Option<Tensor<Rank1<8>, f32, TestDevice>>| grads.get(t.as_ref().unwrap()).as_vec();
        let fused: Vec<f32> = [
            bias(&mha.q_proj.bias),
            bias(&mha.k_proj.bias),
            bias(&mha.v_proj.bias),
        ]
        .concat();
        fx.assert_close("grad.in_proj_bias", &fused);
        fx.assert_close("grad.out_proj.bias", &bias(&mha.out_proj.bias));
    }
}

#[test]
fn mha_self_attention_matches_pytorch() {
    check_mha::<2, 8, 8, true>("mha_self");
}

#[test]
fn mha_cross_attention_with_kdim_vdim_matches_pytorch() {
    check_mha::<2, 6, 4, true>("mha_cross");
}

#[test]
fn mha_causal_without_bias_matches_pytorch() {
    check_mha::<4, 8, 8, false>("mha_causal_nobias");
}

#[test]
fn mha_local_window_with_padding_matches_pytorch() {
    check_mha::<2, 8, 8, true>("mha_local");
}

#[test]
fn mha_state_dict_with_bias_does_not_load_into_unbiased_module() {
    let dev = TestDevice::default();
    let sd = StateDict::read(fixture_path("attention", "mha_self.state_dict.safetensors")).unwrap();
    let mut mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 8, 8, false>, f32>();
    let before = mha.q_proj.weight.as_vec();
    let err = mha.load_pytorch_state_dict(&sd, "").unwrap_err();
    assert!(
        matches!(&err, AttnError::StateDict { reason } if reason.contains("`in_proj_bias`")),
        "{err}"
    );
    assert_eq!(
        mha.q_proj.weight.as_vec(),
        before,
        "the module is left as it was"
    );
}

#[test]
fn mha_state_dict_of_other_width_is_rejected() {
    let dev = TestDevice::default();
    let sd = StateDict::read(fixture_path(
        "attention",
        "mha_cross.state_dict.safetensors",
    ))
    .unwrap();
    let mut mha = dev.build_module::<builder::MultiHeadAttention<8, 2, 5, 4>, f32>();
    let err = mha
        .load_pytorch_state_dict(&sd, "")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("k_proj_weight") && err.contains("[8, 6]"),
        "{err}"
    );
}

#[test]
fn additive_attention_matches_bahdanau_reference() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "additive");
    let mut att = dev.build_module::<AdditiveAttentionBuilder<6, 5, 7>, f32>();
    fx.sd
        .load_into("param.query_proj.weight", &mut att.query_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.key_proj.weight", &mut att.key_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.key_proj.bias", att.key_proj.bias.as_mut().unwrap())
        .unwrap();
    fx.sd
        .load_into("param.score_proj.weight", &mut att.score_proj.weight)
        .unwrap();
    let query = tensor(&dev, &fx, "query", (2, 3, Const::<6>));
    let keys = tensor(&dev, &fx, "keys", (2, 4, Const::<5>));
    let values = tensor(&dev, &fx, "values", (2, 4, Const::<3>));
    let upstream = tensor(&dev, &fx, "upstream", (2, 3, Const::<3>));
    let opts = AttentionOptions::default().mask(fx.mask());

    let out = att
        .try_attend(query.leaky_trace(), keys.clone(), values.clone(), &opts)
        .unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
    fx.assert_close("expected.weights", &out.weights.unwrap().as_vec());
    let grads = (out.context * upstream).sum().backward();
    fx.assert_close("grad.query", &grads.get(&query).as_vec());
    fx.assert_close("grad.keys", &grads.get(&keys).as_vec());
    fx.assert_close("grad.values", &grads.get(&values).as_vec());
    fx.assert_close(
        "grad.query_proj.weight",
        &grads.get(&att.query_proj.weight).as_vec(),
    );
    fx.assert_close(
        "grad.key_proj.weight",
        &grads.get(&att.key_proj.weight).as_vec(),
    );
    fx.assert_close(
        "grad.key_proj.bias",
        &grads.get(att.key_proj.bias.as_ref().unwrap()).as_vec(),
    );
    fx.assert_close(
        "grad.score_proj.weight",
        &grads.get(&att.score_proj.weight).as_vec(),
    );
}

#[test]
fn additive_attention_step_equals_one_query_row() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "additive");
    let mut att = dev.build_module::<AdditiveAttentionBuilder<6, 5, 7>, f32>();
    fx.sd
        .load_into("param.query_proj.weight", &mut att.query_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.key_proj.weight", &mut att.key_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.key_proj.bias", att.key_proj.bias.as_mut().unwrap())
        .unwrap();
    fx.sd
        .load_into("param.score_proj.weight", &mut att.score_proj.weight)
        .unwrap();
    let query = tensor(&dev, &fx, "query", (2, 3, Const::<6>));
    let keys = tensor(&dev, &fx, "keys", (2, 4, Const::<5>));
    let values = tensor(&dev, &fx, "values", (2, 4, Const::<3>));
    let opts = AttentionOptions::default().mask(fx.mask());
    // the second query of each sequence, as a decoder step
    let step_query = query.slice((.., 1..2, ..)).reshape_like(&(2, Const::<6>));
    let out = att
        .try_attend_step(step_query, keys, values, &opts)
        .unwrap();
    let want_ctx = fx.values("expected.context");
    let want_w = fx.values("expected.weights");
    let ctx_row: Vec<f32> = (0..2)
        .flat_map(|b| want_ctx[b * 9 + 3..b * 9 + 6].to_vec())
        .collect();
    let w_row: Vec<f32> = (0..2)
        .flat_map(|b| want_w[b * 12 + 4..b * 12 + 8].to_vec())
        .collect();
    assert_close("step context", &out.context.as_vec(), &ctx_row, TOL);
    assert_close("step weights", &out.weights.unwrap().as_vec(), &w_row, TOL);
}

#[test]
fn general_attention_matches_luong_reference() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "general");
    let mut att = dev.build_module::<GeneralAttentionBuilder<6, 5>, f32>();
    fx.sd
        .load_into("param.query_proj.weight", &mut att.query_proj.weight)
        .unwrap();
    let query = tensor(&dev, &fx, "query", (2, 3, Const::<6>));
    let keys = tensor(&dev, &fx, "keys", (2, 4, Const::<5>));
    let values = tensor(&dev, &fx, "values", (2, 4, Const::<3>));
    let upstream = tensor(&dev, &fx, "upstream", (2, 3, Const::<3>));
    let opts = AttentionOptions::default().mask(fx.mask());

    let out = att
        .try_attend(query.leaky_trace(), keys.clone(), values.clone(), &opts)
        .unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
    fx.assert_close("expected.weights", &out.weights.unwrap().as_vec());
    let grads = (out.context * upstream).sum().backward();
    fx.assert_close("grad.query", &grads.get(&query).as_vec());
    fx.assert_close("grad.keys", &grads.get(&keys).as_vec());
    fx.assert_close("grad.values", &grads.get(&values).as_vec());
    fx.assert_close(
        "grad.query_proj.weight",
        &grads.get(&att.query_proj.weight).as_vec(),
    );
}

#[test]
fn dot_attention_matches_luong_reference() {
    let dev = TestDevice::default();
    let fx = Fixture::load("attention", "dot");
    let query = tensor(&dev, &fx, "query", (2, 3, Const::<5>));
    let keys = tensor(&dev, &fx, "keys", (2, 4, Const::<5>));
    let values = tensor(&dev, &fx, "values", (2, 4, Const::<3>));
    let upstream = tensor(&dev, &fx, "upstream", (2, 3, Const::<3>));
    let opts = AttentionOptions::default().mask(fx.mask());

    let out = dot_attention(query.leaky_trace(), keys.clone(), values.clone(), &opts).unwrap();
    fx.assert_close("expected.context", &out.context.as_vec());
    fx.assert_close("expected.weights", &out.weights.unwrap().as_vec());
    let grads = (out.context * upstream).sum().backward();
    fx.assert_close("grad.query", &grads.get(&query).as_vec());
    fx.assert_close("grad.keys", &grads.get(&keys).as_vec());
    fx.assert_close("grad.values", &grads.get(&values).as_vec());
}
