use attn_runtime::prelude::*;

attention_model! {
    /// A patch model reads images, not token sequences.
    pub struct Bad {
        arch: PatchAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        patch: 2,
        d_model: 16,
        heads: 2,
        layers: 1,
    }
}

fn main() {}
