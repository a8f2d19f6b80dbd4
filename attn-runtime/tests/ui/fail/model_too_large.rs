use attn_runtime::prelude::*;

attention_model! {
    /// A million-wide encoder: about 8e12 parameters, which no machine allocates.
    pub struct Huge {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 1_000_000,
        heads: 2,
        layers: 2,
    }
}

fn main() {}
