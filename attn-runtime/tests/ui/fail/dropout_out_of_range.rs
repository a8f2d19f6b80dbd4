use attn_runtime::prelude::*;

attention_model! {
    /// Dropout 1.5 is not a probability.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        layers: 1,
        dropout: 1.5,
    }
}

fn main() {}
