//! `sweep-width`: the hidden dimension.

use attn_runtime::attention_sweep;

attention_sweep! {
    /// How wide must the model be, and what does width cost in time? d_model 16 to 128.
    #[name = "sweep-width", data = "sort"]
    pub struct WidthSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 32, heads: 4, ff: 128, layers: 1,
            norm: Pre, dropout: 0.0,
        },
        grid: { d_model: [16, 32, 64, 128] },
        seeds: 3,
    }
}
