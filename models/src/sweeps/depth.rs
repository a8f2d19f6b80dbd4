//! `sweep-depth`: the number of layers, post-norm, at a high learning rate.

use attn_runtime::attention_sweep;

attention_sweep! {
    /// Do more layers help, and do they train stably? Post-norm stacks of 1, 2 and 4 layers.
    #[name = "sweep-depth", data = "sort"]
    pub struct DepthSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 32, heads: 4, ff: 64, layers: 1,
            norm: Post, dropout: 0.0,
        },
        grid: { layers: [1, 2, 4] },
        runtime: { lr: [0.001, 0.01] },
        seeds: 3,
    }
}
