//! `sentiment-dot-attention`: the "basic attention" chapter as a model (unscaled scores).

use attn_runtime::attention_model;

attention_model! {
    /// Sentiment of short reviews from one unscaled dot-product attention head (basic attention).
    #[name = "sentiment-dot-attention", data = "sentiment"]
    pub struct SentimentDotAttention {
        arch: SingleHead,
        scoring: Dot,
        task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 32,
        positional: None,
    }
}
