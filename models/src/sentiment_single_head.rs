//! `sentiment-single-head`: the "scaled dot-product attention" chapter as a model.

use attn_runtime::attention_model;

attention_model! {
    /// Sentiment of short reviews from one scaled dot-product attention head over word embeddings.
    #[name = "sentiment-single-head", data = "sentiment"]
    pub struct SentimentSingleHead {
        arch: SingleHead,
        scoring: Scaled,
        task: Classify { vocab: 4096, max_len: 64, classes: 2 },
        d_model: 64,
        positional: Sinusoidal,
        dropout: 0.1,
    }
}
