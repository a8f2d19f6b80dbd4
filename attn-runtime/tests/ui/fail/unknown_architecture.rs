use attn_runtime::prelude::*;

attention_model! {
    /// `SelfAtention` misses a `t`.
    pub struct Bad {
        arch: SelfAtention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
    }
}

fn main() {}
