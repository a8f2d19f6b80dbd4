//! `digits-vit`: a vision transformer (class token, pre-norm blocks with feed-forward networks)
//! over the 2×2 patches of 8×8 digit images.

use attn_runtime::attention_model;

attention_model! {
    /// Handwritten digits (8×8, scikit-learn's `digits`) with a small vision transformer reading a class token.
    #[name = "digits-vit", data = "digits"]
    pub struct DigitsVit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 8, width: 8, classes: 10 },
        patch: 2,
        d_model: 32,
        heads: 4,
        layers: 2,
        ff: 64,
        activation: Gelu,
        norm: Pre,
        pooling: Cls,
        dropout: 0.1,
    }
}
