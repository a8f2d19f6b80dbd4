use attn_runtime::prelude::*;

attention_model! {
    /// `Sinusoid` is close to `Sinusoidal`.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        layers: 1,
        positional: Sinusoid,
    }
}

fn main() {}
