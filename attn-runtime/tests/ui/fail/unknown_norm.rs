use attn_runtime::prelude::*;

attention_model! {
    /// Norms go `Pre` or `Post`.
    pub struct Bad {
        arch: Transformer,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        ff: 32,
        layers: 1,
        norm: Middle,
    }
}

fn main() {}
