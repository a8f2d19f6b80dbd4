//! The optimizer against PyTorch's Adam and AdamW trajectories (`tools/gen_optim_fixtures.py`),
//! and gradient clipping by global norm.

mod common;

use attn_runtime::optim::{Adam, AdamConfig};
use attn_runtime::prelude::*;
use common::*;

fn check(name: &str) {
    let fx = Fixture::load("optim", name);
    let cfg = AdamConfig {
        lr: fx.config["lr"].as_f64().unwrap(),
        weight_decay: fx.config["weight_decay"].as_f64().unwrap(),
        decoupled: fx.config["decoupled"].as_bool().unwrap(),
        ..AdamConfig::default()
    };
    let mut adam = Adam::new(cfg);
    let f64s = |n: &str| fx.sd.get(n).unwrap().values.clone();
    let mut params = f64s("initial");
    for t in 0..fx.usize("steps") {
        adam.begin_step();
        adam.update_values("p", &mut params, &f64s(&format!("grad.{t}")), 1.0);
        let want = f64s(&format!("param.{t}"));
        for (i, (g, w)) in params.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-12, "{name} step {t} [{i}]: {g} vs {w}");
        }
    }
}

#[test]
fn adam_follows_pytorch() {
    check("adam");
}

#[test]
fn adam_with_l2_weight_decay_follows_pytorch() {
    check("adam_l2");
}

#[test]
fn adamw_follows_pytorch() {
    check("adamw");
}

#[test]
fn global_norm_clipping_scales_every_gradient_together() {
    let dev = TestDevice::seed_from_u64(0);
    let mut model = dev.build_module::<builder::MultiHeadAttention<8, 2>, f32>();
    let x: Tensor<Rank3<2, 3, 8>, f32, _> = dev.sample_normal();
    let grads = model
        .try_self_attend(x.trace(model.alloc_grads()), &AttentionOptions::default())
        .unwrap()
        .context
        .square()
        .sum()
        .backward();
    let norm = attn_runtime::optim::grad_norm(&mut model, &grads).unwrap();
    let by_hand: f64 = [
        grads.get(&model.q_proj.weight).as_vec(),
        grads.get(model.q_proj.bias.as_ref().unwrap()).as_vec(),
        grads.get(&model.k_proj.weight).as_vec(),
        grads.get(model.k_proj.bias.as_ref().unwrap()).as_vec(),
        grads.get(&model.v_proj.weight).as_vec(),
        grads.get(model.v_proj.bias.as_ref().unwrap()).as_vec(),
        grads.get(&model.out_proj.weight).as_vec(),
        grads.get(model.out_proj.bias.as_ref().unwrap()).as_vec(),
    ]
    .concat()
    .iter()
    .map(|g| (*g as f64).powi(2))
    .sum::<f64>()
    .sqrt();
    assert!(
        (norm - by_hand).abs() < 1e-6 * by_hand,
        "{norm} vs {by_hand}"
    );

    // with clipping to a tenth of the norm, plain SGD-like first Adam steps move every
    // parameter, and the reported norm is the unclipped one
    let before = model.q_proj.weight.as_vec();
    let mut adam = Adam::new(AdamConfig {
        lr: 0.1,
        ..AdamConfig::default()
    });
    let reported = adam.update(&mut model, &grads, Some(norm / 10.0)).unwrap();
    assert_eq!(reported, norm);
    assert_ne!(before, model.q_proj.weight.as_vec());
}
