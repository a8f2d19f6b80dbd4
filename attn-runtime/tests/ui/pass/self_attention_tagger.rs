use attn_runtime::prelude::*;

attention_model! {
    /// Local multi-head self-attention tagging tokens.
    pub struct LocalTagger {
        arch: SelfAttention,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 32,
        heads: 2,
        layers: 1,
        window: 3,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let model = dev.build_module::<LocalTagger, f32>();
    let ids: Tensor<Rank2<1, 12>, usize, _> = dev.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]);
    let out = model.try_forward_with(ids, &ForwardOptions::eval().with_weights()).unwrap();
    let _: Tensor<Rank3<1, 12, 16>, f32, _> = out.logits;
    let w = out.attention[0].weights.as_vec();
    // query 0 sees keys 0..=3 only
    assert!(w[4..12].iter().all(|&x| x == 0.0));
}
