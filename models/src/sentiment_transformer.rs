//! `sentiment-transformer`: the "transformer layers" chapter as a text classifier.

use attn_runtime::attention_model;

attention_model! {
    /// Sentiment of short reviews from a 2-block pre-norm transformer encoder pooled at its first token.
    #[name = "sentiment-transformer", data = "sentiment"]
    pub struct SentimentTransformer {
        arch: Transformer,
        task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64,
        heads: 4,
        ff: 128,
        layers: 2,
        activation: Gelu,
        norm: Pre,
        positional: Sinusoidal,
        pooling: Cls,
        dropout: 0.1,
    }
}
