use attn_runtime::prelude::*;

attention_model! {
    /// An encoder needs at least one layer.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        layers: 0,
    }
}

fn main() {}
