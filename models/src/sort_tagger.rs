//! `sort-tagger`: sequence tagging with local, multi-head self-attention.

use attn_runtime::attention_model;

attention_model! {
    /// Tags every position of a digit sequence with the digit that belongs there once sorted.
    #[name = "sort-tagger", data = "sort"]
    pub struct SortTagger {
        arch: SelfAttention,
        task: Tag { vocab: 16, max_len: 12, tags: 16 },
        d_model: 64,
        heads: 4,
        layers: 2,
        positional: Learned,
    }
}
