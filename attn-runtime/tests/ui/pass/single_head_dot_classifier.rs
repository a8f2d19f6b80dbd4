use attn_runtime::prelude::*;

attention_model! {
    /// Basic (unscaled) dot-product attention over word embeddings.
    #[name = "ui-single-head-dot", data = "sentiment"]
    pub struct BasicAttention {
        arch: SingleHead,
        scoring: Dot,
        task: Classify { vocab: 50, max_len: 6, classes: 3 },
        d_model: 8,
        positional: None,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<BasicAttention, f32>();
    let ids: Tensor<Rank2<2, 6>, usize, _> = dev.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 0, 0]]);
    let out = model.try_forward_with(ids, &ForwardOptions::eval().lengths(vec![6, 3]).with_weights()).unwrap();
    let _: Tensor<Rank2<2, 3>, f32, _> = out.logits;
    assert_eq!(out.attention.len(), 1);
    assert_eq!(BasicAttention::META.scoring, attn_runtime::spec::Scoring::Dot);
}
