//! `sweep-heads`: the number of attention heads.

use attn_runtime::attention_sweep;

attention_sweep! {
    /// How many heads does sorting need? One transformer layer of width 32, 1 to 8 heads.
    #[name = "sweep-heads", data = "sort"]
    pub struct HeadsSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 32, heads: 1, ff: 64, layers: 1,
            norm: Pre, dropout: 0.0,
        },
        grid: { heads: [1, 2, 4, 8] },
        seeds: 3,
    }
}
