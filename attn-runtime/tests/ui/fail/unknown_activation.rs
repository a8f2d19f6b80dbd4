use attn_runtime::prelude::*;

attention_model! {
    /// `Gelo` is not an activation.
    pub struct Bad {
        arch: Transformer,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        ff: 32,
        layers: 1,
        activation: Gelo,
    }
}

fn main() {}
