//! `sweep-activation`: the feed-forward activation.

use attn_runtime::attention_sweep;

attention_sweep! {
    /// Which feed-forward activation? ReLU, GELU, SiLU and SwiGLU in a 2-layer transformer.
    #[name = "sweep-activation", data = "sort"]
    pub struct ActivationSweep {
        base: {
            arch: Transformer,
            task: Tag { vocab: 16, max_len: 12, tags: 16 },
            d_model: 32, heads: 4, ff: 64, layers: 2,
            norm: Pre, dropout: 0.0,
        },
        grid: { activation: [Relu, Gelu, Silu, Swiglu] },
        seeds: 3,
    }
}
