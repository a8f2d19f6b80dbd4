//! Golden tests of the transformer blocks against PyTorch (`tools/gen_transformer_fixtures.py`):
//! `nn.TransformerEncoderLayer`, `nn.TransformerDecoderLayer` and `nn.Transformer`, both norm
//! placements, relu and gelu, padding and causal masks: outputs and the gradients of inputs and
//! every parameter within 1e-5 in f32. Also the gated feed-forward networks and every activation.

mod common;

use std::collections::BTreeMap;

use attn_runtime::prelude::*;
use attn_runtime::tape_holder::TapeHolder;
use attn_runtime::transformer::{
    Activation, DecoderBlock, EncoderBlock, FeedForward, FeedForwardNet, GatedFeedForward, Gelu,
    Relu, Silu, TransformerDecoder, TransformerEncoder,
};
use common::*;

const M: usize = 8;
const H: usize = 2;
const F: usize = 16;
type Dev = TestDevice;

/// PyTorch-named gradients of a multi-head attention module.
fn mha_grads<const K: usize>(
    grads: &Gradients<f32, Dev>,
    mha: &MultiHeadAttention<M, H, K, K, f32, Dev>,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<f32>>,
) {
    let g = |t: &Tensor<_, f32, Dev>| grads.get(t).as_vec();
    let b = |t: &Option<Tensor<Rank1<M>, f32, Dev>>| grads.get(t.as_ref().unwrap()).as_vec();
    if K == M {
        out.insert(
            format!("{prefix}in_proj_weight"),
            [
                g(&mha.q_proj.weight),
                grads.get(&mha.k_proj.weight).as_vec(),
                grads.get(&mha.v_proj.weight).as_vec(),
            ]
            .concat(),
        );
    }
    out.insert(
        format!("{prefix}in_proj_bias"),
        [
            b(&mha.q_proj.bias),
            b(&mha.k_proj.bias),
            b(&mha.v_proj.bias),
        ]
        .concat(),
    );
    out.insert(format!("{prefix}out_proj.weight"), g(&mha.out_proj.weight));
    out.insert(format!("{prefix}out_proj.bias"), b(&mha.out_proj.bias));
}

fn ffn_grads<A>(
    grads: &Gradients<f32, Dev>,
    ffn: &FeedForward<M, F, A, f32, Dev>,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<f32>>,
) {
    out.insert(
        format!("{prefix}linear1.weight"),
        grads.get(&ffn.linear1.weight).as_vec(),
    );
    out.insert(
        format!("{prefix}linear1.bias"),
        grads.get(ffn.linear1.bias.as_ref().unwrap()).as_vec(),
    );
    out.insert(
        format!("{prefix}linear2.weight"),
        grads.get(&ffn.linear2.weight).as_vec(),
    );
    out.insert(
        format!("{prefix}linear2.bias"),
        grads.get(ffn.linear2.bias.as_ref().unwrap()).as_vec(),
    );
}

fn norm_grads(
    grads: &Gradients<f32, Dev>,
    norm: &dfdx::nn::modules::LayerNorm1D<M, f32, Dev>,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<f32>>,
) {
    out.insert(format!("{prefix}weight"), grads.get(&norm.gamma).as_vec());
    out.insert(format!("{prefix}bias"), grads.get(&norm.beta).as_vec());
}

fn encoder_grads<A, const PRE: bool>(
    grads: &Gradients<f32, Dev>,
    block: &EncoderBlock<M, H, FeedForward<M, F, A, f32, Dev>, PRE, f32, Dev>,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<f32>>,
) {
    mha_grads(grads, &block.self_attn, &format!("{prefix}self_attn."), out);
    ffn_grads(grads, &block.ffn, prefix, out);
    norm_grads(grads, &block.norm1, &format!("{prefix}norm1."), out);
    norm_grads(grads, &block.norm2, &format!("{prefix}norm2."), out);
}

fn decoder_grads<A, const PRE: bool>(
    grads: &Gradients<f32, Dev>,
    block: &DecoderBlock<M, H, M, FeedForward<M, F, A, f32, Dev>, PRE, f32, Dev>,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<f32>>,
) {
    mha_grads(grads, &block.self_attn, &format!("{prefix}self_attn."), out);
    mha_grads(
        grads,
        &block.cross_attn,
        &format!("{prefix}multihead_attn."),
        out,
    );
    ffn_grads(grads, &block.ffn, prefix, out);
    norm_grads(grads, &block.norm1, &format!("{prefix}norm1."), out);
    norm_grads(grads, &block.norm2, &format!("{prefix}norm2."), out);
    norm_grads(grads, &block.norm3, &format!("{prefix}norm3."), out);
}

/// Every `grad.<param>` of the fixture must be matched by one of ours.
fn assert_param_grads(fx: &Fixture, ours: &BTreeMap<String, Vec<f32>>) {
    let mut checked = 0;
    for name in fx.sd.names() {
        let Some(param) = name.strip_prefix("grad.") else {
            continue;
        };
        if name.starts_with("grad.input")
            || ["grad.x", "grad.memory", "grad.src", "grad.tgt"].contains(&name)
        {
            continue;
        }
        let got = ours
            .get(param)
            .unwrap_or_else(|| panic!("{}: no gradient for {param}", fx.name));
        fx.assert_close(name, got);
        checked += 1;
    }
    assert!(
        checked >= 10,
        "{}: only {checked} parameter gradients compared",
        fx.name
    );
}

fn lengths(fx: &Fixture, key: &str) -> Vec<usize> {
    fx.config[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

fn check_encoder_layer<A: Activation, const PRE: bool>(name: &str) {
    let dev = Dev::default();
    let fx = Fixture::load("transformer", name);
    let lens = lengths(&fx, "lengths");
    let (b, s) = (lens.len(), fx.usize("s"));
    let mut block =
        EncoderBlock::<M, H, FeedForward<M, F, A, f32, Dev>, PRE, f32, Dev>::build(&dev);
    block.load_pytorch_state_dict(&fx.sd, "param.").unwrap();
    let x = tensor(&dev, &fx, "input.x", (b, s, Const::<M>));
    let upstream = tensor(&dev, &fx, "upstream", (b, s, Const::<M>));
    let mut mask = AttentionMask::none().key_lengths(lens);
    if fx.causal() {
        mask = mask.causal();
    }
    let out = block
        .try_block(
            x.leaky_trace(),
            &AttentionOptions::default().mask(mask),
            "l".into(),
            &mut Vec::new(),
        )
        .unwrap();
    fx.assert_close("expected.output", &out.as_vec());
    let grads = (out * upstream).sum().backward();
    fx.assert_close("grad.x", &grads.get(&x).as_vec());
    let mut ours = BTreeMap::new();
    encoder_grads(&grads, &block, "", &mut ours);
    assert_param_grads(&fx, &ours);
}

#[test]
fn encoder_layer_post_norm_relu_matches_pytorch() {
    check_encoder_layer::<Relu, false>("encoder_layer_post_relu");
}

#[test]
fn encoder_layer_pre_norm_gelu_causal_matches_pytorch() {
    check_encoder_layer::<Gelu, true>("encoder_layer_pre_gelu");
}

fn check_decoder_layer<A: Activation, const PRE: bool>(name: &str) {
    let dev = Dev::default();
    let fx = Fixture::load("transformer", name);
    let (tgt_lens, mem_lens) = (lengths(&fx, "tgt_lengths"), lengths(&fx, "mem_lengths"));
    let (b, t, s) = (tgt_lens.len(), fx.usize("t"), fx.usize("s"));
    let mut block =
        DecoderBlock::<M, H, M, FeedForward<M, F, A, f32, Dev>, PRE, f32, Dev>::build(&dev);
    block.load_pytorch_state_dict(&fx.sd, "param.").unwrap();
    let x = tensor(&dev, &fx, "input.x", (b, t, Const::<M>));
    let memory = tensor(&dev, &fx, "input.memory", (b, s, Const::<M>));
    let upstream = tensor(&dev, &fx, "upstream", (b, t, Const::<M>));
    let self_opts =
        AttentionOptions::default().mask(AttentionMask::none().causal().key_lengths(tgt_lens));
    let cross_opts = AttentionOptions::default().mask(AttentionMask::none().key_lengths(mem_lens));
    let out = block
        .try_block(
            x.leaky_trace(),
            &memory,
            &self_opts,
            &cross_opts,
            "d",
            &mut Vec::new(),
        )
        .unwrap();
    fx.assert_close("expected.output", &out.as_vec());
    let grads = (out * upstream).sum().backward();
    fx.assert_close("grad.x", &grads.get(&x).as_vec());
    fx.assert_close("grad.memory", &grads.get(&memory).as_vec());
    let mut ours = BTreeMap::new();
    decoder_grads(&grads, &block, "", &mut ours);
    assert_param_grads(&fx, &ours);
}

#[test]
fn decoder_layer_post_norm_relu_matches_pytorch() {
    check_decoder_layer::<Relu, false>("decoder_layer_post_relu");
}

#[test]
fn decoder_layer_pre_norm_gelu_matches_pytorch() {
    check_decoder_layer::<Gelu, true>("decoder_layer_pre_gelu");
}

fn check_transformer<A: Activation, const PRE: bool>(name: &str)
where
    TransformerEncoder<M, H, FeedForward<M, F, A, f32, Dev>, 2, PRE, f32, Dev>:
        BuildModule<Dev, f32>,
    TransformerDecoder<M, H, M, FeedForward<M, F, A, f32, Dev>, 2, PRE, f32, Dev>:
        BuildModule<Dev, f32>,
{
    let dev = Dev::default();
    let fx = Fixture::load("transformer", name);
    let (src_lens, tgt_lens) = (lengths(&fx, "src_lengths"), lengths(&fx, "tgt_lengths"));
    let (b, s, t) = (src_lens.len(), fx.usize("s"), fx.usize("t"));
    let mut encoder =
        TransformerEncoder::<M, H, FeedForward<M, F, A, f32, Dev>, 2, PRE, f32, Dev>::build(&dev);
    let mut decoder =
        TransformerDecoder::<M, H, M, FeedForward<M, F, A, f32, Dev>, 2, PRE, f32, Dev>::build(
            &dev,
        );
    encoder
        .load_pytorch_state_dict(&fx.sd, "param.encoder.")
        .unwrap();
    decoder
        .load_pytorch_state_dict(&fx.sd, "param.decoder.")
        .unwrap();
    let src = tensor(&dev, &fx, "input.src", (b, s, Const::<M>));
    let tgt = tensor(&dev, &fx, "input.tgt", (b, t, Const::<M>));
    let upstream = tensor(&dev, &fx, "upstream", (b, t, Const::<M>));

    let src_opts =
        AttentionOptions::default().mask(AttentionMask::none().key_lengths(src_lens.clone()));
    let memory = encoder
        .try_encode(src.leaky_trace(), &src_opts, "encoder", &mut Vec::new())
        .unwrap();
    let (mut tape, memory) = TapeHolder::split(memory);
    let self_opts =
        AttentionOptions::default().mask(AttentionMask::none().causal().key_lengths(tgt_lens));
    let out = tape
        .run(&tgt, |tgt| {
            decoder.try_decode(tgt, &memory, &self_opts, &src_opts, &mut Vec::new())
        })
        .unwrap();
    let out = tape.finish(out);
    fx.assert_close("expected.output", &out.as_vec());
    let grads = (out * upstream).sum().backward();
    fx.assert_close("grad.src", &grads.get(&src).as_vec());
    fx.assert_close("grad.tgt", &grads.get(&tgt).as_vec());
    let mut ours = BTreeMap::new();
    for (i, block) in encoder.layers.modules.iter().enumerate() {
        encoder_grads(&grads, block, &format!("encoder.layers.{i}."), &mut ours);
    }
    for (i, block) in decoder.layers.modules.iter().enumerate() {
        decoder_grads(&grads, block, &format!("decoder.layers.{i}."), &mut ours);
    }
    if let (Some(en), Some(dn)) = (&encoder.norm, &decoder.norm) {
        norm_grads(&grads, en, "encoder.norm.", &mut ours);
        norm_grads(&grads, dn, "decoder.norm.", &mut ours);
    }
    assert_param_grads(&fx, &ours);
}

#[test]
fn transformer_post_norm_relu_matches_pytorch() {
    check_transformer::<Relu, false>("transformer_post_relu");
}

#[test]
fn transformer_pre_norm_gelu_matches_pytorch() {
    check_transformer::<Gelu, true>("transformer_pre_gelu");
}

fn check_gated<A: Activation>(name: &str) {
    let dev = Dev::default();
    let fx = Fixture::load("transformer", name);
    let mut ffn = GatedFeedForward::<M, F, A, f32, Dev>::build(&dev);
    fx.sd
        .load_into("param.gate_proj.weight", &mut ffn.gate_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.up_proj.weight", &mut ffn.up_proj.weight)
        .unwrap();
    fx.sd
        .load_into("param.down_proj.weight", &mut ffn.down_proj.weight)
        .unwrap();
    let x = tensor(&dev, &fx, "input.x", (2, 3, Const::<M>));
    let upstream = tensor(&dev, &fx, "upstream", (2, 3, Const::<M>));
    let out = ffn.try_feed_forward(x.leaky_trace(), 0.0).unwrap();
    fx.assert_close("expected.output", &out.as_vec());
    let grads = (out * upstream).sum().backward();
    fx.assert_close("grad.x", &grads.get(&x).as_vec());
    fx.assert_close(
        "grad.gate_proj.weight",
        &grads.get(&ffn.gate_proj.weight).as_vec(),
    );
    fx.assert_close(
        "grad.up_proj.weight",
        &grads.get(&ffn.up_proj.weight).as_vec(),
    );
    fx.assert_close(
        "grad.down_proj.weight",
        &grads.get(&ffn.down_proj.weight).as_vec(),
    );
}

#[test]
fn geglu_matches_pytorch() {
    check_gated::<Gelu>("geglu");
}

#[test]
fn swiglu_matches_pytorch() {
    check_gated::<Silu>("swiglu");
}

#[test]
fn rotary_embedding_matches_the_reference() {
    let dev = Dev::default();
    let fx = Fixture::load("transformer", "rotary");
    let x = tensor(&dev, &fx, "x", (2, 3, 5, M));
    for (offset, name) in [(0, "expected.offset0"), (3, "expected.offset3")] {
        let rotary = attn_runtime::attention::Rotary {
            offset,
            ..Default::default()
        };
        let y = attn_runtime::attention::try_apply_rotary(x.clone(), &rotary).unwrap();
        fx.assert_close(name, &y.as_vec());
    }
}

#[test]
fn rotary_attention_depends_on_relative_positions_only() {
    let dev = Dev::seed_from_u64(5);
    let mha = dev.build_module::<builder::MultiHeadAttention<M, H>, f32>();
    let x: Tensor<Rank3<2, 5, M>, f32, _> = dev.sample_normal();
    let at = |offset: usize| {
        let opts = AttentionOptions {
            rotary: Some(attn_runtime::attention::Rotary {
                offset,
                ..Default::default()
            }),
            ..Default::default()
        };
        mha.try_self_attend(x.clone(), &opts).unwrap()
    };
    let (a, b) = (at(0), at(7));
    assert_close(
        "weights",
        &a.weights.unwrap().as_vec(),
        &b.weights.unwrap().as_vec(),
        1e-5,
    );
    assert_close("context", &a.context.as_vec(), &b.context.as_vec(), 1e-5);
    // and rotary does change attention compared to none
    let plain = mha
        .try_self_attend(x.clone(), &AttentionOptions::default())
        .unwrap();
    assert_ne!(
        plain.weights.unwrap().as_vec(),
        at(0).weights.unwrap().as_vec()
    );
}
