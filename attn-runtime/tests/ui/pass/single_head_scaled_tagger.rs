use attn_runtime::prelude::*;

attention_model! {
    /// One scaled attention head tagging every token, seeing only the past.
    pub struct CausalTagger {
        arch: SingleHead,
        task: Tag { vocab: 20, max_len: 5, tags: 4 },
        d_model: 8,
        causal: true,
        window: 2,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<CausalTagger, f32>();
    let ids: Tensor<(usize, Const<5>), usize, _> = dev.tensor_from_vec(vec![1; 10], (2, Const));
    let logits: Tensor<(usize, Const<5>, Const<4>), f32, _> = model.forward(ids);
    assert_eq!(logits.shape().0, 2);
    assert_eq!(CausalTagger::META.name, "causal-tagger");
}
