//! `digits-patches`: attention beyond sequences, over the 2×2 patches of 8×8 digit images.

use attn_runtime::attention_model;

attention_model! {
    /// Handwritten digits (8×8, scikit-learn's `digits`) from self-attention over 2×2 patches.
    #[name = "digits-patches", data = "digits"]
    pub struct DigitsPatches {
        arch: PatchAttention,
        task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        patch: 2,
        d_model: 32,
        heads: 4,
        layers: 2,
        positional: Learned,
        dropout: 0.1,
    }
}
