//! `sort-transformer`: a transformer tagger with rotary positions and a SwiGLU feed-forward.

use attn_runtime::attention_model;

attention_model! {
    /// Tags every position of a digit sequence with the digit that belongs there once sorted.
    #[name = "sort-transformer", data = "sort"]
    pub struct SortTransformer {
        arch: Transformer,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 64,
        heads: 4,
        ff: 128,
        layers: 2,
        activation: Swiglu,
        norm: Pre,
        positional: Rotary,
    }
}
