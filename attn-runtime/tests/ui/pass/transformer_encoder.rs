use attn_runtime::prelude::*;

attention_model! {
    /// A post-norm transformer classifier pooled at its first token.
    pub struct Classifier {
        arch: Transformer,
        task: Classify { vocab: 50, max_len: 7, classes: 3 },
        d_model: 16, heads: 4, ff: 32, layers: 2,
        activation: GeluTanh, norm: Post, positional: Learned, pooling: Cls,
        dropout: 0.1,
    }
}

attention_model! {
    /// A pre-norm transformer tagger with rotary positions and GEGLU.
    pub struct Tagger {
        arch: Transformer,
        task: Tag { vocab: 50, max_len: 7, tags: 5 },
        d_model: 16, heads: 2, ff: 24, layers: 1,
        activation: Geglu, norm: Pre, positional: Rotary, causal: true,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let ids: Tensor<(usize, Const<7>), usize, _> = dev.tensor_from_vec(vec![1; 14], (2, Const));
    let model = dev.build_module::<Classifier, f32>();
    let _: Tensor<(usize, Const<3>), f32, _> = model.forward(ids.clone());
    let model = dev.build_module::<Tagger, f32>();
    let out = model.try_forward_with(ids, &ForwardOptions::eval().with_weights()).unwrap();
    let _: Tensor<(usize, Const<7>, Const<5>), f32, _> = out.logits;
    assert_eq!(out.attention[0].layer, "encoder.layers.0.self_attn");
}
