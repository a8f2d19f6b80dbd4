use attn_runtime::prelude::*;

attention_model! {
    /// `layers` given twice.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        layers: 1,
        layers: 2,
    }
}

fn main() {}
