use attn_runtime::prelude::*;

attention_model! {
    /// Five heads cannot split 64 dims.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 64,
        heads: 5,
        layers: 1,
    }
}

fn main() {}
