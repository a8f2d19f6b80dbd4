use attn_runtime::prelude::*;

attention_model! {
    /// Rotary positions live inside transformer attention.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 40, max_len: 9, classes: 2 },
        d_model: 16, heads: 4, layers: 1,
        positional: Rotary,
    }
}

fn main() {}
