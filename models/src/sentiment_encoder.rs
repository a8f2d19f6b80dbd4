//! `sentiment-encoder`: the "multi-head attention" chapter as a model.

use attn_runtime::attention_model;

attention_model! {
    /// Sentiment of short reviews from two layers of 4-head self-attention.
    #[name = "sentiment-encoder", data = "sentiment"]
    pub struct SentimentEncoder {
        arch: SelfAttention,
        task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64,
        heads: 4,
        layers: 2,
        positional: Sinusoidal,
        dropout: 0.1,
    }
}
