use attn_runtime::prelude::*;

attention_sweep! {
    /// Heads that must divide d_model.
    #[name = "bad-heads", data = "sort"]
    pub struct BadHeads {
        base: {
            arch: SelfAttention,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 16, heads: 1, layers: 1,
        },
        grid: { heads: [2, 3, 4], d_model: [16, 32] },
        runtime: { dropout: [0.1, 1.5], momentum: [0.9] },
    }
}

fn main() {}
