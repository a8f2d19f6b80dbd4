//! Golden tests of the causal decoder block with rotary positions against PyTorch
//! (`tools/gen_decoder_fixtures.py`): the block `CausalLm` stacks, a pre-norm
//! `EncoderBlock<M, H, FeedForward<M, F, Gelu>, true>` run with a causal mask and
//! `Rotary::default()` (or an offset), written out by hand in PyTorch float64. The output, the
//! loss, the input gradient and every parameter gradient must match within [`TOL`]. Also an
//! invariant, independent of the fixtures: with rotary, the output at position `t` (and its
//! gradient) does not depend on the inputs of later positions.
//!
//! The gradient tests caught a bug (fixed): dfdx 0.13's CPU `slice` backward assigns the
//! gradient of the sliced region instead of adding to it, so the rotary backward lost the `x·cos`
//! term of `dx` (`grad.x`, `norm1.*` and the q/k rows of `in_proj_*` were off by 0.1 to 1).

mod common;

use std::collections::BTreeMap;

use attn_runtime::attention::{try_apply_rotary, Rotary};
use attn_runtime::prelude::*;
use attn_runtime::transformer::{EncoderBlock, FeedForward, Gelu};
use common::*;

const M: usize = 8;
const F: usize = 16;
type Dev = TestDevice;
type Block<const H: usize> = EncoderBlock<M, H, FeedForward<M, F, Gelu, f32, Dev>, true, f32, Dev>;

/// Our gradients under PyTorch's parameter names (nn.TransformerEncoderLayer's).
fn block_grads<const H: usize>(
    grads: &Gradients<f32, Dev>,
    block: &Block<H>,
) -> BTreeMap<String, Vec<f32>> {
    let g = |t: &Tensor<_, f32, Dev>| grads.get(t).as_vec();
    let b = |t: &Option<Tensor<Rank1<M>, f32, Dev>>| grads.get(t.as_ref().unwrap()).as_vec();
    let (sa, ffn) = (&block.self_attn, &block.ffn);
    let mut out = BTreeMap::new();
    let mut put = |name: &str, v: Vec<f32>| {
        out.insert(name.to_string(), v);
    };
    put(
        "self_attn.in_proj_weight",
        [
            g(&sa.q_proj.weight),
            g(&sa.k_proj.weight),
            g(&sa.v_proj.weight),
        ]
        .concat(),
    );
    put(
        "self_attn.in_proj_bias",
        [b(&sa.q_proj.bias), b(&sa.k_proj.bias), b(&sa.v_proj.bias)].concat(),
    );
    put("self_attn.out_proj.weight", g(&sa.out_proj.weight));
    put("self_attn.out_proj.bias", b(&sa.out_proj.bias));
    put("linear1.weight", grads.get(&ffn.linear1.weight).as_vec());
    put(
        "linear1.bias",
        grads.get(ffn.linear1.bias.as_ref().unwrap()).as_vec(),
    );
    put("linear2.weight", grads.get(&ffn.linear2.weight).as_vec());
    put("linear2.bias", b(&ffn.linear2.bias));
    put("norm1.weight", grads.get(&block.norm1.gamma).as_vec());
    put("norm1.bias", grads.get(&block.norm1.beta).as_vec());
    put("norm2.weight", grads.get(&block.norm2.gamma).as_vec());
    put("norm2.bias", grads.get(&block.norm2.beta).as_vec());
    out
}

fn decoder_options(lengths: Option<Vec<usize>>, offset: usize) -> AttentionOptions {
    let mut mask = AttentionMask::none().causal();
    if let Some(lengths) = lengths {
        mask = mask.key_lengths(lengths);
    }
    AttentionOptions {
        rotary: Some(Rotary {
            offset,
            ..Default::default()
        }),
        ..AttentionOptions::default().mask(mask)
    }
}

/// The worst `|got − want| / (1 + |want|)` of a fixture tensor (the metric of [`assert_close`]).
fn scaled_error(fx: &Fixture, name: &str, got: &[f32]) -> f64 {
    let want = fx.values(name);
    assert_eq!(got.len(), want.len(), "{}: {name} length", fx.name);
    got.iter()
        .zip(&want)
        .map(|(&g, &w)| (g as f64 - w as f64).abs() / (1.0 + (w as f64).abs()))
        .fold(0.0, f64::max)
}

/// Runs the fixture's block; returns the scaled error of every compared tensor, by fixture name
/// (`expected.output`, `loss`, `grad.x`, `grad.<param>` for every parameter).
fn decoder_block_errors<const H: usize>(fx: &Fixture) -> BTreeMap<String, f64> {
    let dev = Dev::default();
    let name = &fx.name;
    assert_eq!(
        (fx.usize("m"), fx.usize("h"), fx.usize("f")),
        (M, H, F),
        "{name}: sizes"
    );
    assert!(fx.causal(), "{name}: the fixture is causal");
    assert_eq!(fx.config["base"].as_f64(), Some(Rotary::default().base));
    let (b, s, offset) = (fx.usize("b"), fx.usize("s"), fx.usize("offset"));
    let lengths = fx.lengths().filter(|l| l.iter().any(|&n| n < s));

    let mut block = Block::<H>::build(&dev);
    block.load_pytorch_state_dict(&fx.sd, "param.").unwrap();
    let x = tensor(&dev, fx, "input.x", (b, s, Const::<M>));
    let upstream = tensor(&dev, fx, "upstream", (b, s, Const::<M>));
    let out = block
        .try_block(
            x.leaky_trace(),
            &decoder_options(lengths, offset),
            "decoder".into(),
            &mut Vec::new(),
        )
        .unwrap();
    let mut errors = BTreeMap::new();
    let mut record = |name: &str, got: &[f32]| {
        errors.insert(name.to_string(), scaled_error(fx, name, got));
    };
    record("expected.output", &out.as_vec());
    let loss = (out * upstream).sum();
    record("loss", &[loss.array()]);
    let grads = loss.backward();
    record("grad.x", &grads.get(&x).as_vec());

    let ours = block_grads(&grads, &block);
    let mut checked = 0;
    for fixture_name in fx.sd.names() {
        let Some(param) = fixture_name.strip_prefix("grad.") else {
            continue;
        };
        if param == "x" {
            continue;
        }
        let got = ours
            .get(param)
            .unwrap_or_else(|| panic!("{name}: no gradient of ours for {param}"));
        record(fixture_name, got);
        checked += 1;
    }
    assert_eq!(
        checked,
        ours.len(),
        "{name}: every parameter gradient compared"
    );
    errors
}

/// Asserts the forward values (`expected.output`, `loss`) or the gradients within [`TOL`],
/// naming every tensor out of tolerance.
fn check_decoder_block<const H: usize>(name: &str, gradients: bool) {
    let fx = Fixture::load("transformer", name);
    assert_errors_within_tol(name, &decoder_block_errors::<H>(&fx), gradients);
}

#[test]
fn causal_rotary_decoder_block_output_matches_pytorch() {
    check_decoder_block::<2>("decoder_block_rotary_causal", false);
}

#[test]
fn causal_rotary_decoder_block_gradients_match_pytorch() {
    check_decoder_block::<2>("decoder_block_rotary_causal", true);
}

#[test]
fn causal_rotary_decoder_block_with_offset_and_padding_output_matches_pytorch() {
    check_decoder_block::<2>("decoder_block_rotary_causal_offset3", false);
}

#[test]
fn causal_rotary_decoder_block_with_offset_and_padding_gradients_match_pytorch() {
    check_decoder_block::<2>("decoder_block_rotary_causal_offset3", true);
}

#[test]
fn causal_rotary_decoder_block_with_one_head_output_matches_pytorch() {
    check_decoder_block::<1>("decoder_block_rotary_causal_h1", false);
}

#[test]
fn causal_rotary_decoder_block_with_one_head_gradients_match_pytorch() {
    check_decoder_block::<1>("decoder_block_rotary_causal_h1", true);
}

/// The gradient of [`try_apply_rotary`] alone against its formula: for
/// `y = x·cos + rotate_half(x)·sin` and upstream `u`, `dx = u·cos + rotate_half_transposed(u·sin)`
/// with `rotate_half_transposed([a, b]) = [b, −a]`.
#[test]
fn rotary_gradient_matches_its_formula() {
    let dev = Dev::seed_from_u64(3);
    for d in [2usize, 4, 8] {
        let (b, h, s) = (2usize, 3usize, 5usize);
        let shape = (b, h, s, d);
        let x: Tensor<(usize, usize, usize, usize), f32, Dev> = dev.sample_normal_like(&shape);
        let u: Tensor<(usize, usize, usize, usize), f32, Dev> = dev.sample_normal_like(&shape);
        let rotary = Rotary {
            offset: 2,
            ..Default::default()
        };
        let y = try_apply_rotary(x.leaky_trace(), &rotary).unwrap();
        let got = (y * u.clone()).sum().backward().get(&x).as_vec();
        let (u, half) = (u.as_vec(), d / 2);
        let mut want = vec![0.0f32; u.len()];
        for (row, (w, u)) in want.chunks_mut(d).zip(u.chunks(d)).enumerate() {
            let pos = (rotary.offset + row % s) as f64;
            for (i, w) in w.iter_mut().enumerate() {
                // the angle of dim i is also that of its partner i ± half
                let freq = rotary.base.powf(-2.0 * (i % half) as f64 / d as f64);
                let (sin, cos) = (pos * freq).sin_cos();
                let partner = if i < half { u[i + half] } else { -u[i - half] };
                *w = u[i] * cos as f32 + partner * sin as f32;
            }
        }
        assert_close(&format!("rotary dx, head dim {d}"), &got, &want, TOL);
    }
}

/// Changing the inputs after position `t` leaves the outputs up to `t`, and the gradient of
/// those outputs, untouched (and the gradient reaching later inputs is zero).
#[test]
fn causal_rotary_block_output_ignores_later_positions() {
    const B: usize = 2;
    const S: usize = 6;
    let dev = Dev::seed_from_u64(17);
    let block = Block::<2>::build(&dev);
    let opts = decoder_options(None, 0);
    let x: Tensor<Rank3<B, S, M>, f32, Dev> = dev.sample_normal();
    let noise: Tensor<Rank3<B, S, M>, f32, Dev> = dev.sample_normal();
    let run = |x: Tensor<Rank3<B, S, M>, f32, Dev>| {
        block
            .try_block(x, &opts, "decoder".into(), &mut Vec::new())
            .unwrap()
            .array()
    };
    let base = run(x.clone());
    let (xv, nv) = (x.array(), noise.array());
    for t in 0..S - 1 {
        let mut changed = xv;
        for (xs, ns) in changed.iter_mut().zip(&nv) {
            xs[t + 1..].copy_from_slice(&ns[t + 1..]);
        }
        let out = run(dev.tensor(changed));
        for (i, (out, base)) in out.iter().zip(&base).enumerate() {
            for (p, (got, want)) in out.iter().zip(base).enumerate().take(t + 1) {
                assert_close(&format!("t = {t}: batch {i} position {p}"), got, want, 1e-6);
            }
            assert_ne!(
                out[t + 1],
                base[t + 1],
                "t = {t}: the change reaches position {}",
                t + 1
            );
        }

        // Gradient of the outputs up to t: zero on the later inputs.
        let mut select = [[[0.0f32; M]; S]; B];
        for row in select.iter_mut() {
            for p in row.iter_mut().take(t + 1) {
                *p = [1.0; M];
            }
        }
        let traced = x.leaky_trace();
        let out = block
            .try_block(traced, &opts, "decoder".into(), &mut Vec::new())
            .unwrap();
        let grads = (out * dev.tensor(select)).sum().backward();
        let gx = grads.get(&x).array();
        for (i, row) in gx.iter().enumerate() {
            for (p, g) in row.iter().enumerate() {
                let norm: f32 = g.iter().map(|v| v.abs()).sum();
                if p <= t {
                    assert!(norm > 0.0, "t = {t}: batch {i} position {p} has a gradient");
                } else {
                    assert!(
                        norm <= 1e-7,
                        "t = {t}: batch {i} later position {p} gets gradient {norm:e}"
                    );
                }
            }
        }
    }
}
