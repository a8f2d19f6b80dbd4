use attn_runtime::prelude::*;

attention_model! {
    /// A self-attention encoder has no feed-forward width or recurrent cell.
    pub struct Bad {
        arch: SelfAttention,
        task: Classify { vocab: 100, max_len: 8, classes: 2 },
        d_model: 16,
        heads: 2,
        layers: 1,
        ff: 64,
        cell: Gru,
    }
}

fn main() {}
