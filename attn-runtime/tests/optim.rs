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
    let norm = attn_runtime::optim::grad_norm(&model, &grads).unwrap();
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

/// `Adam::update` writes `f32` parameters on the `Cpu` in place; it must give, bit for bit, what
/// the copy path gives (each value and gradient widened to `f64`, `update_values`, rounded back),
/// over several steps, with AdamW's decay and with clipping, and a parameter without a gradient
/// counts as a zero gradient.
#[test]
fn update_in_place_equals_update_through_copies() {
    use attn_runtime::param::for_each_param_mut;
    let dev = TestDevice::seed_from_u64(3);
    let model = dev.build_module::<builder::MultiHeadAttention<8, 2>, f32>();
    let x: Tensor<Rank3<2, 3, 8>, f32, _> = dev.sample_normal();
    let cfg = AdamConfig {
        lr: 0.05,
        weight_decay: 0.1,
        ..AdamConfig::default()
    };
    let (mut in_place, mut copied) = (model.clone(), model);
    let (mut adam_a, mut adam_b) = (Adam::new(cfg), Adam::new(cfg));
    for step in 0..3 {
        let grads = in_place
            .try_self_attend(
                x.trace(in_place.alloc_grads()),
                &AttentionOptions::default(),
            )
            .unwrap()
            .context
            .square()
            .sum()
            .backward();
        let clip = (step == 1).then_some(0.5);
        let norm = adam_a.update(&mut in_place, &grads, clip).unwrap();
        assert!(norm > 0.0);

        // the same step through f64 copies, on a model with the same values
        let scale = match clip {
            Some(c) if norm > c => c / (norm + 1e-6),
            _ => 1.0,
        };
        adam_b.begin_step();
        // `copied`'s tensors have their own ids: look its gradients up through `in_place`'s
        let mut by_name = std::collections::BTreeMap::new();
        for_each_param_mut(&mut in_place, |(name, _, p)| {
            by_name.insert(name.to_string(), p.grad_values_f64(&grads));
            Ok(())
        })
        .unwrap();
        for_each_param_mut(&mut copied, |(name, trainable, p)| {
            if trainable {
                let mut values = p.values_f64();
                adam_b.update_values(name, &mut values, &by_name[name], scale);
                p.set_values_f64(&values);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            in_place.q_proj.weight.as_vec(),
            copied.q_proj.weight.as_vec()
        );
        assert_eq!(
            in_place.out_proj.bias.as_ref().unwrap().as_vec(),
            copied.out_proj.bias.as_ref().unwrap().as_vec()
        );
        assert_eq!(adam_a.state, adam_b.state, "step {step}");
    }

    // no gradient for a parameter: a zero gradient (its moments decay, AdamW's decay applies)
    let mut adam = Adam::new(cfg);
    let before = copied.q_proj.weight.as_vec();
    let empty = Gradients::leaky();
    assert_eq!(adam.update(&mut copied, &empty, None).unwrap(), 0.0);
    let want: Vec<f32> = before
        .iter()
        .map(|&w| ((w as f64) * (1.0 - cfg.lr * cfg.weight_decay)) as f32)
        .collect();
    assert_eq!(copied.q_proj.weight.as_vec(), want);
}

/// A parameter without a gradient counts as a zero gradient through the copy path too (any dtype
/// or device but `f32` on the `Cpu`; here `f64`): the same update as an explicit zero gradient,
/// AdamW's decay alone, where dfdx's `Gradients::get` used to panic (seen on CUDA).
#[test]
fn a_missing_gradient_is_a_zero_gradient_through_copies_too() {
    let dev = TestDevice::seed_from_u64(5);
    let model = dev.build_module::<builder::MultiHeadAttention<8, 2>, f64>();
    let cfg = AdamConfig {
        lr: 0.05,
        weight_decay: 0.1,
        ..AdamConfig::default()
    };
    let (mut missing, mut zeros) = (model.clone(), model.clone());
    let empty = Gradients::leaky();
    assert_eq!(
        Adam::new(cfg).update(&mut missing, &empty, None).unwrap(),
        0.0
    );
    let zero_grads = zeros.alloc_grads();
    assert_eq!(
        Adam::new(cfg)
            .update(&mut zeros, &zero_grads, None)
            .unwrap(),
        0.0
    );
    let want: Vec<f64> = model
        .q_proj
        .weight
        .as_vec()
        .iter()
        .map(|&w| w * (1.0 - cfg.lr * cfg.weight_decay))
        .collect();
    assert_eq!(missing.q_proj.weight.as_vec(), want);
    assert_eq!(zeros.q_proj.weight.as_vec(), want);
    assert_eq!(
        missing.out_proj.bias.as_ref().unwrap().as_vec(),
        zeros.out_proj.bias.as_ref().unwrap().as_vec()
    );
}
