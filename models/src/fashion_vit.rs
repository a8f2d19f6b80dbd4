//! `fashion-vit`: a vision transformer on Fashion-MNIST's 28×28 clothing images.

use attn_runtime::attention_model;

attention_model! {
    /// Clothing images (Fashion-MNIST, 28×28) with a vision transformer over 7×7 patches, mean-pooled.
    #[name = "fashion-vit", data = "fashion-mnist"]
    pub struct FashionVit {
        arch: Transformer,
        task: ImageClassify { channels: 1, height: 28, width: 28, classes: 10 },
        patch: 7,
        d_model: 64,
        heads: 4,
        layers: 4,
        ff: 128,
        activation: Gelu,
        norm: Pre,
        pooling: Mean,
    }
}
