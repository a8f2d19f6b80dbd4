use attn_runtime::prelude::*;

attention_model! {
    /// No heads, no layers, no d_model.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
    }
}

fn main() {}
