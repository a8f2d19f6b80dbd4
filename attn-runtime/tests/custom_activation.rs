//! A feed-forward activation of the user's own: `activation: SquaredRelu` names a type of this
//! file implementing `attn_runtime::transformer::Activation`, and the width is a const item of
//! this file (`d_model: WIDTH`); the declared transformer builds, runs, says which activation it
//! has, and learns through it.

use attn_runtime::prelude::*;
use attn_runtime::spec::Activation as ActivationName;
use attn_runtime::transformer::Activation;

/// Squared ReLU, `max(0, x)²` (So et al., 2021, "Primer").
#[derive(Clone, Copy, Debug, Default)]
pub struct SquaredRelu;

impl Activation for SquaredRelu {
    const NAME: &'static str = "SquaredRelu";

    fn try_apply<S: Shape, E: Dtype, D: Device<E>, T: Tape<E, D>>(
        x: Tensor<S, E, D, T>,
    ) -> Result<Tensor<S, E, D, T>, AttnError> {
        x.try_relu()
            .and_then(|r| r.try_square())
            .map_err(AttnError::device)
    }
}

/// The model width, a const item the declaration names.
pub const WIDTH: usize = 16;

attention_model! {
    /// A transformer tagger whose feed-forward networks use squared ReLU.
    pub struct SquaredReluTagger {
        arch: Transformer,
        task: Tag { vocab: 10, max_len: 6, tags: 10 },
        d_model: WIDTH, heads: 2, ff: 32, layers: 1,
        activation: SquaredRelu, norm: Pre,
    }
}

#[test]
fn the_users_activation_is_in_the_model_and_its_metadata() {
    assert_eq!(SquaredReluTagger::META.activation, ActivationName::Custom);
    assert_eq!(
        <SquaredReluTagger as DeclaredModel>::ACTIVATION_NAME,
        "SquaredRelu"
    );
    assert_eq!(SquaredReluTagger::META.d_model, WIDTH);
    let dev: Cpu = Default::default();
    let model = dev.build_module::<SquaredReluTagger, f32>();
    let ids: Tensor<(usize, Const<6>), usize, _> = dev.tensor_from_vec(vec![3; 12], (2, Const));
    let logits: Tensor<(usize, Const<6>, Const<10>), f32, _> = model.forward(ids);
    assert!(logits.as_vec().iter().all(|x| x.is_finite()));
}

#[test]
fn a_transformer_learns_through_the_users_activation() {
    let dev = Cpu::seed_from_u64(0);
    let mut model = dev.build_module::<SquaredReluTagger, f32>();
    let mut adam = dfdx::optim::Adam::new(
        &model,
        dfdx::optim::AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
    );
    // the task: tag every token with itself
    let tokens: Vec<usize> = (0..4 * 6).map(|i| (i * 7 + 3) % 10).collect();
    let ids: Tensor<(usize, Const<6>), usize, _> = dev.tensor_from_vec(tokens.clone(), (4, Const));
    let mut one_hot = vec![0.0f32; 4 * 6 * 10];
    for (i, &t) in tokens.iter().enumerate() {
        one_hot[i * 10 + t] = 1.0;
    }
    let targets: Tensor<(usize, Const<6>, Const<10>), f32, _> =
        dev.tensor_from_vec(one_hot, (4, Const, Const));
    let mut losses = Vec::new();
    for step in 0..8 {
        let grads = model.alloc_grads();
        let logits = model.forward_mut(ids.clone().traced(grads));
        let loss = cross_entropy_with_logits_loss(logits, targets.clone());
        losses.push(loss.array());
        let grads = loss.backward();
        if step == 0 {
            let ffn = &model.encoder.layers.modules[0].ffn;
            let g = grads.get(&ffn.linear1.weight).as_vec();
            assert!(
                g.iter().any(|x| *x != 0.0),
                "the gradient reaches the feed-forward weights through the activation"
            );
        }
        adam.update(&mut model, &grads).unwrap();
    }
    assert!(
        losses[7] < 0.8 * losses[0],
        "the loss goes down: {losses:?}"
    );
}
