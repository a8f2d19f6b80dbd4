use attn_runtime::prelude::*;

attention_model! {
    /// `head` is a typo of `heads`.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        head: 2,
        heads: 2,
        layers: 1,
    }
}

fn main() {}
