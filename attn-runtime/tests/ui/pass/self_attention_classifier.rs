use attn_runtime::prelude::*;

attention_model! {
    /// Two layers of multi-head self-attention, mean-pooled.
    #[name = "ui-encoder", data = "sentiment"]
    pub struct Encoder {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 10, classes: 2 },
        d_model: 16,
        heads: 4,
        layers: 2,
        positional: Learned,
        pooling: Mean,
        dropout: 0.2,
    }
}

fn main() {
    let dev: Cpu = Default::default();
    let mut model = dev.build_module::<Encoder, f32>();
    let ids: Tensor<(usize, Const<10>), usize, _> = dev.tensor_from_vec(vec![3; 30], (3, Const));
    let logits: Tensor<(usize, Const<2>), f32, _, _> = model.forward_mut(ids.traced(model.alloc_grads()));
    let _grads = logits.sum().backward();
}
